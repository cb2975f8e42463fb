import { createRequire } from 'node:module';
import { WardenError } from '../errors.js';

/**
 * Editing a .env file in place. Reading always goes through the dotenv library; the span finder
 * here only locates the lines an entry occupies so the rest of the file (comments, order, other
 * entries) survives. Every edit is checked by parsing the result with dotenv again: if it does
 * not parse to exactly the old entries with this one changed, nothing is written.
 */
const dotenv = createRequire(import.meta.url)('dotenv') as typeof import('dotenv');

export function dotenvParse(text: string): Record<string, string> {
  return dotenv.parse(text);
}

/** Entry starts: optional `export`, the key, then `=` or `:` followed by a blank (dotenv's forms). */
const ENTRY = /^[ \t]*(?:export[ \t]+)?([\w.-]+)[ \t]*(?:=|:(?=[ \t]))/gm;
const QUOTES = new Set(["'", '"', '`']);

/** [start, end) of each line range that defines `key`, end including the newline. */
function spansOf(text: string, key: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  ENTRY.lastIndex = 0;
  for (let m = ENTRY.exec(text); m; m = ENTRY.exec(text)) {
    let i = m.index + m[0].length;
    while (text[i] === ' ' || text[i] === '\t') i++;
    let end = lineEnd(text, i);
    const q = text[i];
    if (q !== undefined && QUOTES.has(q)) {
      // The value runs to the first unescaped matching quote, possibly lines later.
      let j = i + 1;
      while (j < text.length && !(text[j] === q && text[j - 1] !== '\\')) j++;
      if (j < text.length && /^[ \t]*(?:#[^\n]*)?(?:\n|$)/.test(text.slice(j + 1, lineEnd(text, j + 1) + 1)))
        end = lineEnd(text, j + 1);
    }
    const stop = end < text.length ? end + 1 : end;
    if (m[1] === key) spans.push([m.index, stop]);
    ENTRY.lastIndex = stop;
  }
  return spans;
}

function lineEnd(text: string, from: number): number {
  const n = text.indexOf('\n', from);
  return n < 0 ? text.length : n;
}

/** `KEY=<value>` in the first form dotenv reads back exactly, or an error if none does. */
export function formatEntry(key: string, value: string): string {
  const candidates = [
    ...(/^[\w.,/:@+%=-]+$/.test(value) ? [value] : []),
    `'${value}'`,
    `"${value.replace(/\n/g, '\\n')}"`,
    `"${value.replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`,
    `\`${value}\``,
  ];
  for (const c of candidates) {
    const line = `${key}=${c}`;
    if (dotenv.parse(line)[key] === value) return line;
  }
  throw new WardenError(
    'INVALID_VALUE',
    `the value of ${key} cannot be written to a .env file so that dotenv reads it back unchanged (it mixes ' " and \` quotes with line breaks or escapes); use another provider`,
  );
}

/** The file with `key` set to `value` (or removed when value is undefined), verified by dotenv. */
export function editDotenv(text: string, key: string, value: string | undefined, path: string): string {
  const crlf = text.includes('\r\n');
  const src = crlf ? text.replace(/\r\n/g, '\n') : text;
  const spans = spansOf(src, key);
  const entry = value === undefined ? undefined : formatEntry(key, value);
  let out = '';
  let at = 0;
  spans.forEach(([start, end], i) => {
    out += src.slice(at, start);
    if (entry !== undefined && i === spans.length - 1) out += entry + '\n';
    at = end;
  });
  out += src.slice(at);
  if (entry !== undefined && spans.length === 0)
    out += (out === '' || out.endsWith('\n') ? '' : '\n') + entry + '\n';
  const want = { ...dotenv.parse(src) };
  if (value === undefined) delete want[key];
  else want[key] = value;
  const got = dotenv.parse(out);
  const same =
    Object.keys(want).length === Object.keys(got).length &&
    Object.entries(want).every(([k, v]) => got[k] === v);
  if (!same) {
    throw new WardenError(
      'INVALID_VALUE',
      `cannot edit ${key} in ${path} safely (unusual quoting around it); edit that line by hand`,
    );
  }
  return crlf ? out.replace(/\n/g, '\r\n') : out;
}
