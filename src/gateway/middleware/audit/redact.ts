import { MIN_REDACT_LENGTH, secretForms } from '../../../run/forms.js';
import { Matcher, type Pattern } from '../../../run/matcher.js';
import type { ManagedSecret } from '../../pipeline.js';
import { MIN_SHAPE_LENGTH, SHAPES_RE, findShapes, mayHoldShape } from '../leak-guard/detectors.js';

/**
 * What the audit trail keeps out of its lines:
 *  - the value under any object key of a call's arguments whose name says it holds a credential
 *    (`password`, `api_key`, `token`, `secret`, `authorization`...), whatever it is: "[redacted]";
 *  - every managed secret value, in any string anywhere in a line (keys included), in each
 *    spelling `run` masks (raw, JSON-escaped, URL-encoded, base64: src/run/forms.ts):
 *    "[redacted:NAME]";
 *  - every well-known token shape the leak guard knows (a GitHub or OpenAI key, a JWT, an
 *    mcp-warden key...; src/gateway/middleware/leak-guard/detectors.ts), whoever sent it:
 *    "[redacted:<detector>]". The audit stage records a call as the client sent it, before the
 *    leak guard redacts (or blocks) it, so it must not keep what the guard would not pass.
 */

function hasShape(s: string): boolean {
  if (s.length < MIN_SHAPE_LENGTH || !mayHoldShape(s)) return false;
  SHAPES_RE.lastIndex = 0;
  return SHAPES_RE.test(s);
}

function scrubShapes(s: string): string {
  const hits = findShapes(s, () => false);
  if (hits.length === 0) return s;
  let out = '';
  let at = 0;
  for (const h of hits) {
    out += `${s.slice(at, h.start)}[redacted:${h.id}]`;
    at = h.end;
  }
  return out + s.slice(at);
}

/** Key names that hold credentials, case-insensitive, matched anywhere in the key. */
const SENSITIVE_KEY =
  /pass(?:wd|word|phrase)|api[ _-]?key|access[ _-]?key|private[ _-]?key|token|secret|credential|cookie|auth(?!or(?!iz))/i;

/**
 * Whether the value under `key` is a credential. `auth` matches authorization, oauth, x-auth...
 * but not author or authority (a commit's author is not a secret).
 */
export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEY.test(key);
}

export const REDACTED = '[redacted]';
export const TOO_DEEP = '[too deep]';
export const MAX_DEPTH = 32;

/**
 * Replaces managed secret values in strings: one Aho–Corasick pass (src/run/matcher.ts) over the
 * UTF-8 bytes, whatever the number of secrets. A string with no match is answered as it is, with
 * no allocation beyond a reusable scratch buffer.
 */
export class Scrubber {
  /** The shortest form: a shorter string cannot hold one. */
  readonly minLength: number;
  /** The longest form: a string cut to N characters is scanned over N + this many. */
  readonly maxLength: number;
  private readonly matcher: Matcher | undefined;
  /** A bit per byte pair that starts some form: most strings are passed over by this alone. */
  private readonly starts = new Int32Array(2048);
  private readonly markers: Buffer[];
  private scratch = new Uint8Array(4096);
  private static readonly encoder = new TextEncoder();

  constructor(secrets: readonly ManagedSecret[]) {
    const kept = secrets.filter((s) => s.value.length >= MIN_REDACT_LENGTH);
    const patterns = kept.flatMap((s, label): Pattern[] =>
      secretForms(s.value).map((f) => ({ bytes: Buffer.from(f), label })),
    );
    this.markers = kept.map((s) => Buffer.from(`[redacted:${s.name}]`));
    this.minLength = patterns.length === 0 ? Infinity : Math.min(...patterns.map((p) => p.bytes.length));
    this.maxLength = patterns.length === 0 ? 0 : Math.max(...patterns.map((p) => p.bytes.length));
    this.matcher = patterns.length === 0 ? undefined : new Matcher(patterns);
    for (const { bytes } of patterns) {
      const pair = (bytes[0]! << 8) | bytes[1]!;
      this.starts[pair >>> 5]! |= 1 << (pair & 31);
    }
  }

  /**
   * Whether some form may start in `s`: an ASCII pair of characters is its own pair of UTF-8
   * bytes, looked up in `starts`; a string with other characters is always scanned.
   */
  private mayHold(s: string): boolean {
    const starts = this.starts;
    let a = s.charCodeAt(0);
    for (let i = 1; i < s.length; i++) {
      const b = s.charCodeAt(i);
      if (a >= 0x80 || b >= 0x80) return true;
      const pair = (a << 8) | b;
      if ((starts[pair >>> 5]! & (1 << (pair & 31))) !== 0) return true;
      a = b;
    }
    return false;
  }

  /**
   * `s` with every secret form replaced by its marker. A form is at least minLength UTF-8 bytes,
   * and a string's UTF-8 length is at least its UTF-16 length, so the length test below is safe.
   */
  /** True when `s` surely holds no form and no token shape (scrub would answer it as it is). */
  clean(s: string): boolean {
    return this.cleanOfSecrets(s) && !hasShape(s);
  }

  private cleanOfSecrets(s: string): boolean {
    return this.matcher === undefined || s.length < this.minLength / 3 || !this.mayHold(s);
  }

  scrub(s: string): string {
    const out = this.scrubSecrets(s);
    return hasShape(out) ? scrubShapes(out) : out;
  }

  private scrubSecrets(s: string): string {
    const matcher = this.matcher;
    if (matcher === undefined || this.cleanOfSecrets(s)) return s;
    if (this.scratch.length < s.length * 3) this.scratch = new Uint8Array(s.length * 3);
    const { written } = Scrubber.encoder.encodeInto(s, this.scratch);
    if (written < this.minLength) return s;
    const bytes = this.scratch.subarray(0, written);
    // Disjoint [start, end, label] triples in order; the automaton reports, at each end, the
    // longest form ending there, so a later match may start inside (or before) earlier ones.
    let hits: number[] | undefined;
    matcher.scan(0, bytes, (end, length, label) => {
      let start = end - length;
      hits ??= [];
      while (hits.length > 0 && hits[hits.length - 2]! > start) {
        start = Math.min(start, hits[hits.length - 3]!);
        label = hits[hits.length - 1]!;
        hits.length -= 3;
      }
      hits.push(start, end, label);
    });
    if (hits === undefined) return s;
    const parts: Uint8Array[] = [];
    let at = 0;
    for (let i = 0; i < hits.length; i += 3) {
      parts.push(bytes.subarray(at, hits[i]), this.markers[hits[i + 2]!]!);
      at = hits[i + 1]!;
    }
    parts.push(bytes.subarray(at));
    return Buffer.concat(parts).toString('utf8');
  }
}

const NO_SECRETS = new Scrubber([]);
const scrubbers = new WeakMap<readonly ManagedSecret[], Scrubber>();

/** The scrubber for this list, built once per list (a SecretSource answers the same array until a reload). */
export function scrubberFor(secrets: readonly ManagedSecret[]): Scrubber {
  if (secrets.length === 0) return NO_SECRETS;
  let s = scrubbers.get(secrets);
  if (s === undefined) {
    s = new Scrubber(secrets);
    scrubbers.set(secrets, s);
  }
  return s;
}

/** Cuts `s` to `max` characters after scrubbing, scanning only what can reach the kept part. */
export function scrubCapped(scrubber: Scrubber, s: string, max: number): string {
  if (s.length <= max) return scrubber.scrub(s);
  // A form that starts before `max` ends before max + maxLength: scanning that much masks it
  // whole, so the cut below can never keep the first characters of a secret. Whatever is cut
  // ends in the mark, whether the secrets are long or none.
  const scanned = s.slice(0, max + scrubber.maxLength);
  const out = scrubber.scrub(scanned);
  return out.length <= max && scanned.length === s.length ? out : `${out.slice(0, max)}…`;
}

/** How a value is walked: key redaction (arguments only), size budget, depth limit. */
interface Walk {
  scrubber: Scrubber;
  redactKeys: boolean;
  /** Characters left before the walk gives up (an estimate of the JSON size). */
  budget: number;
  /** Longest string kept. */
  maxString: number;
}

/**
 * The JSON text of `value`, redacted, written directly (no redacted copy to serialise after):
 * what JSON.stringify would write for the redacted copy, or undefined where it would leave the
 * value out. Stops descending once the budget is spent.
 */
function emit(value: unknown, w: Walk, depth: number): string | undefined {
  switch (typeof value) {
    case 'string':
      w.budget -= value.length + 3;
      return JSON.stringify(scrubCapped(w.scrubber, value, w.maxString));
    case 'number':
      w.budget -= 8;
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      w.budget -= 5;
      return value ? 'true' : 'false';
    case 'bigint':
      w.budget -= 24;
      return `"${value}"`;
    case 'object':
      break;
    default:
      // undefined, functions, symbols: what JSON.stringify leaves out.
      return undefined;
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) return `"${TOO_DEEP}"`;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return emit((toJSON as () => unknown).call(value), w, depth + 1);
  let out: string;
  if (Array.isArray(value)) {
    out = '[';
    for (let i = 0; i < value.length && w.budget >= 0; i++) {
      if (i > 0) out += ',';
      out += emit(value[i], w, depth + 1) ?? 'null';
      w.budget -= 1;
    }
    return `${out}]`;
  }
  out = '{';
  let first = true;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (w.budget < 0) break;
    w.budget -= key.length + 4;
    const v =
      w.redactKeys && isSensitiveKey(key) ? `"${REDACTED}"` : emit((value as never)[key], w, depth + 1);
    if (v === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(scrubCapped(w.scrubber, key, w.maxString))}:${v}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * Whether JSON.stringify(value) is already what emit would write: nothing to redact, mask, cut
 * or convert. Most arguments are, and the native serialiser is several times faster than emit
 * (which makes a JSON.stringify call per string). Walks within the same budget.
 */
function plain(value: unknown, w: Walk, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      w.budget -= value.length + 3;
      return value.length <= w.maxString && w.scrubber.clean(value);
    case 'bigint':
      return false;
    case 'object':
      break;
    default:
      w.budget -= 8;
      return true;
  }
  if (value === null) return true;
  if (depth >= MAX_DEPTH || w.budget < 0 || typeof (value as { toJSON?: unknown }).toJSON === 'function')
    return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!plain(item, w, depth + 1)) return false;
    return true;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    w.budget -= key.length + 4;
    if (key.length > w.maxString || !w.scrubber.clean(key) || (w.redactKeys && isSensitiveKey(key)))
      return false;
    if (!plain((value as never)[key], w, depth + 1)) return false;
  }
  return w.budget >= 0;
}

/**
 * A copy of a call's arguments fit for the audit: credential keys' values replaced, managed
 * secret values masked, nesting cut at MAX_DEPTH. `maxString` caps each string.
 */
export function redactArguments(
  value: unknown,
  secrets: readonly ManagedSecret[],
  maxString = 8192,
): unknown {
  const w: Walk = { scrubber: scrubberFor(secrets), redactKeys: true, budget: Infinity, maxString };
  const text = emit(value, w, 0);
  return text === undefined ? undefined : JSON.parse(text);
}

/** Characters of the redacted JSON kept in a truncated value's `head`. */
const HEAD = 1024;

/**
 * The JSON text of a value as the audit line carries it: redacted (keys only when `redactKeys`),
 * and at most `maxBytes` of UTF-8; a larger value becomes
 * `{"truncated":true,"bytes":<size of the original JSON>,"head":"<start of the redacted JSON>"}`.
 * The walk stops once it has seen about `maxBytes` of it, so a huge value costs no more than a
 * large one.
 */
export function redactedJson(
  value: unknown,
  scrubber: Scrubber,
  maxBytes: number,
  redactKeys: boolean,
): string {
  const fits = (t: string) => t.length <= maxBytes / 3 || Buffer.byteLength(t) <= maxBytes;
  if (plain(value, { scrubber, redactKeys, budget: maxBytes, maxString: maxBytes }, 0)) {
    const text = JSON.stringify(value) ?? 'null';
    if (fits(text)) return text;
  }
  const w: Walk = { scrubber, redactKeys, budget: maxBytes, maxString: maxBytes };
  const text = emit(value, w, 0) ?? 'null';
  if (w.budget >= 0 && fits(text)) return text;
  let bytes: number | undefined;
  try {
    bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
  } catch {
    // A cycle or a BigInt deep inside: the size stays unknown.
  }
  return JSON.stringify({ truncated: true, bytes, head: text.slice(0, Math.min(HEAD, maxBytes)) });
}
