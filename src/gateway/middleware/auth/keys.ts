import { hash, timingSafeEqual } from 'node:crypto';
import { promises as fsp, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { WardenError, describe, errnoCode } from '../../../errors.js';
import { legacyEntries, readKeyFile, type KeyEntry } from './key-file.js';
import { KEY_LENGTH, KEY_PREFIX, isKeyShaped } from './key-format.js';

/**
 * The `KeyRing` the gateway verifies presented gateway client API keys against. The key format is
 * in key-format.ts, the key file (hashes and metadata only) in key-file.ts.
 */

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

interface Proven {
  presented: string;
  k: Loaded;
  table: Map<string, Loaded>;
}

/**
 * Whether two texts are equal, looking at every character whatever the first difference: the
 * time taken tells the length (public: every key has the same) and nothing of where they differ.
 */
export function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
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
  /** The key each connection last proved, and the table it was found in (see verify). */
  private readonly proven = new WeakMap<object, Proven>();
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

  /**
   * What `presented` is. With `connection` (an object that lives as long as the client's
   * connection), a key this connection already proved is known again without hashing it: the
   * text is compared with the proven one in constant time, and the key is still checked for
   * revocation and expiry. A reload forgets what connections proved.
   */
  verify(presented: string, connection?: object): Verdict {
    const t = this.now();
    if (t - this.lastCheck >= 1000) {
      this.lastCheck = t;
      this.check();
    }
    const proven = connection === undefined ? undefined : this.proven.get(connection);
    let k: Loaded | undefined;
    if (proven !== undefined && proven.table === this.byHash && sameText(proven.presented, presented))
      k = proven.k;
    else {
      // A token that cannot be a key (a JWT) is turned away before hashing, unless legacy keys,
      // which have no shape, are loaded. The checksum is checked only on a miss: a hit is a key
      // this ring holds, and it costs a third of a verify.
      const maybe = presented.length === KEY_LENGTH && presented.startsWith(KEY_PREFIX);
      if ((!maybe && !this.unshaped) || presented.length > MAX_PRESENTED) return MALFORMED;
      // Hex, then a Buffer only for a hit: crypto.hash to a Buffer costs three times as much here.
      const hex = hash('sha256', presented, 'hex');
      k = this.byHash.get(hex);
      if (!k || !timingSafeEqual(k.digest, Buffer.from(hex, 'hex')))
        return maybe && isKeyShaped(presented) ? UNKNOWN : MALFORMED;
      if (connection !== undefined) this.proven.set(connection, { presented, k, table: this.byHash });
    }
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
