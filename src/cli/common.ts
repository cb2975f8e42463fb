import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config.js';
import { WardenError } from '../errors.js';
import { configCandidates } from '../paths.js';
import type { ServerConfig } from '../servers/schema.js';
import { openStore } from '../store/open.js';
import type { SecretProvider } from '../provider.js';
import type { Store } from '../store/store.js';
import { usage, type Cli } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

const GLOBAL: Options = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export interface Parsed<V> {
  values: V & { config?: string; help?: boolean };
  positionals: string[];
}

/** util.parseArgs with the global options added and its errors turned into usage errors (exit 2). */
/** Prints `help` and answers undefined for --help. */
export function parse<V>(cli: Cli, args: string[], options: Options, help: string): Parsed<V> | undefined {
  if (args.length === 0) {
    // Nothing to parse (`run -- CMD`): util.parseArgs, cold, spends most of a millisecond on it.
    const defaults = Object.entries(options).filter(([, o]) => o.default !== undefined);
    const values = Object.fromEntries(defaults.map(([k, o]) => [k, o.default]));
    return { values, positionals: [] } as unknown as Parsed<V>;
  }
  let out;
  try {
    out = parseArgs({ args, options: { ...GLOBAL, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage(`${(err as Error).message.split('\n')[0]}; see --help`);
  }
  if (out.values.help) {
    cli.stdout(help);
    return undefined;
  }
  return out as unknown as Parsed<V>;
}

/** The store; of the Cli it needs only the environment and a place for warnings. */
export function openCliStore(
  cli: Pick<Cli, 'env' | 'stderr'>,
  config: string | undefined,
  environment?: string,
): Promise<Store & { config?: Config }> {
  return openStore({
    env: cli.env,
    warn: (m) => cli.stderr(`mcp-warden: warning: ${m}\n`),
    ...(config !== undefined && { config }),
    ...(environment !== undefined && { environment }),
  });
}

/** The store and the configured servers; a command about servers needs a config file. */
export async function openServers(
  cli: Cli,
  config: string | undefined,
  environment?: string,
): Promise<{ store: Store; servers: ServerConfig[]; config: Config }> {
  const store = await openCliStore(cli, config, environment);
  if (!store.config) {
    throw new WardenError(
      'CONFIG_INVALID',
      `no config found (looked for ${configCandidates(cli.env).join(', ')}); create one or pass --config FILE`,
    );
  }
  const { parseServers } = await import('../servers/schema.js');
  return { store, servers: await parseServers(store.config.path, store.config.doc), config: store.config };
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** A provider that can store secrets, or PROVIDER_READ_ONLY naming it. */
export function writable(p: SecretProvider): SecretProvider & Required<Pick<SecretProvider, 'set'>> {
  if (!p.capabilities.set || !p.set)
    throw new WardenError('PROVIDER_READ_ONLY', `provider "${p.name}" (${p.type}) is read-only`);
  return p as SecretProvider & Required<Pick<SecretProvider, 'set'>>;
}

/** Where a bulk import writes: `--provider P`, else the provider `secret diagnose` recommends. */
export async function importTarget(
  store: Store,
  explicit: string | undefined,
): Promise<SecretProvider & Required<Pick<SecretProvider, 'set'>>> {
  return writable(explicit ? await store.provider(explicit) : (await store.recommended()).provider);
}
