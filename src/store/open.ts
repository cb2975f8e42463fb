import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findConfig, loadConfig } from '../config.js';
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
  env?: NodeJS.ProcessEnv;
  warn?: (message: string) => void;
}

export async function openStore(opts: OpenOptions = {}): Promise<Store & { configPath?: string }> {
  const env = opts.env ?? process.env;
  const path = findConfig(opts.config, env);
  const config = path ? await loadConfig(path) : undefined;
  const store = new Store({
    specs: config?.providers ?? defaultChain(env),
    home: dataHome(env),
    env,
    warn: opts.warn ?? (() => undefined),
  });
  return Object.assign(store, path ? { configPath: path } : {});
}
