import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { WardenError, describe, errnoCode } from '../errors.js';
import { atomicWrite, readIfExists } from '../fsutil.js';
import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretProvider } from '../provider.js';
import { dotenvParse, editDotenv } from '../store/dotenv-edit.js';

/** A `.env` file, read with the dotenv library's own rules and edited in place. */
export default defineProvider(
  (raw, ctx) => ({
    path: resolve(new OptionReader(raw, `providers.${ctx.name}`).only('path').string('path') ?? '.env'),
  }),
  ({ path }, ctx): SecretProvider => {
    async function read(): Promise<string | undefined> {
      return (await readIfExists(path))?.toString('utf8');
    }
    async function parsed(): Promise<Record<string, string>> {
      const text = await read();
      return text === undefined ? {} : dotenvParse(text);
    }
    async function write(next: string): Promise<void> {
      const mode = await fsp
        .stat(path)
        .then((st) => st.mode & 0o777)
        .catch((err: unknown) => {
          if (errnoCode(err) === 'ENOENT') return 0o600;
          throw new WardenError('STORE_IO', `cannot stat ${path} (${describe(err)})`);
        });
      await atomicWrite(path, next, mode);
    }

    return {
      type: 'dotenv',
      name: ctx.name,
      capabilities: { read: true, list: true, set: true, delete: true, versions: false },
      async get(name) {
        assertSecretName(name);
        const env = await parsed();
        return Object.hasOwn(env, name) ? env[name] : undefined;
      },
      async has(name) {
        return (await this.get(name)) !== undefined;
      },
      async inspect(name) {
        return (await this.has(name)) ? { name, provider: ctx.name } : undefined;
      },
      async set(name, value) {
        assertSecretName(name);
        await write(editDotenv((await read()) ?? '', name, value, path));
        return { name, provider: ctx.name };
      },
      async delete(name) {
        assertSecretName(name);
        const text = await read();
        if (text === undefined || !Object.hasOwn(dotenvParse(text), name)) return false;
        await write(editDotenv(text, name, undefined, path));
        return true;
      },
      async list() {
        return Object.keys(await parsed())
          .sort()
          .map((name) => ({ name, provider: ctx.name }));
      },
      async probe() {
        const text = await read().catch(() => undefined);
        return text === undefined
          ? { usable: false, reason: `${path} does not exist` }
          : { usable: true, reason: `${path}` };
      },
    };
  },
);
