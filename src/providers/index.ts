import type { ProviderDefinition } from '../provider.js';

/**
 * Backend types by name. Each module is imported only when an instance of its type is first
 * used, so `secret get` from the file store loads neither the keychain addon nor any SDK.
 */
const loaders = {
  file: () => import('./file.js'),
  keychain: () => import('./keychain.js'),
  'credential-helper': () => import('./credential-helper.js'),
  dir: () => import('./dir.js'),
  dotenv: () => import('./dotenv.js'),
  env: () => import('./env.js'),
  swarm: () => import('./swarm.js'),
} satisfies Record<string, () => Promise<{ default: ProviderDefinition }>>;

export type ProviderType = keyof typeof loaders;

export const providerTypes = Object.keys(loaders) as ProviderType[];

export function isProviderType(type: string): type is ProviderType {
  return Object.hasOwn(loaders, type);
}

export async function loadProviderType(type: ProviderType): Promise<ProviderDefinition> {
  return (await loaders[type]()).default;
}
