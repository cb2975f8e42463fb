import { timingSafeEqual, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { errnoCode } from '../../../errors.js';
import { HASH_SUFFIX_LENGTH, ZERO_HASH, lineHash, type ChainHead } from './format.js';

/** Reading audit files: lines forwards (verify) and backwards (tail, the chain's head at open). */

const HEX64 = /^[0-9a-f]{64}$/;

/** An audit line's chain fields, when the text has the shape the writer gives every line. */
export interface ParsedLine {
  record: Record<string, unknown>;
  seq: number;
  prev: string;
  hash: string;
  /** The text the hash covers: the line without its hash field. */
  body: string;
}

/** The line's chain fields, or why it is not an audit line. */
export function parseLine(text: string): ParsedLine | string {
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch {
    return 'not valid JSON (edited, or cut by an inserted line break)';
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    return 'not an audit line (not a JSON object)';
  const r = record as Record<string, unknown>;
  const { seq, prev, hash } = r;
  if (
    typeof r.ts !== 'string' ||
    typeof r.event !== 'string' ||
    !Number.isSafeInteger(seq) ||
    (seq as number) < 1 ||
    typeof prev !== 'string' ||
    !HEX64.test(prev) ||
    typeof hash !== 'string' ||
    !HEX64.test(hash) ||
    !text.endsWith(`,"hash":"${hash}"}`)
  )
    return 'not an audit line (ts, seq, event, prev and hash, with hash last, are required)';
  return { record: r, seq: seq as number, prev, hash, body: `${text.slice(0, -HASH_SUFFIX_LENGTH)}}` };
}

/** Whether the line's hash is the HMAC of its text under `key`. */
export function hashMatches(key: KeyObject, line: ParsedLine): boolean {
  const want = Buffer.from(lineHash(key, line.prev, line.body), 'hex');
  return timingSafeEqual(want, Buffer.from(line.hash, 'hex'));
}

/**
 * The file's lines, in order, without their newline; `complete` is false for a last line with
 * no newline. A yielded buffer is valid until the next one is asked for.
 */
export async function* readLines(path: string): AsyncGenerator<{ bytes: Buffer; complete: boolean }> {
  const fh = await fsp.open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let rest = Buffer.alloc(0);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk =
        rest.length > 0 ? Buffer.concat([rest, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let at = 0;
      for (let nl = chunk.indexOf(10, at); nl !== -1; nl = chunk.indexOf(10, at)) {
        yield { bytes: chunk.subarray(at, nl), complete: true };
        at = nl + 1;
      }
      rest = Buffer.from(chunk.subarray(at));
    }
    if (rest.length > 0) yield { bytes: rest, complete: false };
  } finally {
    await fh.close();
  }
}

/**
 * The last `n` complete lines of a regular file (oldest first), and `partial`: text after the
 * last newline (a line being written, or cut). Reads backwards in chunks, at most `maxBytes`.
 * A missing file, or one that is not a regular file (/dev/full), has no lines.
 */
export async function readLastLines(
  path: string,
  n: number,
  maxBytes = 64 * 1024 * 1024,
): Promise<{ lines: string[]; partial: string; size: number }> {
  let fh;
  try {
    fh = await fsp.open(path, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { lines: [], partial: '', size: 0 };
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size === 0 || n <= 0)
      return { lines: [], partial: '', size: st.isFile() ? st.size : 0 };
    const chunks: Buffer[] = [];
    let start = st.size;
    let newlines = 0;
    const chunkSize = 64 * 1024;
    while (start > 0 && newlines <= n && st.size - start < maxBytes) {
      const len = Math.min(chunkSize, start);
      start -= len;
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, start);
      const got = buf.subarray(0, bytesRead);
      for (let i = got.indexOf(10); i !== -1; i = got.indexOf(10, i + 1)) newlines++;
      chunks.unshift(got);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    const parts = text.split('\n');
    const partial = parts.pop() ?? '';
    // The first part may be the end of a line that began before what was read.
    if (start > 0) parts.shift();
    return { lines: parts.slice(-n), partial, size: st.size };
  } finally {
    await fh.close();
  }
}

export interface FoundHead extends ChainHead {
  /** Where it was found. */
  file?: string;
  /** The file ends in a partial line (a crash mid-write, or a cut). */
  partialTail: boolean;
  /** The last line's hash does not verify under the key (another key, or an edit). */
  foreign: boolean;
  /** Lines at the end that are not audit lines (they were skipped). */
  skipped: number;
}

/**
 * Where a log at `file` continues its chain: its last audit line; for an empty or missing file
 * (logrotate moved it away while no gateway ran), the last line of `file.1`; else a new chain.
 */
export async function readChainHead(file: string, key: KeyObject): Promise<FoundHead> {
  for (const candidate of [file, `${file}.1`]) {
    const { lines, partial, size } = await readLastLines(candidate, 20, 16 * 1024 * 1024);
    if (size === 0) continue;
    for (let i = lines.length - 1; i >= 0; i--) {
      const parsed = parseLine(lines[i]!);
      if (typeof parsed === 'string') continue;
      return {
        seq: parsed.seq,
        hash: parsed.hash,
        file: candidate,
        partialTail: candidate === file && partial !== '',
        foreign: !hashMatches(key, parsed),
        skipped: lines.length - 1 - i,
      };
    }
    if (candidate === file)
      return { seq: 0, hash: ZERO_HASH, partialTail: partial !== '', foreign: false, skipped: lines.length };
  }
  return { seq: 0, hash: ZERO_HASH, partialTail: false, foreign: false, skipped: 0 };
}
