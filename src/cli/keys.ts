import { promises as fsp } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { findConfig, loadConfig } from '../config.js';
import { WardenError, describe } from '../errors.js';
import { readUserFile } from '../fsutil.js';
import {
  CLIENT_ID,
  KEY_ID,
  SERVER_NAME,
  TOOL_GLOB,
  defaultKeyFile,
  legacyEntries,
  parseJson,
  parseLegacy,
  readKeyFile,
  resolveKeyFile,
  updateKeyFile,
  type KeyEntry,
} from '../gateway/middleware/auth/key-file.js';
import { generateKey, hashKey, keyIdOf } from '../gateway/middleware/auth/key-format.js';
import { parse, plural } from './common.js';
import { json, table, usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden keys <command> [options]

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

interface Common {
  file?: string;
  config?: string;
}

const FILE_OPTION = { file: { type: 'string' } } as const;

/** The key file: --file, else the config's gateway.auth.keys, else the data directory's. */
async function keyFile(cli: Cli, v: Common): Promise<string> {
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
function duration(flag: string, text: string, allowZero: boolean): number {
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
function expiry(text: string, now: number): string {
  const at = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : now + duration('--expires', text, false);
  if (Number.isNaN(at))
    throw usage(`--expires "${text}": not a date; use 2027-01-31 or a duration such as 90d`);
  if (at <= now) throw usage(`--expires "${text}": that is in the past`);
  return new Date(at).toISOString();
}

/** Values of a repeatable, comma-separated option, each checked against `re`. */
function list(flag: string, values: string[] | undefined, re: RegExp, what: string): string[] | undefined {
  if (values === undefined) return undefined;
  const out = values.flatMap((v) => v.split(',')).map((s) => s.trim());
  const bad = out.find((s) => !re.test(s));
  if (bad !== undefined) throw usage(`${flag}: "${bad}" is not ${what}`);
  return [...new Set(out)];
}

function clientId(args: string[], command: string): string {
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

function endOf(e: KeyEntry): number | undefined {
  const ends = [e.expires, e.notAfter].filter((x) => x !== undefined).map((x) => Date.parse(x));
  return ends.length > 0 ? Math.min(...ends) : undefined;
}

function usable(e: KeyEntry, now: number): boolean {
  const end = endOf(e);
  return e.revokedAt === undefined && (end === undefined || now < end);
}

export function stateOf(e: KeyEntry, now: number): { state: string; until?: string } {
  if (e.revokedAt !== undefined && Date.parse(e.revokedAt) <= now) return { state: 'revoked' };
  if (e.expires !== undefined && Date.parse(e.expires) <= now) return { state: 'expired' };
  if (e.notAfter !== undefined)
    return Date.parse(e.notAfter) <= now
      ? { state: 'rotated-out' }
      : { state: 'rotating-out', until: e.notAfter };
  return { state: 'active' };
}

/** What create and rotate print: the key alone on stdout (or JSON), the rest on stderr. */
function printKey(cli: Cli, asJson: boolean, key: string, e: KeyEntry, note: string): void {
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

async function create(args: string[], cli: Cli): Promise<number> {
  const p = parse<
    Common & {
      description?: string;
      servers?: string[];
      tools?: string[];
      'allow-destructive'?: boolean;
      expires?: string;
      json?: boolean;
    }
  >(
    cli,
    args,
    {
      ...FILE_OPTION,
      description: { type: 'string' },
      servers: { type: 'string', multiple: true },
      tools: { type: 'string', multiple: true },
      'allow-destructive': { type: 'boolean' },
      expires: { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (!p) return 0;
  const v = p.values;
  const id = clientId(p.positionals, 'create');
  const now = Date.now();
  const servers = list('--servers', v.servers, SERVER_NAME, 'a server name');
  const tools = list('--tools', v.tools, TOOL_GLOB, 'a tool glob (letters, digits, _ . - * ?)');
  const expires = v.expires !== undefined ? expiry(v.expires, now) : undefined;
  if (v.description !== undefined && /[\r\n]/.test(v.description))
    throw usage('--description: one line, please');
  const file = await keyFile(cli, v);
  const made = await updateKeyFile(file, (entries) => {
    const k = newKey(entries);
    const entry: KeyEntry = {
      id: k.id,
      clientId: id,
      hash: k.hash,
      created: new Date(now).toISOString(),
      ...(expires && { expires }),
      ...(v.description !== undefined && { description: v.description }),
      ...(servers && { servers }),
      ...(tools && { tools }),
      ...(v['allow-destructive'] && { allowDestructive: true }),
    };
    entries.push(entry);
    return { key: k.key, entry };
  });
  printKey(cli, v.json === true, made.key, made.entry, `created key ${made.entry.id} for client ${id}`);
  return 0;
}

async function ls(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common & { json?: boolean }>(
    cli,
    args,
    { ...FILE_OPTION, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  if (p.positionals.length > 0) throw usage('keys ls takes no arguments; see --help');
  const file = await keyFile(cli, p.values);
  const content = await readKeyFile(file);
  let entries: KeyEntry[] = [];
  if (content.kind === 'legacy') {
    cli.stderr(
      `mcp-warden: warning: ${file} is a legacy .mcp_keys.json with plaintext keys; convert it with mcp-warden keys import ${file}\n`,
    );
    entries = legacyEntries(content.clients);
  } else if (content.kind === 'keys') entries = content.entries;
  const now = Date.now();
  // Never the hash, never a key: the id is all a listing names a key by.
  const rows = entries.map((e) => ({
    keyId: e.id,
    clientId: e.clientId,
    created: e.created,
    ...(e.expires !== undefined && { expires: e.expires }),
    ...stateOf(e, now),
    ...(e.revokedAt !== undefined && { revokedAt: e.revokedAt }),
    ...(e.description !== undefined && { description: e.description }),
    ...(e.servers !== undefined && { servers: e.servers }),
    ...(e.tools !== undefined && { tools: e.tools }),
    ...(e.allowDestructive !== undefined && { allowDestructive: e.allowDestructive }),
    ...(e.legacy && { legacy: true }),
  }));
  if (p.values.json) cli.stdout(json(rows));
  else if (rows.length === 0) cli.stderr(`no keys in ${file}\n`);
  else
    cli.stdout(
      table(
        ['KEY ID', 'CLIENT', 'CREATED', 'EXPIRES', 'STATE', 'SCOPE', 'DESCRIPTION'],
        rows.map((r) => [
          r.keyId,
          r.clientId,
          r.created,
          r.expires ?? '-',
          r.until ? `${r.state} until ${r.until}` : r.state,
          [
            r.servers && `servers=${r.servers.join(',')}`,
            r.tools && `tools=${r.tools.join(',')}`,
            r.allowDestructive && 'destructive',
          ]
            .filter(Boolean)
            .join(' ') || 'all',
          r.description ?? '',
        ]),
      ),
    );
  return 0;
}

async function revoke(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common>(cli, args, FILE_OPTION, HELP);
  if (!p) return 0;
  if (p.positionals.length !== 1) throw usage('keys revoke takes one CLIENT_ID or KEY_ID; see --help');
  const target = p.positionals[0]!;
  const byKey = KEY_ID.test(target);
  if (!byKey && !CLIENT_ID.test(target))
    throw usage(`"${target}" is neither a client id nor a key id (k_ and 8 hex)`);
  const file = await keyFile(cli, p.values);
  const at = new Date().toISOString();
  const { matched, revoked } = await updateKeyFile(file, (entries) => {
    const matched = entries.filter((e) => (byKey ? e.id === target : e.clientId === target));
    const revoked = matched.filter((e) => e.revokedAt === undefined);
    for (const e of revoked) e.revokedAt = at;
    return { matched: matched.length, revoked: revoked.map((e) => e.id) };
  });
  if (matched === 0)
    throw new WardenError(
      'KEY_UNKNOWN',
      `no key ${byKey ? target : `of client ${target}`} in ${file}; see keys ls`,
    );
  if (revoked.length === 0)
    cli.stderr(`nothing to revoke: ${byKey ? target : `every key of ${target}`} is already revoked\n`);
  else cli.stderr(`revoked ${plural(revoked.length, 'key')}: ${revoked.join(', ')}\n`);
  return 0;
}

async function rotate(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common & { grace?: string; expires?: string; json?: boolean }>(
    cli,
    args,
    { ...FILE_OPTION, grace: { type: 'string' }, expires: { type: 'string' }, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  const id = clientId(p.positionals, 'rotate');
  const now = Date.now();
  const grace = duration('--grace', p.values.grace ?? '24h', true);
  const explicit = p.values.expires !== undefined ? expiry(p.values.expires, now) : undefined;
  const file = await keyFile(cli, p.values);
  const made = await updateKeyFile(file, (entries) => {
    const old = entries.filter((e) => e.clientId === id && usable(e, now));
    if (old.length === 0)
      throw new WardenError(
        'KEY_UNKNOWN',
        `client ${id} has no active key to rotate; make one with keys create ${id}`,
      );
    const template = old.reduce((a, b) => (Date.parse(b.created) > Date.parse(a.created) ? b : a));
    // The new key lives as long as the old one was meant to, counted from now.
    const lifetime = template.expires && Date.parse(template.expires) - Date.parse(template.created);
    const expires = explicit ?? (lifetime ? new Date(now + lifetime).toISOString() : undefined);
    const notAfter = new Date(now + grace).toISOString();
    for (const e of old)
      if (e.notAfter === undefined || Date.parse(e.notAfter) > now + grace) e.notAfter = notAfter;
    const k = newKey(entries);
    const entry: KeyEntry = {
      id: k.id,
      clientId: id,
      hash: k.hash,
      created: new Date(now).toISOString(),
      ...(expires && { expires }),
      ...(template.description !== undefined && { description: template.description }),
      ...(template.servers && { servers: template.servers }),
      ...(template.tools && { tools: template.tools }),
      ...(template.allowDestructive !== undefined && { allowDestructive: template.allowDestructive }),
    };
    entries.push(entry);
    return { key: k.key, entry, old: old.map((e) => e.id), notAfter };
  });
  const ends =
    grace === 0
      ? 'stopped working now'
      : `${made.old.length === 1 ? 'keeps' : 'keep'} working until ${made.notAfter}`;
  printKey(
    cli,
    p.values.json === true,
    made.key,
    made.entry,
    `rotated client ${id}: new key ${made.entry.id}; ${made.old.join(', ')} ${ends}`,
  );
  return 0;
}

async function importLegacy(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common & { remove?: boolean }>(
    cli,
    args,
    { ...FILE_OPTION, remove: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  if (p.positionals.length !== 1) throw usage('keys import takes one FILE (a .mcp_keys.json); see --help');
  const source = resolve(p.positionals[0]!);
  const doc = parseJson((await readUserFile(source)).toString('utf8'), source);
  const clients = parseLegacy(doc, source);
  if (!clients)
    throw new WardenError(
      'INVALID_VALUE',
      `${source}: not a .mcp_keys.json (expected {"clients": [{"api_key", "client_id", ...}]} or a list of clients)`,
    );
  const file = await keyFile(cli, p.values);
  const inPlace = source === file;
  const incoming = legacyEntries(clients);
  const { added, present } = await updateKeyFile(
    file,
    (entries) => {
      let present = 0;
      const added: KeyEntry[] = [];
      for (const e of incoming) {
        if (entries.some((x) => x.hash === e.hash)) present++;
        else if (entries.some((x) => x.id === e.id))
          throw new WardenError(
            'CONFIG_INVALID',
            `two different keys have the id ${e.id}; import this client by hand`,
          );
        else added.push(e);
      }
      entries.push(...added);
      return { added, present };
    },
    { replaceLegacy: inPlace },
  );
  const disabled = added.filter((e) => e.revokedAt !== undefined).length;
  cli.stderr(
    `imported ${plural(added.length, 'key')} into ${file}` +
      (disabled > 0 ? ` (${disabled} disabled, imported revoked)` : '') +
      (present > 0 ? `; ${present} already there` : '') +
      '\n',
  );
  if (inPlace) cli.stderr(`${file} now holds only hashes\n`);
  else if (p.values.remove) {
    await fsp.rm(source).catch((err: unknown) => {
      throw new WardenError(
        'STORE_IO',
        `imported, but cannot delete ${source} (${describe(err)}); delete it yourself`,
      );
    });
    cli.stderr(`deleted ${source}\n`);
  } else
    cli.stderr(`${source} still holds these keys in plaintext: delete it now (or rerun with --remove)\n`);
  return 0;
}

const COMMANDS: Record<string, (args: string[], cli: Cli) => Promise<number>> = {
  create,
  ls,
  revoke,
  rotate,
  import: importLegacy,
};

export async function run(args: string[], cli: Cli): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    cli.stdout(HELP);
    return sub === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, sub) ? COMMANDS[sub] : undefined;
  if (!command) throw usage(`unknown command "keys ${sub}" (known: ${Object.keys(COMMANDS).join(', ')})`);
  return command(rest, cli);
}
