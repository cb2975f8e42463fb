import { secretForms } from '../../src/run/forms.js';
import { marker, type Secret } from '../../src/run/redactor.js';

/** A small seeded generator (mulberry32), so a failing random case can be replayed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}

const BACKSLASH = 0x5c;

/**
 * What the redactor must produce, computed the slow and obvious way on the whole input at once:
 * every occurrence of every form found with indexOf at every offset, overlapping occurrences
 * merged, each merged run replaced by the marker of its leftmost (then longest) occurrence, with
 * the JSON escape guards the redactor documents: `\` before the marker after an odd run of
 * backslashes in the output, the missing hex digits inside `\uXX`, and `\` after the marker
 * when the input's own run of backslashes up to the end of the match is odd.
 */
export function oracle(secrets: readonly Secret[], input: Buffer): Buffer {
  const forms: { bytes: Buffer; label: number }[] = [];
  const seen = new Set<string>();
  secrets
    .filter((s) => s.value.length >= 4)
    .forEach((s, label) => {
      for (const f of secretForms(s.value)) {
        if (seen.has(f)) continue;
        seen.add(f);
        forms.push({ bytes: Buffer.from(f), label });
      }
    });
  const markers = secrets.filter((s) => s.value.length >= 4).map((s) => marker(s.name));
  const occ: { s: number; e: number; label: number }[] = [];
  for (const f of forms) {
    for (let i = input.indexOf(f.bytes); i >= 0; i = input.indexOf(f.bytes, i + 1))
      occ.push({ s: i, e: i + f.bytes.length, label: f.label });
  }
  // Forms are distinct, so two occurrences never share both ends.
  occ.sort((x, y) => x.s - y.s || y.e - x.e);
  const groups: { s: number; e: number; label: number }[] = [];
  for (const o of occ) {
    const last = groups.at(-1);
    if (last && o.s < last.e) last.e = Math.max(last.e, o.e);
    else groups.push({ ...o });
  }
  let out = Buffer.alloc(0);
  let at = 0;
  const append = (b: Buffer) => (out = Buffer.concat([out, b]));
  for (const g of groups) {
    append(input.subarray(at, g.s));
    const text = out.toString('latin1');
    let guard = '';
    if (/(?:^|[^\\])(?:\\\\)*\\$/.test(text)) guard = '\\';
    else {
      const m = /(?:^|[^\\])(?:\\\\)*\\u([0-9a-fA-F]{0,3})$/.exec(text);
      if (m) guard = '0'.repeat(4 - m[1]!.length);
    }
    append(Buffer.from(guard + markers[g.label]!));
    let run = 0;
    while (run < g.e && input[g.e - 1 - run] === BACKSLASH) run++;
    if (run % 2 === 1) append(Buffer.from('\\'));
    at = g.e;
  }
  append(input.subarray(at));
  return out;
}

/** Splits `buf` at random places (empty and one-byte pieces included, UTF-8 characters cut). */
export function randomChunks(buf: Buffer, r: ReturnType<typeof rng>): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const n = r.pick([0, 1, 1, 2, 3, 5, 8, 13, 64, 1000]);
    chunks.push(buf.subarray(at, at + n));
    at += n;
  }
  return chunks;
}
