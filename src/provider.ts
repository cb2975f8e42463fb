/**
 * The contract every backend implements. The required core is `get` and `has`; everything else
 * is optional and announced through `capabilities`, so a read-only backend (env, dir) is legal.
 */

export interface SecretMeta {
  name: string;
  /** The provider instance that holds it. */
  provider: string;
  created?: string;
  updated?: string;
  version?: number;
}

export interface Capabilities {
  /** Values can be read back (false for Swarm secrets, which are only mounted into services). */
  read: boolean;
  list: boolean;
  set: boolean;
  delete: boolean;
  /** The backend records a version number per secret. */
  versions: boolean;
}

export interface ProbeResult {
  usable: boolean;
  /** Why it is usable or not, one line, for `secret diagnose`. */
  reason: string;
}

export interface SecretProvider {
  /** Backend type, e.g. `file`. */
  readonly type: string;
  /** Instance name, e.g. `local`. */
  readonly name: string;
  readonly capabilities: Capabilities;
  /** The value, or undefined when the backend answers "not there". Any other failure throws. */
  get(name: string): Promise<string | undefined>;
  has(name: string): Promise<boolean>;
  /**
   * Reads a `secret://INSTANCE/PATH` reference. Backends whose paths are more than a secret name
   * (a file below a directory, a Kubernetes namespace/secret) implement it; otherwise PATH must
   * be a valid secret name and `get` answers.
   */
  getPath?(path: string): Promise<string | undefined>;
  list?(): Promise<SecretMeta[]>;
  inspect?(name: string): Promise<SecretMeta | undefined>;
  set?(name: string, value: string): Promise<SecretMeta>;
  /** True when something was removed, false when there was nothing to remove. */
  delete?(name: string): Promise<boolean>;
  /** Whether the backend can be used on this machine right now, for `secret diagnose`. */
  probe?(): Promise<ProbeResult>;
}

export interface ProviderContext {
  /** Instance name from config, or the built-in default name. */
  name: string;
  /** mcp-warden's data directory (PRODUCT.md "Files and environment"). */
  home: string;
  env: NodeJS.ProcessEnv;
  /** Non-fatal findings (a world-readable secret file); the CLI prints them on stderr. */
  warn: (message: string) => void;
}

export type ProviderFactory<O> = (options: O, ctx: ProviderContext) => SecretProvider;

/** A backend module's default export: a factory plus a check of its options, run at build time. */
export interface ProviderDefinition {
  create(options: Record<string, unknown>, ctx: ProviderContext): SecretProvider;
}

export function defineProvider<O>(
  parse: (raw: Record<string, unknown>, ctx: ProviderContext) => O,
  factory: ProviderFactory<O>,
): ProviderDefinition {
  return { create: (raw, ctx) => factory(parse(raw, ctx), ctx) };
}
