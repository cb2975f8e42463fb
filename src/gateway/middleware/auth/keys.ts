import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { WardenError, describe, errnoCode } from '../../../errors.js';
import { atomicWrite, ensurePrivateDir, withLock } from '../../../fsutil.js';
import { dataHome } from '../../../paths.js';

/**
 * Gateway client API keys: their format, the key file (hashes and metadata only) and the
 * `KeyRing` the gateway verifies presented keys against.
 *
 * A key is `mcpw_` + 43 base62 characters (32 random bytes, big-endian, zero-padded) + 6 base62
 * characters of the CRC-32 (IEEE, as zlib computes it) of everything before them. The prefix lets
 * secret scanners find a leaked key; the checksum lets them tell a real candidate from noise
 * offline, as GitHub's token format does.
 */
export const KEY_PREFIX = 'mcpw_';
const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BODY_LENGTH = 43;
const CHECK_LENGTH = 6;
export const KEY_LENGTH = KEY_PREFIX.length + BODY_LENGTH + CHECK_LENGTH;

/** A key inside any text (for the leak guard; not global: add the `g` flag in a copy). */
export const KEY_PATTERN = /(?<![A-Za-z0-9_])mcpw_[0-9A-Za-z]{49}(?![A-Za-z0-9])/;

let crcTable: Int32Array | undefined;

function crcTableOnce(): Int32Array {
  if (crcTable) return crcTable;
  crcTable = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crcTable[n] = c;
  }
  return crcTable;
}

/** CRC-32 (IEEE 802.3, reflected, as zlib) of an ASCII string. */
export function crc32(text: string): number {
  const table = crcTableOnce();
  let crc = -1;
  for (let i = 0; i < text.length; i++) crc = table[(crc ^ text.charCodeAt(i)) & 0xff]! ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

function checksum(head: string): string {
  let n = crc32(head);
  let out = '';
  for (let i = 0; i < CHECK_LENGTH; i++) {
    out = ALPHABET[n % 62]! + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** Each ASCII code's base62 digit, or -1. */
const DIGIT = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DIGIT[ALPHABET.charCodeAt(i)] = i;

/** A new key: 256 random bits, prefixed and checksummed. */
export function generateKey(): string {
  let n = BigInt(`0x${randomBytes(32).toString('hex')}`);
  let body = '';
  for (let i = 0; i < BODY_LENGTH; i++) {
    body = ALPHABET[Number(n % 62n)]! + body;
    n /= 62n;
  }
  const head = KEY_PREFIX + body;
  return head + checksum(head);
}

/**
 * Whether `s` is a whole mcp-warden key with a valid checksum. One pass, no allocation: the
 * gateway asks this of every presented credential.
 */
export function isKeyShaped(s: string): boolean {
  if (s.length !== KEY_LENGTH || !s.startsWith(KEY_PREFIX)) return false;
  const table = crcTableOnce();
  const cut = KEY_LENGTH - CHECK_LENGTH;
  let crc = -1;
  for (let i = 0; i < cut; i++) {
    const c = s.charCodeAt(i);
    if (i >= KEY_PREFIX.length && (c > 127 || DIGIT[c]! < 0)) return false;
    crc = table[(crc ^ c) & 0xff]! ^ (crc >>> 8);
  }
  let n = (crc ^ -1) >>> 0;
  for (let i = KEY_LENGTH - 1; i >= cut; i--) {
    const c = s.charCodeAt(i);
    if (c > 127 || DIGIT[c] !== n % 62) return false;
    n = Math.floor(n / 62);
  }
  return true;
}

/** SHA-256 of a key, hex: what the key file stores. */
export function hashKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** The short, non-secret name of a key: `k_` and the first 8 hex characters of its hash. */
export function keyIdOf(keyHash: string): string {
  return `k_${keyHash.slice(0, 8)}`;
}

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

/** Why a presented key is refused. */
export type RefusedBecause = 'unknown' | 'expired' | 'revoked' | 'malformed';
/** A refused key that is known (expired, revoked) names its entry, for the audit's reason. */
export type Verdict = { ok: true; entry: KeyEntry } | { ok: false; reason: RefusedBecause; entry?: KeyEntry };

export interface KeyRingOptions {
  file: string;
  /** One line per problem (a legacy file, a reload that failed); never a key. */
  warn?: (line: string) => void;
  /** Called after each successful reload with the number of keys. */
  onReload?: (keys: number) => void;
  /** The clock, in ms (tests). */
  now?: () => number;
  /** Watch the file for changes (default true); the once-a-second check on verify stays on. */
  watch?: boolean;
}

interface Loaded {
  entry: KeyEntry;
  digest: Buffer;
  revokedMs?: number;
  /** The earlier of its expiry and its grace end. */
  endMs?: number;
}

const MALFORMED: Verdict = Object.freeze({ ok: false, reason: 'malformed' });
const UNKNOWN: Verdict = Object.freeze({ ok: false, reason: 'unknown' });
/** A presented credential longer than this is not hashed. */
const MAX_PRESENTED = 4096;

/**
 * The keys a running gateway accepts, from the key file, reloaded when it changes (a watch on its
 * directory, and a stat at most once a second from `verify` where watching is unreliable), so
 * `keys create`, `revoke` and `rotate` take effect without a restart. Expiry, revocation and a
 * rotation's grace end are checked at each call.
 */
export class KeyRing {
  readonly file: string;
  private byHash = new Map<string, Loaded>();
  /** Some key (a legacy one) is not `mcpw_`-shaped, so unshaped tokens must be looked up too. */
  private unshaped = false;
  private signature = '';
  private lastCheck = 0;
  private reloading: Promise<void> | undefined;
  private again = false;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private readonly warn: (line: string) => void;
  private readonly now: () => number;

  private constructor(private readonly opts: KeyRingOptions) {
    this.file = opts.file;
    this.warn = opts.warn ?? (() => undefined);
    this.now = opts.now ?? Date.now;
  }

  static async open(opts: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(opts);
    await ring.load(true);
    if (opts.watch !== false) ring.startWatch();
    return ring;
  }

  /** How many keys are loaded (any state). */
  get size(): number {
    return this.byHash.size;
  }

  verify(presented: string): Verdict {
    const t = this.now();
    if (t - this.lastCheck >= 1000) {
      this.lastCheck = t;
      this.check();
    }
    // A token that cannot be a key (a JWT) is turned away before hashing, unless legacy keys,
    // which have no shape, are loaded. The checksum is checked only on a miss: a hit is a key
    // this ring holds, and it costs a third of a verify.
    const maybe = presented.length === KEY_LENGTH && presented.startsWith(KEY_PREFIX);
    if ((!maybe && !this.unshaped) || presented.length > MAX_PRESENTED) return MALFORMED;
    // Hex, then a Buffer only for a hit: crypto.hash to a Buffer costs three times as much here.
    const hex = hash('sha256', presented, 'hex');
    const k = this.byHash.get(hex);
    if (!k || !timingSafeEqual(k.digest, Buffer.from(hex, 'hex')))
      return maybe && isKeyShaped(presented) ? UNKNOWN : MALFORMED;
    if (k.revokedMs !== undefined && t >= k.revokedMs)
      return { ok: false, reason: 'revoked', entry: k.entry };
    if (k.endMs !== undefined && t >= k.endMs) return { ok: false, reason: 'expired', entry: k.entry };
    return { ok: true, entry: k.entry };
  }

  /** Reads the file again now (the watcher and the periodic check call this). */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = this.load(false)
      .catch((err: unknown) => this.warn(`keys: ${describe(err)}; keeping the keys loaded before`))
      .finally(() => {
        this.reloading = undefined;
        if (this.again) {
          this.again = false;
          void this.reload();
        }
      });
    return this.reloading;
  }

  close(): void {
    this.watcher?.close();
    this.watcher = undefined;
    clearTimeout(this.debounce);
  }

  private async load(first: boolean): Promise<void> {
    const st = await fsp.stat(this.file).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') return undefined;
      this.signature = `error:${errnoCode(err)}`;
      throw new WardenError('STORE_IO', `cannot read ${this.file} (${describe(err)})`, { cause: err });
    });
    const signature = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : 'absent';
    if (!first && signature === this.signature) return;
    this.signature = signature;
    if (st && process.platform !== 'win32' && (st.mode & 0o022) !== 0)
      throw new WardenError(
        'STORE_INSECURE',
        `refusing key file ${this.file}: group or others can write to it; run chmod 600 ${this.file}`,
      );
    const file = st ? await readKeyFile(this.file) : { kind: 'absent' as const };
    let entries: KeyEntry[];
    if (file.kind === 'legacy') {
      this.warn(
        `keys: ${this.file} is a legacy .mcp_keys.json with plaintext keys; convert it with mcp-warden keys import ${this.file}`,
      );
      entries = legacyEntries(file.clients);
    } else {
      entries = file.kind === 'keys' ? file.entries : [];
      if (file.kind === 'absent')
        this.warn(
          `keys: no key file at ${this.file} yet; create a key with mcp-warden keys create CLIENT_ID`,
        );
    }
    const byHash = new Map<string, Loaded>();
    let unshaped = false;
    for (const entry of entries) {
      const loaded: Loaded = { entry, digest: Buffer.from(entry.hash, 'hex') };
      if (entry.revokedAt !== undefined) loaded.revokedMs = Date.parse(entry.revokedAt);
      const ends = [entry.expires, entry.notAfter].filter((x) => x !== undefined).map((x) => Date.parse(x));
      if (ends.length > 0) loaded.endMs = Math.min(...ends);
      if (entry.legacy) unshaped = true;
      byHash.set(entry.hash, loaded);
    }
    this.byHash = byHash;
    this.unshaped = unshaped;
    if (!first) this.opts.onReload?.(byHash.size);
  }

  private check(): void {
    void fsp.stat(this.file).then(
      (st) => {
        if (`${st.ino}:${st.size}:${st.mtimeMs}` !== this.signature) void this.reload();
      },
      (err: unknown) => {
        const code = errnoCode(err);
        if (this.signature !== (code === 'ENOENT' ? 'absent' : `error:${code}`)) void this.reload();
      },
    );
  }

  private startWatch(): void {
    const name = basename(this.file);
    try {
      this.watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload(), 20);
        this.debounce.unref();
      });
      this.watcher.on('error', () => this.close());
    } catch {
      // No directory yet, or no watching here: the check on verify still picks changes up.
    }
  }
}
