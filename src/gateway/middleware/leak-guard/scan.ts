import type { Allow } from './allow.js';
import { SHAPES_RE, findShapes, mayHoldShape, shapeOf } from './detectors.js';
import type { SecretIndex } from './secrets.js';

/**
 * Looks for secrets in a JSON value (a call's arguments, a result) and rewrites the strings that
 * hold one. Most values hold none, so the work is split:
 *  - the fast check visits the value once, without copying or serialising it: a long string is
 *    searched where it is, short strings and keys are joined (by newlines) into batches of about
 *    16 K characters first, so a result of a thousand small fields costs a few searches and not a
 *    thousand; a clean value stops there;
 *  - only then is the value walked again, every string (keys too) searched on its own, and the
 *    strings with a hit replaced, their containers copied and the rest shared.
 * The fast check may answer "suspicious" for nothing the walk finds (a match across two joined
 * strings), never the reverse. A finding names the detector and the JSON path, never the text.
 *
 * (Serialising the value with JSON.stringify and searching that one string was measured too: for
 * a 64 KB result the string lands in V8's large-object space, and the call cost 12-20 µs/KB
 * instead of 4.)
 */
export interface Finding {
  /** A shape detector's id, or `secret:NAME`. */
  detector: string;
  /** Where: `arguments.body`, `result.content[0].text`. */
  path: string;
}

export interface Inspection {
  value: unknown;
  findings: Finding[];
}

export interface Detectors {
  shapes: boolean;
  index: SecretIndex | undefined;
}

/** Beyond this depth a subtree is treated as one string (its JSON), so the walk cannot overflow. */
const MAX_DEPTH = 512;

export function inspect(value: unknown, root: string, d: Detectors, allow: Allow): Inspection | undefined {
  if (!suspicious(value, d, allow)) return undefined;
  const walk = new Walk(d, allow);
  const out = walk.value(value, [root], 0);
  return walk.findings.length === 0 ? undefined : { value: out, findings: walk.findings };
}

function secretAllowed(d: Detectors, allow: Allow, label: number): boolean {
  const s = d.index!.secrets[label]!;
  return allow.secrets.has(s.name) || allow.literals.has(s.value);
}

/** Strings at least this long are searched where they are; shorter ones in batches. */
const ALONE = 1024;
const BATCH = 16_384;
/** Values come off the wire (no cycles); past this many nodes one is assumed, and a walk decides. */
const MAX_NODES = 5_000_000;

function suspicious(value: unknown, d: Detectors, allow: Allow): boolean {
  if (typeof value === 'string') return found(value, d, allow);
  const batch: string[] = [];
  let size = 0;
  const add = (s: string): boolean => {
    batch.push(s);
    size += s.length + 1;
    if (size < BATCH) return false;
    const text = batch.join('\n');
    batch.length = 0;
    size = 0;
    return found(text, d, allow);
  };
  const stack: unknown[] = [value];
  for (let nodes = 0; stack.length > 0; nodes++) {
    if (nodes > MAX_NODES) return true;
    const v = stack.pop();
    if (typeof v === 'string') {
      if (v.length >= ALONE ? found(v, d, allow) : add(v)) return true;
    } else if (typeof v === 'object' && v !== null) {
      if (Array.isArray(v)) for (let i = v.length - 1; i >= 0; i--) stack.push(v[i]);
      else
        for (const k of Object.keys(v)) {
          if (add(k)) return true;
          stack.push((v as Record<string, unknown>)[k]);
        }
    }
  }
  return size > 0 && found(batch.join('\n'), d, allow);
}

/** Whether `text` holds a secret or a shape the allowlist does not exempt. */
function found(text: string, d: Detectors, allow: Allow): boolean {
  if (d.index && d.index.forms.scan(text, (_start, _end, label) => !secretAllowed(d, allow, label)))
    return true;
  if (!d.shapes || !mayHoldShape(text)) return false;
  const re = SHAPES_RE;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const shape = shapeOf(m);
    const matched = shape.value ? m.groups![shape.value]! : m[0];
    if (!allow.detectors.has(shape.id) && !allow.literals.has(matched)) {
      re.lastIndex = 0;
      return true;
    }
  }
  return false;
}

interface Hit {
  start: number;
  end: number;
  marker: string;
  detector: string;
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function pathText(path: readonly (string | number)[]): string {
  let out = String(path[0]);
  for (let i = 1; i < path.length; i++) {
    const seg = path[i]!;
    out +=
      typeof seg === 'number' ? `[${seg}]` : PLAIN_KEY.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
  }
  return out;
}

class Walk {
  readonly findings: Finding[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly d: Detectors,
    private readonly allow: Allow,
  ) {}

  value(v: unknown, path: (string | number)[], depth: number): unknown {
    if (typeof v === 'string') return this.string(v, path);
    if (v === null || typeof v !== 'object') return v;
    if (depth >= MAX_DEPTH) {
      let json: string | undefined;
      try {
        json = JSON.stringify(v);
      } catch {
        json = undefined;
      }
      const r = json === undefined ? json : this.string(json, path);
      return r === json ? v : r;
    }
    if (Array.isArray(v)) {
      let out: unknown[] | undefined;
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        const r = this.value(v[i], path, depth + 1);
        path.pop();
        if (r !== v[i]) (out ??= v.slice())[i] = r;
      }
      return out ?? v;
    }
    const obj = v as Record<string, unknown>;
    const keys = Object.keys(obj);
    let out: Record<string, unknown> | undefined;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const nk = this.string(k, path, true);
      path.push(nk);
      const r = this.value(obj[k], path, depth + 1);
      path.pop();
      if (!out && (nk !== k || r !== obj[k])) {
        out = {};
        for (let j = 0; j < i; j++) out[keys[j]!] = obj[keys[j]!];
      }
      if (out) out[nk] = r;
    }
    return out ?? v;
  }

  /** The string with every hit replaced by its marker (the same string when there is none). */
  string(s: string, path: readonly (string | number)[], isKey = false): string {
    const hits = this.hits(s);
    if (hits.length === 0) return s;
    hits.sort((a, b) => a.start - b.start || b.end - a.end);
    let out = '';
    let at = 0;
    for (let i = 0; i < hits.length;) {
      const first = hits[i]!;
      let end = first.end;
      // Overlapping hits (a value and its JSON form, two secrets sharing characters): one marker.
      for (i++; i < hits.length && hits[i]!.start < end; i++) end = Math.max(end, hits[i]!.end);
      out += s.slice(at, first.start) + escapeGuard(s, first.start, end, first.marker);
      at = end;
    }
    out += s.slice(at);
    const where = pathText(isKey ? [...path, '(key)'] : path);
    for (const h of hits) {
      const key = `${h.detector}\0${where}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.findings.push({ detector: h.detector, path: where });
    }
    return out;
  }

  private hits(s: string): Hit[] {
    const hits: Hit[] = [];
    const { index, shapes } = this.d;
    if (index)
      index.forms.scan(s, (start, end, label) => {
        if (secretAllowed(this.d, this.allow, label)) return;
        hits.push({
          start,
          end,
          marker: index.markers[label]!,
          detector: `secret:${index.secrets[label]!.name}`,
        });
      });
    if (shapes)
      for (const h of findShapes(
        s,
        (id, text) => this.allow.detectors.has(id) || this.allow.literals.has(text),
      ))
        hits.push({ start: h.start, end: h.end, marker: `[redacted:${h.id}]`, detector: h.id });
    return hits;
  }
}

/**
 * The marker, with a backslash added where the cut would unbalance a JSON escape in the text
 * around it (a value inside JSON inside a string): before it when the hit starts right after an
 * escaping backslash, after it when the hit ends with one.
 */
function escapeGuard(s: string, start: number, end: number, marker: string): string {
  const before = backslashesBefore(s, start) % 2 === 1 ? '\\' : '';
  const after = s.charCodeAt(end - 1) === 0x5c && backslashesBefore(s, end) % 2 === 1 ? '\\' : '';
  return before + marker + after;
}

function backslashesBefore(s: string, at: number): number {
  let i = at;
  while (i > 0 && s.charCodeAt(i - 1) === 0x5c) i--;
  return at - i;
}
