import { dirname, resolve } from 'node:path';
import { findConfig, loadConfig } from '../../config.js';
import { WardenError } from '../../errors.js';
import {
  CLIENT_ID,
  KEY_ID,
  defaultKeyFile,
  resolveKeyFile,
  type KeyEntry,
} from '../../gateway/middleware/auth/key-file.js';
import { generateKey, hashKey, keyIdOf } from '../../gateway/middleware/auth/key-format.js';
import { json, usage, type Cli } from '../io.js';

/** What the `keys` commands share: the help, the key file's location, option parsing, printing a key. */

export const HELP = `Usage: mcp-warden keys <command> [options]

Gateway client API keys. A key is printed once, when it is made; the key file keeps only its
SHA-256 hash and metadata. Changes reach a running gateway within a second, without a restart.

Commands:
  create CLIENT_ID    make a key for a client; the key alone goes to stdout (KEY=$(mcp-warden keys create ci))
      --description TEXT       what the key is for
      --servers a,b            servers the client may reach (default all)
      --tools GLOB[,GLOB]      tools it may call, as globs over exposed names such as github__* (default all)
      --allow-destructive      it may call destructive tools even where the policy denies them
      --expires 90d|12h|30m|DATE   when the key stops working (default never)
      --json                   print {key, keyId, clientId, ...} instead
  ls                  list keys: id, client, times and state; never a key or a hash (--json)
  revoke CLIENT_ID|KEY_ID   stop every key of a client, or one key, now
  rotate CLIENT_ID    a new key with the same scope; the old ones keep working for --grace (default 24h; 0 ends them now)
      --expires ...            the new key's expiry (default: the old key's lifetime, from now)
      --json
  import FILE         turn a legacy .mcp_keys.json (plaintext keys) into hashed keys; disabled clients are imported revoked
      --remove                 delete FILE once the import is safely written

Every command takes --file F (the key file; default gateway.auth.keys of the config, else
$MCP_WARDEN_HOME/gateway-keys.json) and --config FILE.
`;

export interface Common {
  file?: string;
  config?: string;
}

export const FILE_OPTION = { file: { type: 'string' } } as const;

/** The key file: --file, else the config's gateway.auth.keys, else the data directory's. */
export async function keyFile(cli: Cli, v: Common): Promise<string> {
  if (v.file !== undefined) return resolve(v.file);
  const path = findConfig(v.config, cli.env);
  if (!path) return defaultKeyFile(cli.env);
  const { doc } = await loadConfig(path);
  const gateway = doc.gateway as { auth?: { keys?: unknown } } | undefined;
  const value = gateway?.auth?.keys;
  if (value === undefined || value === null) return defaultKeyFile(cli.env);
  if (typeof value !== 'string' || value.trim() === '')
    throw new WardenError(
      'CONFIG_INVALID',
      `${path}: gateway.auth.keys: expected "default" or the path of a key file`,
    );
  return resolveKeyFile(value.trim(), cli.env, dirname(path));
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90d`, `12h`, `30m`, `45s`, `2w`: milliseconds. */
export function duration(flag: string, text: string, allowZero: boolean): number {
  if (allowZero && text.trim() === '0') return 0;
  const m = /^(\d{1,9})([smhdw])$/.exec(text.trim());
  const ms = m ? Number(m[1]) * UNITS[m[2]!]! : NaN;
  if (!m || (ms === 0 && !allowZero))
    throw usage(
      `${flag} "${text}": expected a duration such as 90d, 12h, 30m or 45s${allowZero ? ' (or 0)' : ''}`,
    );
  return ms;
}

/** --expires: a duration from now, or an ISO date in the future. */
export function expiry(text: string, now: number): string {
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : now + duration('--expires', text, false);
  if (Number.isNaN(at))
    throw usage(`--expires "${text}": not a date; use 2027-01-31 or a duration such as 90d`);
  if (at <= now) throw usage(`--expires "${text}": that is in the past`);
  return new Date(at).toISOString();
}

export function clientId(args: string[], command: string): string {
  if (args.length !== 1) throw usage(`keys ${command} takes one CLIENT_ID; see --help`);
  const id = args[0]!;
  if (!CLIENT_ID.test(id) || KEY_ID.test(id))
    throw usage(
      `"${id}" is not a client id: a letter or digit, then letters, digits and _ . @ + : - (up to 128)`,
    );
  return id;
}

/** A key whose hash and id no other entry has. */
function newKey(entries: readonly KeyEntry[]): { key: string; hash: string; id: string } {
  for (;;) {
    const key = generateKey();
    const hash = hashKey(key);
    const id = keyIdOf(hash);
    if (!entries.some((e) => e.id === id || e.hash === hash)) return { key, hash, id };
  }
}

/** What a new key may reach and for how long (create's options, or the rotated key's). */
export type KeyScope = Pick<KeyEntry, 'expires' | 'description' | 'servers' | 'tools' | 'allowDestructive'>;

/** A new key for `clientId` and its entry (added to `entries`), with `scope`'s set fields. */
export function addKey(
  entries: KeyEntry[],
  clientId: string,
  now: number,
  scope: KeyScope,
): { key: string; entry: KeyEntry } {
  const k = newKey(entries);
  const entry: KeyEntry = {
    id: k.id,
    clientId,
    hash: k.hash,
    created: new Date(now).toISOString(),
    ...(scope.expires && { expires: scope.expires }),
    ...(scope.description !== undefined && { description: scope.description }),
    ...(scope.servers && { servers: scope.servers }),
    ...(scope.tools && { tools: scope.tools }),
    ...(scope.allowDestructive !== undefined && { allowDestructive: scope.allowDestructive }),
  };
  entries.push(entry);
  return { key: k.key, entry };
}

/** What create and rotate print: the key alone on stdout (or JSON), the rest on stderr. */
export function printKey(cli: Cli, asJson: boolean, key: string, e: KeyEntry, note: string): void {
  if (asJson) {
    // Everything but the hash.
    const { id, clientId, created, expires, description, servers, tools, allowDestructive } = e;
    cli.stdout(
      json({ key, keyId: id, clientId, created, expires, description, servers, tools, allowDestructive }),
    );
  } else cli.stdout(`${key}\n`);
  const scope = [
    e.expires && `expires ${e.expires}`,
    e.servers && `servers ${e.servers.join(',')}`,
    e.tools && `tools ${e.tools.join(',')}`,
    e.allowDestructive && 'destructive tools allowed',
  ].filter(Boolean);
  cli.stderr(
    `${note}${scope.length > 0 ? ` (${scope.join('; ')})` : ''}; the key is shown only now: store it safely\n`,
  );
}
