import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findConfig, loadConfig, type Config } from '../config.js';
import { WardenError } from '../errors.js';
import { dataHome } from '../paths.js';
import { Store, type ProviderSpec } from './store.js';

/**
 * Whether this platform has an OS keychain worth asking: always on macOS and Windows; on Linux
 * only with a D-Bus session bus (Secret Service lives there). Cheap: no D-Bus call is made.
 */
export function keychainPresent(env: NodeJS.ProcessEnv): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  if (env.DBUS_SESSION_BUS_ADDRESS) return true;
  return !!env.XDG_RUNTIME_DIR && existsSync(join(env.XDG_RUNTIME_DIR, 'bus'));
}

/**
 * The chain without a config: the encrypted file store `local` (a stat when the name is absent,
 * so it goes first), the OS keychain `keychain` where the platform has one, then the process
 * environment `env` (read-only).
 */
export function defaultChain(env: NodeJS.ProcessEnv): ProviderSpec[] {
  const chain: ProviderSpec[] = [{ name: 'local', type: 'file', options: {} }];
  if (keychainPresent(env)) chain.push({ name: 'keychain', type: 'keychain', options: {} });
  chain.push({ name: 'env', type: 'env', options: {} });
  return chain;
}

export interface OpenOptions {
  config?: string;
  /** An entry of the config's `environments`, whose `providers` list picks and orders the chain. */
  environment?: string;
  env?: NodeJS.ProcessEnv;
  warn?: (message: string) => void;
}

export async function openStore(
  opts: OpenOptions = {},
): Promise<Store & { configPath?: string; config?: Config }> {
  const env = opts.env ?? process.env;
  const path = findConfig(opts.config, env);
  const config = path ? await loadConfig(path) : undefined;
  let specs = config?.providers ?? defaultChain(env);
  if (opts.environment !== undefined) specs = environmentChain(config, opts.environment, specs);
  const store = new Store({
    specs,
    home: dataHome(env),
    env,
    warn: opts.warn ?? (() => undefined),
  });
  return Object.assign(store, path ? { configPath: path, config } : {});
}

/**
 * `environments: { staging: { providers: [vault, local] } }` (or `provider: vault`): that
 * environment looks secrets up in those providers, in that order.
 */
function environmentChain(config: Config | undefined, name: string, specs: ProviderSpec[]): ProviderSpec[] {
  const where = config ? `${config.path}: environments.${name}` : `environment "${name}"`;
  const envs = config?.doc.environments;
  const entry = envs && typeof envs === 'object' ? (envs as Record<string, unknown>)[name] : undefined;
  if (!entry || typeof entry !== 'object') {
    const known = envs && typeof envs === 'object' ? Object.keys(envs).join(', ') : '';
    throw new WardenError('CONFIG_INVALID', `${where} is not defined${known ? ` (defined: ${known})` : ''}`);
  }
  const e = entry as { providers?: unknown; provider?: unknown };
  const wanted = e.providers ?? (e.provider !== undefined ? [e.provider] : undefined);
  if (wanted === undefined) return specs;
  if (!Array.isArray(wanted) || !wanted.every((w): w is string => typeof w === 'string')) {
    throw new WardenError('CONFIG_INVALID', `${where}.providers: a list of provider names`);
  }
  return wanted.map((w) => {
    const spec = specs.find((s) => s.name === w);
    if (!spec)
      throw new WardenError(
        'CONFIG_INVALID',
        `${where}: no provider named "${w}" (configured: ${specs.map((s) => s.name).join(', ')})`,
      );
    return spec;
  });
}
