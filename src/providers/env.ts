import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider } from '../provider.js';

/** The process environment, read-only. `prefix` maps secret NAME to variable PREFIX + NAME. */
export default defineProvider(
  (raw, ctx) => ({
    prefix: new OptionReader(raw, `providers.${ctx.name}`).only('prefix').string('prefix') ?? '',
  }),
  ({ prefix }, ctx) => ({
    type: 'env',
    name: ctx.name,
    capabilities: { read: true, list: true, set: false, delete: false, versions: false },
    // Promise.resolve().then: a bad name rejects like any other backend's failure, never throws.
    get: (name) => Promise.resolve().then(() => ctx.env[prefix + assertSecretName(name)]),
    has: (name) => Promise.resolve().then(() => ctx.env[prefix + assertSecretName(name)] !== undefined),
    list: () =>
      Promise.resolve(
        Object.keys(ctx.env)
          .filter((k) => k.startsWith(prefix) && ctx.env[k] !== undefined)
          .map((k) => ({ name: k.slice(prefix.length), provider: ctx.name }))
          .sort((a, b) => (a.name < b.name ? -1 : 1)),
      ),
    probe: () =>
      Promise.resolve({
        usable: true,
        reason: prefix ? `variables named ${prefix}*` : 'the process environment (read-only)',
      }),
  }),
);
