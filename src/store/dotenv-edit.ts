import { createRequire } from 'node:module';
import type * as Dotenv from 'dotenv';
import { WardenError } from '../errors.js';

/**
 * Editing a .env file in place. Reading always goes through the dotenv library; the span finder
 * here only locates the lines an entry occupies so the rest of the file (comments, order, other
 * entries, line endings) survives byte for byte. Every edit is checked by parsing the result with
 * dotenv again: if it does not parse to exactly the old entries with this one changed, nothing is
 * written.
 */
const dotenv = createRequire(import.meta.url)('dotenv') as typeof Dotenv;

export function dotenvParse(text: string): Record<string, string> {
  return dotenv.parse(text);
}

/**
 * dotenv's own LINE expression (lib/main.js, the same from dotenv 15 to 18), plus `d` for match
 * indices. Spans found with the parser's expression, on text normalised the way the parser does
 * it, are exact where a hand-written finder drifts: a quote dotenv closes by backtracking to an
 * escaped one (`'a\'` with a bare quote lines later), a value that starts on the next line
 * (`KEY=` then `'x'`), a byte order mark or U+2028 around a key. The parse check still guards
 * against a future dotenv changing it.
 */
const LINE =
  /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/dgm;
/** What `^` and `$` stop at in a multiline JavaScript expression, once `\r` is gone. */
const EOL = /[\n\u2028\u2029]/g;

/** One definition of a key, as offsets into the normalised text. */
interface Span {
  key: string;
  /** Start of the line the entry begins on. */
  start: number;
  /** Where the key begins: [start, head) is indentation and `export `, kept on a rewrite. */
  head: number;
  /** End of the value, or of `=` when there is none: [tail, eol) is blanks and a comment. */
  tail: number;
  /** The line break after the value, or the end of the text. */
  eol: number;
  /** Past that line break. */
  end: number;
}

function spansOf(text: string): Span[] {
  const spans: Span[] = [];
  for (const m of text.matchAll(LINE)) {
    const [keyStart, keyEnd] = m.indices![1]!;
    const tail = m.indices![2]?.[1] ?? separatorEnd(text, keyEnd);
    const eol = lineBreakAt(text, tail);
    spans.push({
      key: m[1]!,
      start: lineStart(text, m.index + m[0].search(/\S/)),
      head: keyStart,
      tail,
      eol,
      end: eol < text.length ? eol + 1 : eol,
    });
  }
  return spans;
}

/** End of `=` (blanks before it included) or of `: `, the way LINE matches them with no value. */
function separatorEnd(text: string, keyEnd: number): number {
  const sep = /\s*=|:\s/y;
  sep.lastIndex = keyEnd;
  sep.exec(text);
  return sep.lastIndex;
}

function lineStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && !/[\n\u2028\u2029]/.test(text[i - 1]!)) i--;
  return i;
}

function lineBreakAt(text: string, from: number): number {
  EOL.lastIndex = from;
  return EOL.exec(text)?.index ?? text.length;
}

/**
 * The text as dotenv sees it (`\r\n` and a lone `\r` both read as `\n`), and a map from its
 * offsets back to the original's, so an edit can keep each untouched line's own line ending.
 */
function normalise(text: string): { norm: string; orig: (i: number) => number } {
  const pairs: number[] = []; // normalised offset of each `\r\n`
  const norm = text.replace(/\r\n?/g, (m: string, at: number) => {
    if (m.length === 2) pairs.push(at - pairs.length);
    return '\n';
  });
  return { norm, orig: (i) => i + pairs.filter((p) => p < i).length };
}

/** Every `KEY=<value>` spelling dotenv reads back exactly, plainest first. */
function spellings(key: string, value: string): string[] {
  const candidates = [
    ...(/^[\w.,/:@+%=-]+$/.test(value) ? [value] : []),
    `'${value}'`,
    `"${value.replace(/\n/g, '\\n')}"`,
    `"${value.replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`,
    `\`${value}\``,
  ];
  return [...new Set(candidates)]
    .map((c) => `${key}=${c}`)
    .filter((line) => dotenv.parse(line)[key] === value);
}

/** `KEY=<value>` in the first form dotenv reads back exactly, or an error if none does. */
export function formatEntry(key: string, value: string): string {
  const [first] = spellings(key, value);
  if (first === undefined) throw unrepresentable(key);
  return first;
}

function unrepresentable(key: string): WardenError {
  return new WardenError(
    'INVALID_VALUE',
    `the value of ${key} cannot be written to a .env file so that dotenv reads it back unchanged (it mixes ' " and \` quotes with line breaks, # or escapes); use another provider`,
  );
}

/**
 * The file with `key` set to `value` (or removed when value is undefined), verified by dotenv.
 * Each spelling of the entry is tried in place, because the neighbours matter: after
 * `A='x\'` dotenv lets A's quote run on to the next bare `'`, so `B='#1'` would vanish into A
 * while `B="#1"` stays B.
 */
export function editDotenv(text: string, key: string, value: string | undefined, path: string): string {
  // dotenv.parse fills a plain object, where this key sets the prototype instead of an entry.
  if (key === '__proto__')
    throw new WardenError('INVALID_NAME', `a .env file cannot hold a key named ${key}; pick another name`);
  const want = { ...dotenv.parse(text) };
  if (value === undefined) delete want[key];
  else want[key] = value;
  const entries = value === undefined ? [undefined] : spellings(key, value);
  if (entries.length === 0) throw unrepresentable(key);
  for (const entry of entries) {
    const out = splice(text, key, entry);
    if (sameEntries(dotenv.parse(out), want)) return out;
  }
  throw new WardenError(
    'INVALID_VALUE',
    `cannot edit ${key} in ${path} safely (unusual quoting around it); edit that line by hand`,
  );
}

/** `text` with every definition of `key` removed, and `entry` in place of the last (or appended). */
function splice(text: string, key: string, entry: string | undefined): string {
  const { norm, orig } = normalise(text);
  const spans = spansOf(norm).filter((s) => s.key === key);
  // A new entry takes the file's line ending; dotenv reads a line break inside a value either way.
  const nl = text.includes('\r\n') ? '\r\n' : '\n';
  const line = entry?.replace(/\n/g, nl);
  let out = '';
  let at = 0;
  spans.forEach((s, i) => {
    out += text.slice(at, orig(s.start));
    // Duplicates collapse into the last definition (the one dotenv uses): no old value lingers.
    if (line !== undefined && i === spans.length - 1) out += rewrite(text, s, orig, line);
    at = orig(s.end);
  });
  out += text.slice(at);
  if (line !== undefined && spans.length === 0)
    out += (out === '' || /[\r\n]$/.test(out) ? '' : nl) + line + nl;
  return out;
}

/** The entry's new text: its indentation, `export` and inline comment kept, its line break too. */
function rewrite(text: string, s: Span, orig: (i: number) => number, entry: string): string {
  const comment = text.slice(orig(s.tail), orig(s.eol)).trim();
  return (
    text.slice(orig(s.start), orig(s.head)) +
    entry +
    (comment ? ` ${comment}` : '') +
    text.slice(orig(s.eol), orig(s.end))
  );
}

function sameEntries(got: Record<string, string>, want: Record<string, string>): boolean {
  return (
    Object.keys(want).length === Object.keys(got).length &&
    Object.entries(want).every(([k, v]) => got[k] === v)
  );
}
