import type { KeyObject } from 'node:crypto';
import { WardenError, describe } from '../../../errors.js';
import { ZERO_HASH } from './format.js';
import { hashMatches, parseLine, readLines } from './read.js';

/**
 * `audit verify`: walks one file, or several in order (a rotated chain: audit.log.2 audit.log.1
 * audit.log), and stops at the first line that breaks the chain. Each line must be an audit line
 * (format.ts), its hash the HMAC of its text (else it was edited, or forged without the key),
 * and its prev and seq must follow the line before (else a line was removed, inserted or moved).
 */

export interface VerifyProblem {
  file: string;
  /** 1-based, within `file`. */
  line: number;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  files: string[];
  /** Lines checked and found good. */
  lines: number;
  firstSeq?: number;
  lastSeq?: number;
  problem?: VerifyProblem;
}

export interface VerifyOptions {
  /** Accept a first file that starts mid-chain (its beginning was rotated away and is gone). */
  partial?: boolean;
}

const short = (hash: string) => `${hash.slice(0, 12)}…`;

export async function verifyAudit(
  files: readonly string[],
  key: KeyObject,
  opts: VerifyOptions = {},
): Promise<VerifyReport> {
  const report: VerifyReport = { ok: true, files: [...files], lines: 0 };
  let last: { seq: number; hash: string; file: string; line: number } | undefined;
  for (const file of files) {
    let n = 0;
    const fail = (reason: string): VerifyReport => ({
      ...report,
      ok: false,
      problem: { file, line: n, reason },
    });
    const before = () =>
      last === undefined ? '' : last.file === file ? `line ${last.line}` : `the last line of ${last.file}`;
    try {
      for await (const { bytes, complete } of readLines(file)) {
        n++;
        if (!complete)
          return fail(
            'truncated: the last line has no line end (a write was cut short, or the file was cut)',
          );
        const parsed = parseLine(bytes.toString('utf8'));
        if (typeof parsed === 'string') return fail(parsed);
        if (!hashMatches(key, parsed)) return fail('hash mismatch (edited, or written with another key)');
        if (last === undefined) {
          if (parsed.prev !== ZERO_HASH && !opts.partial)
            return fail(
              `starts mid-chain (prev ${short(parsed.prev)}, seq ${parsed.seq}): a rotated file; give the previous file too, or --partial to check from here`,
            );
          if (parsed.prev === ZERO_HASH && parsed.seq !== 1)
            return fail(
              `the chain starts here but at seq ${parsed.seq}, not 1 (the lines before were removed)`,
            );
        } else if (parsed.prev === ZERO_HASH) {
          return fail(
            `a new chain starts here (seq ${parsed.seq}) after seq ${last.seq}: the log was restarted without its earlier file, or lines were removed`,
          );
        } else if (parsed.prev !== last.hash) {
          return fail(
            `prev does not match ${before()} (a line was removed or reordered; seq ${parsed.seq} after ${last.seq})`,
          );
        } else if (parsed.seq !== last.seq + 1) {
          return fail(`seq ${parsed.seq} follows seq ${last.seq} (expected ${last.seq + 1})`);
        }
        report.firstSeq ??= parsed.seq;
        report.lastSeq = parsed.seq;
        report.lines++;
        last = { seq: parsed.seq, hash: parsed.hash, file, line: n };
      }
    } catch (err) {
      if (err instanceof WardenError) throw err;
      throw new WardenError('AUDIT_IO', `cannot read ${file} (${describe(err)})`, { cause: err });
    }
  }
  return report;
}

/** The report as the CLI prints it. */
export function describeReport(r: VerifyReport): string {
  if (r.ok)
    return r.lines === 0
      ? 'ok: 0 lines (empty)'
      : `ok: ${r.lines} line${r.lines === 1 ? '' : 's'}, chain intact (first seq ${r.firstSeq}, last seq ${r.lastSeq})`;
  const p = r.problem!;
  return `${r.files.length > 1 ? `${p.file} ` : ''}line ${p.line}: ${p.reason}`;
}
