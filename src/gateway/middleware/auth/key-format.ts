import { hash, randomBytes } from 'node:crypto';

/**
 * Gateway client API keys: their format.
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
