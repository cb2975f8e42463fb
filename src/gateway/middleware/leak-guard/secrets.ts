import { MIN_REDACT_LENGTH, secretForms } from '../../../run/forms.js';
import { marker } from '../../../run/redactor.js';
import type { ManagedSecret } from '../../pipeline.js';

/**
 * Every spelling of every managed secret (forms.ts: raw, JSON-escaped, URL-encoded, base64 and
 * base64url, and the base64 fragments that survive inside a longer blob), searched at once.
 *
 * `run`'s redactor uses matcher.ts (Aho–Corasick over UTF-8 bytes) because it must find values
 * in a byte stream, across chunks. Here the text is a whole JS string and nearly always clean,
 * and what matters is how fast a clean text is declared clean. Aho–Corasick reads every byte
 * (about 6 µs/KB on the reference machine, after encoding the string to UTF-8); this is a
 * Wu–Manber filter that reads one 3-character window every up to W-2 characters (W: the
 * shortest pattern, at most 16) and looks the window up in a table of how far it may skip: about
 * 0.5 µs/KB for 50 secrets, on the string itself. Only where a window could end a pattern's
 * first W characters (rare) does it compare, and it then checks every pattern with those first W
 * characters in full, so it finds every occurrence of every pattern: no pattern longer than W can
 * occur without its first W characters ending at a window the scan looks at.
 */
const B = 3;
const MAX_WINDOW = 16;
const MASK = 0xffff;

function hash3(a: number, b: number, c: number): number {
  return ((a * 961 + b * 31 + c) ^ (a >>> 5)) & MASK;
}

export interface FormPattern {
  text: string;
  label: number;
}

export class FormIndex {
  private readonly window: number;
  private readonly shift: Uint8Array;
  /** First `window` characters → the patterns that start with them, longest first. */
  private readonly byPrefix = new Map<string, FormPattern[]>();

  constructor(patterns: readonly FormPattern[]) {
    let min = Infinity;
    for (const p of patterns) min = Math.min(min, p.text.length);
    // Patterns are never shorter than B + 1 (forms.ts keeps 4 characters and up).
    this.window = Math.max(B + 1, Math.min(MAX_WINDOW, min));
    const w = this.window;
    this.shift = new Uint8Array(MASK + 1).fill(w - B + 1);
    for (const p of patterns) {
      if (p.text.length < w) continue;
      const prefix = p.text.slice(0, w);
      const list = this.byPrefix.get(prefix);
      if (list) list.push(p);
      else this.byPrefix.set(prefix, [p]);
      for (let j = B - 1; j < w; j++) {
        const h = hash3(p.text.charCodeAt(j - 2), p.text.charCodeAt(j - 1), p.text.charCodeAt(j));
        if (this.shift[h]! > w - 1 - j) this.shift[h] = w - 1 - j;
      }
    }
    for (const list of this.byPrefix.values()) list.sort((a, b) => b.text.length - a.text.length);
  }

  get size(): number {
    return this.byPrefix.size;
  }

  /**
   * Calls `onMatch` for every occurrence of every pattern (start, end, label), in order of
   * start; stops early when it answers true (and then answers true).
   */
  scan(text: string, onMatch: (start: number, end: number, label: number) => boolean | void): boolean {
    const { window: w, shift } = this;
    if (this.byPrefix.size === 0) return false;
    const n = text.length;
    let i = w - 1;
    while (i < n) {
      const s = shift[hash3(text.charCodeAt(i - 2), text.charCodeAt(i - 1), text.charCodeAt(i))]!;
      if (s !== 0) {
        i += s;
        continue;
      }
      const start = i - w + 1;
      const list = this.byPrefix.get(text.slice(start, i + 1));
      if (list)
        for (const p of list)
          if (text.startsWith(p.text, start) && onMatch(start, start + p.text.length, p.label) === true)
            return true;
      i++;
    }
    return false;
  }
}

/** The managed secrets as the leak guard searches them; built again only when the list changes. */
export class SecretIndex {
  /** Label → the secret (only values long enough to redact). */
  readonly secrets: readonly ManagedSecret[];
  readonly markers: readonly string[];
  readonly forms: FormIndex;

  constructor(list: readonly ManagedSecret[]) {
    // Two entries with one value (a secret shared by two servers) keep the first name.
    const seen = new Set<string>();
    this.secrets = list.filter((s) => {
      if (s.value.length < MIN_REDACT_LENGTH || seen.has(s.value)) return false;
      seen.add(s.value);
      return true;
    });
    this.markers = this.secrets.map((s) => marker(s.name));
    const patterns: FormPattern[] = [];
    const added = new Set<string>();
    this.secrets.forEach((s, label) => {
      for (const form of secretForms(s.value)) {
        // Each form, and each form escaped once more: forms.ts has the value as it reads inside
        // a JSON string; this is how it reads in JSON held in a JSON string (a tool that returns
        // a JSON document whose text is itself JSON). Only values with a quote, a backslash or a
        // control character get extra patterns.
        for (const text of [form, JSON.stringify(form).slice(1, -1)]) {
          if (added.has(text)) continue;
          added.add(text);
          patterns.push({ text, label });
        }
      }
    });
    this.forms = new FormIndex(patterns);
  }
}
