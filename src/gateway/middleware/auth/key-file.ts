import { promises as fsp } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { WardenError, describe, errnoCode } from '../../../errors.js';
import { atomicWrite, ensurePrivateDir, withLock } from '../../../fsutil.js';
import { dataHome } from '../../../paths.js';
import { hashKey, keyIdOf } from './key-format.js';

/** The key file of gateway client API keys: hashes and metadata only (and the legacy `.mcp_keys.json`). */

/** One key in the key file. Times are ISO 8601. */
export interface KeyEntry {
  id: string;
  clientId: string;
  /** SHA-256 of the key, hex. */
  hash: string;
  created: string;
  expires?: string;
  description?: string;
  servers?: string[];
  tools?: string[];
  allowDestructive?: boolean;
  revokedAt?: string;
  /** A rotated-out key works until this time (the grace period's end). */
  notAfter?: string;
  /** Imported from a `.mcp_keys.json`: the key has no `mcpw_` shape. */
  legacy?: boolean;
}

export const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9_.@+:-]{0,127}$/;
export const KEY_ID = /^k_[0-9a-f]{8}$/;
export const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
export const TOOL_GLOB = /^[A-Za-z0-9_.*?-]{1,200}$/;

export const KEY_FILE_FORMAT = 'mcp-warden-keys';
export const KEY_FILE_VERSION = 1;

/** `$MCP_WARDEN_HOME/gateway-keys.json` (the data directory, see paths.ts). */
export function defaultKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataHome(env), 'gateway-keys.json');
}

/** `gateway.auth.keys`: `default`, or a path (a relative one from `baseDir`). */
export function resolveKeyFile(
  value: string,
  env: NodeJS.ProcessEnv = process.env,
  baseDir?: string,
): string {
  if (value === 'default') return defaultKeyFile(env);
  return isAbsolute(value) ? value : resolve(baseDir ?? process.cwd(), value);
}

/** A client of the older `.mcp_keys.json` (its plaintext key included). */
export interface LegacyClient {
  apiKey: string;
  clientId: string;
  description?: string;
  enabled: boolean;
}

export type KeyFile =
  { kind: 'keys'; entries: KeyEntry[] } | { kind: 'legacy'; clients: LegacyClient[] } | { kind: 'absent' };

const fail = (path: string, what: string) => new WardenError('CONFIG_INVALID', `${path}: ${what}`);

/** `{"clients": [...]}` or a top-level array of clients with `api_key`; undefined for another shape. */
export function parseLegacy(doc: unknown, path: string): LegacyClient[] | undefined {
  const clients =
    doc && typeof doc === 'object' && !('format' in doc) && (doc as { clients?: unknown }).clients;
  const list: unknown[] | undefined = Array.isArray(doc) ? doc : Array.isArray(clients) ? clients : undefined;
  if (!list) return undefined;
  const seen = new Map<string, number>();
  return list.map((raw, i) => {
    const where = `clients[${i}]`;
    if (!raw || typeof raw !== 'object')
      throw fail(path, `${where}: expected an object with api_key and client_id`);
    const c = raw as Record<string, unknown>;
    if (typeof c.api_key !== 'string' || c.api_key.length === 0 || c.api_key.length > 4096)
      throw fail(path, `${where}.api_key: expected a non-empty string`);
    if (typeof c.client_id !== 'string' || !CLIENT_ID.test(c.client_id) || KEY_ID.test(c.client_id))
      throw fail(path, `${where}.client_id: expected letters, digits and _ . @ + : - (up to 128)`);
    if (c.description !== undefined && typeof c.description !== 'string')
      throw fail(path, `${where}.description: expected a string`);
    if (c.enabled !== undefined && typeof c.enabled !== 'boolean')
      throw fail(path, `${where}.enabled: expected true or false`);
    const twin = seen.get(c.api_key);
    if (twin !== undefined) throw fail(path, `clients[${twin}] and ${where} have the same api_key`);
    seen.set(c.api_key, i);
    return {
      apiKey: c.api_key,
      clientId: c.client_id,
      ...(typeof c.description === 'string' && { description: c.description }),
      enabled: c.enabled !== false,
    };
  });
}

/** Legacy clients as key entries: hashed, disabled ones revoked. */
export function legacyEntries(clients: readonly LegacyClient[], now = new Date()): KeyEntry[] {
  const at = now.toISOString();
  return clients.map((c) => {
    const h = hashKey(c.apiKey);
    return {
      id: keyIdOf(h),
      clientId: c.clientId,
      hash: h,
      created: at,
      ...(c.description !== undefined && { description: c.description }),
      ...(!c.enabled && { revokedAt: at }),
      legacy: true,
    };
  });
}

function isTime(v: unknown): v is string {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

function checkEntry(raw: unknown, where: string, path: string): KeyEntry {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw fail(path, `${where}: expected an object`);
  const e = raw as Record<string, unknown>;
  if (typeof e.id !== 'string' || !KEY_ID.test(e.id)) throw fail(path, `${where}.id: expected k_ and 8 hex`);
  if (typeof e.clientId !== 'string' || !CLIENT_ID.test(e.clientId))
    throw fail(path, `${where}.clientId: not a client id`);
  if (typeof e.hash !== 'string' || !/^[0-9a-f]{64}$/.test(e.hash))
    throw fail(path, `${where}.hash: expected 64 hex characters (SHA-256)`);
  for (const t of ['created', 'expires', 'revokedAt', 'notAfter'] as const)
    if ((t === 'created' || e[t] !== undefined) && !isTime(e[t]))
      throw fail(path, `${where}.${t}: expected an ISO 8601 time`);
  for (const [list, re] of [
    ['servers', SERVER_NAME],
    ['tools', TOOL_GLOB],
  ] as const) {
    const v = e[list];
    if (v !== undefined && (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && re.test(s))))
      throw fail(path, `${where}.${list}: expected a list of names`);
  }
  if (e.description !== undefined && typeof e.description !== 'string')
    throw fail(path, `${where}.description: expected a string`);
  for (const b of ['allowDestructive', 'legacy'] as const)
    if (e[b] !== undefined && typeof e[b] !== 'boolean')
      throw fail(path, `${where}.${b}: expected true or false`);
  return e as unknown as KeyEntry;
}

/**
 * JSON.parse for a file that may hold plaintext keys: V8's message quotes the text around the
 * error, so only the position is kept.
 */
export function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = /line \d+ column \d+|position \d+/.exec(err instanceof Error ? err.message : '');
    throw new WardenError('INVALID_VALUE', `${path}: not valid JSON${at ? ` (at ${at[0]})` : ''}`);
  }
}

/** Parses a key file's text: ours, or a legacy `.mcp_keys.json` recognised by its shape. */
export function parseKeyFile(text: string, path: string): KeyFile {
  const doc = parseJson(text, path);
  const legacy = parseLegacy(doc, path);
  if (legacy) return { kind: 'legacy', clients: legacy };
  const d = doc as Record<string, unknown> | null;
  if (!d || typeof d !== 'object' || d.format !== KEY_FILE_FORMAT)
    throw fail(path, `not a key file (expected "format": "${KEY_FILE_FORMAT}", or a legacy .mcp_keys.json)`);
  if (typeof d.version !== 'number' || d.version > KEY_FILE_VERSION)
    throw fail(path, `key file version ${String(d.version)} is not supported; upgrade mcp-warden`);
  if (!Array.isArray(d.keys)) throw fail(path, 'keys: expected a list');
  const ids = new Set<string>();
  const entries = d.keys.map((k, i) => {
    const e = checkEntry(k, `keys[${i}]`, path);
    if (ids.has(e.id)) throw fail(path, `keys[${i}].id: ${e.id} appears twice`);
    ids.add(e.id);
    return e;
  });
  return { kind: 'keys', entries };
}

/** Reads the key file; `absent` when there is none yet. */
export async function readKeyFile(path: string): Promise<KeyFile> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'absent' };
    throw new WardenError('STORE_IO', `cannot read ${path} (${describe(err)})`, { cause: err });
  }
  return parseKeyFile(text, path);
}

export function serializeKeys(entries: readonly KeyEntry[]): string {
  return (
    JSON.stringify({ format: KEY_FILE_FORMAT, version: KEY_FILE_VERSION, keys: entries }, null, 2) + '\n'
  );
}

/**
 * Read-modify-write of the key file under a lock (`FILE.lock`), so concurrent commands never lose
 * each other's changes; the write is atomic and 0600 in a 0700 directory. `fn` changes `entries`
 * in place. A legacy file is refused unless `replaceLegacy` (an in-place `keys import`).
 */
export async function updateKeyFile<T>(
  path: string,
  fn: (entries: KeyEntry[]) => T | Promise<T>,
  opts: { replaceLegacy?: boolean } = {},
): Promise<T> {
  await ensurePrivateDir(dirname(path));
  return withLock(`${path}.lock`, async () => {
    const file = await readKeyFile(path);
    if (file.kind === 'legacy' && !opts.replaceLegacy)
      throw new WardenError(
        'CONFIG_INVALID',
        `${path} is a legacy .mcp_keys.json holding plaintext keys; convert it first: mcp-warden keys import ${path}`,
      );
    const entries = file.kind === 'keys' ? file.entries : [];
    const out = await fn(entries);
    await atomicWrite(path, serializeKeys(entries));
    return out;
  });
}
