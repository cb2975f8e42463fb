import { MIN_REDACT_LENGTH, secretForms } from './forms.js';
import { Matcher, type Pattern } from './matcher.js';

/**
 * Replaces secret values in a byte stream (a command's stdout or stderr) with a marker.
 *
 * - Every form of every value (forms.ts) is searched at once (matcher.ts), on bytes: a UTF-8
 *   character or a value split across chunks is found all the same.
 * - Nothing that could be the start of a match is written out, and nothing else is held back:
 *   after each chunk, exactly the trailing bytes that some form could still continue stay
 *   buffered, so ordinary output, including a prompt without a newline, passes at once and no
 *   timer is needed (a timer that flushed a held prefix would print the start of a secret);
 *   a held prefix is released as soon as the next byte rules the match out, or at the end.
 * - Overlapping matches (two secrets sharing characters, a raw and a JSON form of one value)
 *   are merged and replaced by one marker, so no byte of any occurrence survives.
 * - The marker, `[redacted:NAME]`, needs no escaping in JSON and the replacement keeps JSON
 *   string escapes balanced: a match that starts right after an escaping backslash (or inside
 *   `\uXXXX`) gets a `\` (or the missing hex digits) in front, and a match that ends with an
 *   escaping backslash gets a `\` after it, so a line of JSON stays a line of valid JSON. In
 *   plain text those cases add a stray backslash, never remove a character of the output.
 */
export interface Secret {
  /** Names the marker: the variable that carried the value. Names are not secret. */
  name: string;
  value: string;
}

const NAME_IN_MARKER = /^[A-Za-z0-9_.-]{1,64}$/;

export function marker(name: string): string {
  return NAME_IN_MARKER.test(name) ? `[redacted:${name}]` : '[redacted]';
}

interface Interval {
  start: number;
  end: number;
  label: number;
}

const BACKSLASH = 0x5c;
const isHex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
const EMPTY = Buffer.alloc(0);

/** Backslashes in a row at the end of `b`. */
function trailingBackslashes(b: Uint8Array, end = b.length): number {
  let i = end;
  while (i > 0 && b[i - 1] === BACKSLASH) i--;
  return end - i;
}

/** The last few bytes written, and exactly how many backslashes run up to them. */
class Tail {
  private static readonly KEEP = 8;
  private bytes: Uint8Array = EMPTY;
  /** Backslashes in a row just before `bytes`. */
  private runBefore = 0;

  append(s: Uint8Array): void {
    if (s.length === 0) return;
    const joined = s.length >= Tail.KEEP ? s : Buffer.concat([this.bytes, s]);
    const cut = Math.max(0, joined.length - Tail.KEEP);
    const run = trailingBackslashes(joined, cut);
    const whole = run === cut;
    this.runBefore = whole ? run + (joined === s ? this.backslashes(0) : this.runBefore) : run;
    this.bytes = Buffer.from(joined.subarray(cut));
  }

  /** Backslashes in a row ending `back` bytes before the end (back < KEEP). */
  backslashes(back: number): number {
    const end = this.bytes.length - back;
    const run = trailingBackslashes(this.bytes, end);
    return run === end ? run + this.runBefore : run;
  }

  /** What must precede a marker here so that JSON string escapes stay balanced. */
  guard(): string {
    if (this.backslashes(0) % 2 === 1) return '\\';
    const b = this.bytes;
    let digits = 0;
    while (digits < 4 && digits < b.length && isHex(b[b.length - 1 - digits]!)) digits++;
    if (digits < 4 && b[b.length - 1 - digits] === 0x75 && this.backslashes(digits + 1) % 2 === 1)
      return '0'.repeat(4 - digits);
    return '';
  }
}

/**
 * The secrets to redact, compiled once for all the streams of a command. Values shorter than
 * MIN_REDACT_LENGTH are left out (the caller warns about them).
 */
export class SecretSet {
  private readonly kept: Secret[];
  private compiled: Matcher | undefined;
  private markerBytes: Buffer[] | undefined;

  constructor(secrets: readonly Secret[]) {
    this.kept = secrets.filter((s) => s.value.length >= MIN_REDACT_LENGTH);
  }

  /** The marker of each secret, by label. */
  get markers(): Buffer[] {
    this.markerBytes ??= this.kept.map((s) => Buffer.from(marker(s.name)));
    return this.markerBytes;
  }

  get size(): number {
    return this.kept.length;
  }

  /** Built on the first byte of output: a command that prints nothing pays nothing. */
  get matcher(): Matcher {
    this.compiled ??= new Matcher(
      this.kept.flatMap((s, label): Pattern[] =>
        secretForms(s.value).map((f) => ({ bytes: Buffer.from(f), label })),
      ),
    );
    return this.compiled;
  }
}

export class Redactor {
  private state = 0;
  /** Received but not yet written; starts at absolute offset `pendingStart`. */
  private pending: Buffer[] = [];
  private pendingStart = 0;
  private received = 0;
  /** Matches not yet written, absolute offsets, sorted and disjoint. */
  private intervals: Interval[] = [];
  private readonly out = new Tail();
  /** Backslashes in a row in the input just before `pendingStart`. */
  private inputRun = 0;

  constructor(private readonly secrets: SecretSet) {}

  /** Feeds a chunk; answers what can be written now. */
  push(chunk: Buffer): Buffer {
    const matcher = this.secrets.matcher;
    const base = this.received;
    this.state = matcher.scan(this.state, chunk, (end, length, label) =>
      this.add(base + end - length, base + end, label),
    );
    this.received += chunk.length;
    if (chunk.length > 0) this.pending.push(chunk);
    return this.release(this.received - matcher.undecided(this.state));
  }

  /** The end of the stream: everything left. */
  end(): Buffer {
    return this.release(this.received);
  }

  private add(start: number, end: number, label: number): void {
    const iv = { start, end, label };
    // Ends only grow, so the new match can overlap only the last intervals; merge them into it.
    for (let last = this.intervals.at(-1); last && last.end > iv.start; last = this.intervals.at(-1)) {
      this.intervals.pop();
      if (last.start < iv.start) {
        iv.start = last.start;
        iv.label = last.label;
      }
    }
    this.intervals.push(iv);
  }

  /** Writes out [pendingStart, upTo), less any match that could still grow past it. */
  private release(upTo: number): Buffer {
    let cut = upTo;
    const open = this.intervals.find((iv) => iv.end > cut);
    if (open) cut = Math.min(cut, open.start);
    if (cut <= this.pendingStart) return EMPTY;
    const base = this.pendingStart;
    const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const parts: Buffer[] = [];
    let at = base;
    let done = 0;
    for (const iv of this.intervals) {
      if (iv.end > cut) break;
      done++;
      this.emit(parts, data.subarray(at - base, iv.start - base));
      const guard = this.out.guard();
      if (guard) this.emit(parts, Buffer.from(guard));
      this.emit(parts, this.secrets.markers[iv.label]!);
      // The match ended on a backslash that escaped the byte after it: keep that escape.
      if (this.runBefore(data, base, iv.end) % 2 === 1) this.emit(parts, Buffer.from('\\'));
      at = iv.end;
    }
    this.emit(parts, data.subarray(at - base, cut - base));
    this.intervals = done === 0 ? this.intervals : this.intervals.slice(done);
    this.inputRun = this.runBefore(data, base, cut);
    const rest = data.subarray(cut - base);
    this.pending = rest.length > 0 ? [Buffer.from(rest)] : [];
    this.pendingStart = cut;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  private emit(parts: Buffer[], bytes: Buffer): void {
    if (bytes.length === 0) return;
    parts.push(bytes);
    this.out.append(bytes);
  }

  /** Backslashes in a row in the input ending at absolute offset `end` (>= base). */
  private runBefore(data: Buffer, base: number, end: number): number {
    const run = trailingBackslashes(data, end - base);
    return run === end - base ? run + this.inputRun : run;
  }
}
