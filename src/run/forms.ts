/**
 * The spellings of a secret value that `run` redacts from a command's output: the value as it
 * is, and the ways programs commonly re-encode it before printing it (a JSON string, a URL, a
 * base64 blob such as an `Authorization: Basic` header).
 */

/** Values shorter than this are not redacted: a 1-3 character value would mask ordinary text. */
export const MIN_REDACT_LENGTH = 4;
/** A base64 fragment taken out of a longer blob needs this many characters to be worth masking. */
const MIN_FRAGMENT_LENGTH = 6;

const hex4 = (c: string, upper: boolean): string => {
  const h = c.charCodeAt(0).toString(16).padStart(4, '0');
  return '\\u' + (upper ? h.toUpperCase() : h);
};

const urlSafe = (b64: string): string => b64.replace(/\+/g, '-').replace(/\//g, '_');

/**
 * Every distinct form of `value` to look for, longest first:
 * - raw; the trimmed value and each line of a multi-line value (a PEM key printed line by line);
 * - JSON-escaped as `JSON.stringify` writes it, and as other serialisers do: non-ASCII as
 *   `\uXXXX` (Python's default, in lower and upper case hex), `<>&` and U+2028/9 as `\u00XX`
 *   (Go's default), `/` as `\/` (PHP);
 * - URL-encoded (`encodeURIComponent`, and form encoding with `+` for a space);
 * - base64 of the UTF-8 bytes, standard and URL-safe alphabets, padded and unpadded; plus, for
 *   each of the three byte offsets the value can sit at inside a longer base64 blob (`user:pass`
 *   in a Basic header), the characters that depend on the value alone. GitHub Actions' secret
 *   masker does the same.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>();
  if (value.length < MIN_REDACT_LENGTH) return [];
  const add = (s: string, min = MIN_REDACT_LENGTH) => {
    if (s.length >= min) forms.add(s);
  };
  add(value);
  if (/[\r\n]/.test(value)) {
    add(value.trim());
    for (const line of value.split(/\r\n|\r|\n/)) add(line.trim());
  }
  const json = JSON.stringify(value).slice(1, -1);
  for (const j of [json, json.replace(/\//g, '\\/')]) {
    add(j);
    add(j.replace(/[\u007f-\uffff]/g, (c) => hex4(c, false)));
    add(j.replace(/[\u007f-\uffff]/g, (c) => hex4(c, true)));
    add(j.replace(/[<>&\u2028\u2029]/g, (c) => hex4(c, false)));
  }
  try {
    add(encodeURIComponent(value));
  } catch {
    // A lone surrogate has no URL encoding; no program can print one either.
  }
  add(new URLSearchParams([['', value]]).toString().slice(1));
  const bytes = Buffer.from(value, 'utf8');
  for (const shift of [0, 1, 2]) {
    const b64 = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    // Characters made only of the value's bits: past the shift's, before the next byte's.
    const core = b64.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6));
    const all = shift === 0 ? [b64, b64.replace(/=+$/, '')] : [];
    for (const s of all) {
      add(s);
      add(urlSafe(s));
    }
    add(core, MIN_FRAGMENT_LENGTH);
    add(urlSafe(core), MIN_FRAGMENT_LENGTH);
  }
  return [...forms].sort((a, b) => b.length - a.length);
}
