import { existsSync, promises as fsp } from 'node:fs';
import { WardenError, describe } from './errors.js';
import { configCandidates } from './paths.js';
import type { ProviderSpec } from './store/store.js';

/**
 * The parts of the config this release reads: the `providers` section (named backend instances,
 * in lookup order). YAML, or JSON such as a Claude Desktop config; the YAML parser is loaded only
 * when a config file exists.
 */
export interface Config {
  path: string;
  /** The whole parsed document; sections other than `providers` are validated by their users. */
  doc: Record<string, unknown>;
  providers?: ProviderSpec[];
}

export function findConfig(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (explicit) return explicit;
  return configCandidates(env).find((p) => existsSync(p));
}

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    throw new WardenError('CONFIG_INVALID', `cannot read config ${path} (${describe(err)})`);
  }
  let doc: unknown;
  try {
    if (/\.json$/i.test(path) || /^\s*\{/.test(text)) doc = JSON.parse(text);
    else doc = (await import('yaml')).parse(text);
  } catch (err) {
    throw new WardenError(
      'CONFIG_INVALID',
      `${path}: not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'} (${describe(err).split('\n')[0]})`,
    );
  }
  if (doc === null || doc === undefined) return { path, doc: {} };
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new WardenError('CONFIG_INVALID', `${path}: the top level must be a mapping`);
  const raw = (doc as Record<string, unknown>).providers;
  if (raw === undefined || raw === null) return { path, doc: doc as Record<string, unknown> };
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new WardenError('CONFIG_INVALID', `${path}: providers must be a mapping of name to settings`);
  const providers: ProviderSpec[] = [];
  for (const [name, settings] of Object.entries(raw as Record<string, unknown>)) {
    const where = `${path}: providers.${name}`;
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(name))
      throw new WardenError(
        'CONFIG_INVALID',
        `${where}: a provider name is a letter, then letters, digits, _ or -`,
      );
    if (!settings || typeof settings !== 'object' || Array.isArray(settings))
      throw new WardenError('CONFIG_INVALID', `${where}: must be a mapping with a type`);
    const options = settings as Record<string, unknown>;
    if (typeof options.type !== 'string')
      throw new WardenError(
        'CONFIG_INVALID',
        `${where}.type: missing (file, keychain, credential-helper, dir, dotenv, env)`,
      );
    providers.push({ name, type: options.type, options });
  }
  if (providers.length === 0)
    throw new WardenError(
      'CONFIG_INVALID',
      `${path}: providers is empty; remove it to use the default chain`,
    );
  return { path, doc: doc as Record<string, unknown>, providers };
}
