import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  randomBytes,
  scrypt,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promises as fsp, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { WardenError, describe, errnoCode } from '../errors.js';
import { atomicWrite, fsyncDir, readSmallIfExists } from '../fsutil.js';

/** The file store's key: 32 bytes plus a short public id recorded in each secret file. */
export interface StoreKey {
  /**
   * A KeyObject rather than the bytes: createDecipheriv checks a Buffer key for being a KeyObject
   * and then a CryptoKey, every time; that took a quarter of the time of decrypting 50 secrets.
   */
  key: KeyObject;
  /**
   * First 16 hex of SHA-256 over a label and the key; tells "another key" apart from "tampered".
   * Computed when first asked for.
   */
  readonly id: string;
  source: 'keyfile' | 'passphrase';
}

/** scrypt parameters: N=2^17, r=8, p=1 (OWASP's recommendation), about 128 MiB and 0.3 s here. */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 } as const;
const CHECK_LABEL = 'mcp-warden passphrase check v1';

interface KdfFile {
  v: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  /** AES-GCM of CHECK_LABEL under the derived key: a wrong passphrase fails here, not on each secret. */
  check: string;
}

function keyId(key: Buffer): string {
  return createHash('sha256').update('mcp-warden key id v1\0').update(key).digest('hex').slice(0, 16);
}

function storeKey(bytes: Buffer, source: StoreKey['source']): StoreKey {
  let id: string | undefined;
  return {
    key: createSecretKey(bytes),
    source,
    get id() {
      return (id ??= keyId(bytes));
    },
  };
}

/**
 * Loads the store key from `MCP_WARDEN_PASSPHRASE` (scrypt with a stored salt) or from the 0600
 * key file, creating either on first use when `create` is set. There is no built-in fallback key.
 */
export async function loadKey(
  dir: string,
  passphrase: string | undefined,
  create: boolean,
): Promise<StoreKey | undefined> {
  return passphrase !== undefined && passphrase !== ''
    ? passphraseKey(join(dir, 'kdf.json'), passphrase, create)
    : keyFile(join(dir, 'key'), create);
}

async function keyFile(path: string, create: boolean): Promise<StoreKey | undefined> {
  let raw = readSmallIfExists(path);
  if (raw === undefined) {
    if (!create) return undefined;
    raw = await createOnce(path, randomBytes(32));
  }
  if (raw.length !== 32) {
    throw new WardenError(
      'SECRET_CORRUPT',
      `key file ${path} is damaged (${raw.length} bytes, expected 32); restore it from a backup`,
    );
  }
  assertOwnerOnly(path);
  return storeKey(raw, 'keyfile');
}

/**
 * Publishes a new file only if none exists (link(2) fails on an existing target), so two
 * processes starting at once agree on one key; the loser reads the winner's file.
 */
async function createOnce(path: string, content: Buffer): Promise<Buffer> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.new`;
  try {
    await atomicWrite(tmp, content);
    try {
      await fsp.link(tmp, path);
      await fsyncDir(dirname(path));
      return content;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      const existing = readSmallIfExists(path);
      if (existing === undefined) throw err;
      return existing;
    }
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError('STORE_IO', `cannot create ${path} (${describe(err)})`, { cause: err });
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
}

function assertOwnerOnly(path: string): void {
  if (process.platform === 'win32') return;
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    throw new WardenError(
      'STORE_INSECURE',
      `refusing key file ${path}: others can read it; run chmod 600 ${path}`,
    );
  }
}

function derive(passphrase: string, salt: Buffer, p: Pick<KdfFile, 'N' | 'r' | 'p'>): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, 32, { N: p.N, r: p.r, p: p.p, maxmem: SCRYPT.maxmem }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function sealCheck(key: Buffer): string {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([c.update(CHECK_LABEL, 'utf8'), c.final(), c.getAuthTag()]);
  return Buffer.concat([nonce, body]).toString('base64');
}

function opensCheck(key: Buffer, sealed: string): boolean {
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length < 12 + 16) return false;
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(raw.length - 16));
    const plain = Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]);
    return plain.toString('utf8') === CHECK_LABEL;
  } catch {
    return false;
  }
}

async function passphraseKey(
  path: string,
  passphrase: string,
  create: boolean,
): Promise<StoreKey | undefined> {
  let raw = readSmallIfExists(path);
  if (raw === undefined) {
    if (!create) return undefined;
    const salt = randomBytes(16);
    const key = await derive(passphrase, salt, SCRYPT);
    const file: KdfFile = {
      v: 1,
      kdf: 'scrypt',
      N: SCRYPT.N,
      r: SCRYPT.r,
      p: SCRYPT.p,
      salt: salt.toString('base64'),
      check: sealCheck(key),
    };
    raw = await createOnce(path, Buffer.from(JSON.stringify(file) + '\n'));
  }
  let kdf: KdfFile;
  try {
    kdf = JSON.parse(raw.toString('utf8')) as KdfFile;
    if (
      kdf.v !== 1 ||
      kdf.kdf !== 'scrypt' ||
      typeof kdf.salt !== 'string' ||
      typeof kdf.check !== 'string'
    ) {
      throw new Error('unknown format');
    }
  } catch (err) {
    throw new WardenError(
      'SECRET_CORRUPT',
      `passphrase settings ${path} are damaged (${describe(err)}); restore them from a backup`,
    );
  }
  const key = await derive(passphrase, Buffer.from(kdf.salt, 'base64'), kdf).catch((err: unknown) => {
    throw new WardenError('SECRET_CORRUPT', `passphrase settings ${path} are unusable (${describe(err)})`);
  });
  if (!opensCheck(key, kdf.check)) {
    throw new WardenError(
      'WRONG_PASSPHRASE',
      `MCP_WARDEN_PASSPHRASE does not unlock the store at ${path.slice(0, -'/kdf.json'.length)}; check the passphrase`,
    );
  }
  return storeKey(key, 'passphrase');
}
