import type { IncomingHttpHeaders } from 'node:http';

/**
 * The request side of wire.ts, strict on purpose (it faces untrusted clients and anything two
 * parsers could read differently is a smuggling vector): a request head split into its parts
 * and checked, and the decoder of `Transfer-Encoding: chunked` bodies. Whatever does not parse
 * is answered with a status code, never guessed at.
 */
export interface RequestHead {
  method: string;
  url: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  headers: IncomingHttpHeaders;
  /** The body's size from Content-Length (0 when absent), or CHUNKED. */
  length: number;
  keepAlive: boolean;
  /** Lowercased Expect header, if any. */
  expect: string | undefined;
}

export const CHUNKED = -1;

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  411: 'Length Required',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  417: 'Expectation Failed',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) HTTP\/(\d)\.(\d)$/;
export const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** `name: value` lines to the end: a token, then HTAB, visible ASCII and obs-text (latin1). */
const HEADER_LINES = /(?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[\t\x20-\x7e\x80-\xff]*\r\n)*$/y;
const DIGITS = /^\d{1,15}$/;
/** Headers node keeps the first of when repeated (host and content-length are checked instead). */
const FIRST_ONLY = new Set([
  'age',
  'authorization',
  'content-type',
  'etag',
  'expires',
  'from',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++;
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/**
 * A request head (its text up to the blank line, each line with its CRLF; the caller has
 * checked there is no bare LF) as a RequestHead, or the status to answer: 400 malformed, 431
 * too many headers, 501 a transfer coding other than chunked, 505 an HTTP version other than 1.0
 * and 1.1.
 */
export function parseHead(text: string, maxHeaders: number): RequestHead | number {
  const eol = text.indexOf('\r\n');
  const m = REQUEST_LINE.exec(text.slice(0, eol));
  if (!m) return 400;
  if (m[3] !== '1' || (m[4] !== '0' && m[4] !== '1')) return 505;
  const method = m[1]!;
  const url = m[2]!;
  // Origin form only (and `OPTIONS *`): absolute form is for proxies, authority form for CONNECT.
  if (url.charCodeAt(0) !== 47 && !(url === '*' && method === 'OPTIONS')) return 400;
  const minor = m[4] === '1' ? 1 : 0;
  // Every header line at once, in one linear pass: no obs-fold, no whitespace before a colon.
  HEADER_LINES.lastIndex = eol + 2;
  if (!HEADER_LINES.test(text)) return 400;

  // A plain object as node has it: `typeof` checks below keep inherited names (constructor) out.
  const headers: IncomingHttpHeaders = {};
  let length = 0;
  let lengthText: string | undefined;
  let hosts = 0;
  let count = 0;
  for (let pos = eol + 2; pos < text.length;) {
    if (++count > maxHeaders) return 431;
    const colon = text.indexOf(':', pos);
    const end = text.indexOf('\r\n', colon);
    const name = text.slice(pos, colon);
    const value = trimOws(text.slice(colon + 1, end));
    pos = end + 2;
    const key = name.toLowerCase();
    if (key === 'content-length') {
      // Repeated, or a list: allowed only when every value is the same number (RFC 9112 §6.3).
      for (const v of value.includes(',') ? value.split(',').map(trimOws) : [value]) {
        if (lengthText === undefined && DIGITS.test(v)) lengthText = v;
        else if (v !== lengthText) return 400;
      }
      continue;
    }
    if (key === 'host') hosts++;
    const prev = headers[key];
    if (key === 'set-cookie') {
      if (Array.isArray(prev)) prev.push(value);
      else headers[key] = [value];
    } else if (typeof prev !== 'string') headers[key] = value;
    else if (!FIRST_ONLY.has(key)) headers[key] = `${prev}${key === 'cookie' ? '; ' : ', '}${value}`;
  }
  // RFC 9112 §3.2: exactly one Host in 1.1, at most one in 1.0.
  if (hosts > 1 || (minor === 1 && hosts === 0)) return 400;

  if (lengthText !== undefined) {
    length = Number(lengthText);
    headers['content-length'] = lengthText;
  }
  const te = headers['transfer-encoding'];
  if (te !== undefined) {
    // Both framings at once, or chunked in 1.0: the classic request-smuggling shapes.
    if (lengthText !== undefined || minor === 0) return 400;
    if (te.toLowerCase() !== 'chunked') return 501;
    length = CHUNKED;
  }
  const connection = headers.connection?.toLowerCase();
  const keepAlive =
    minor === 1 && (connection === undefined || !connection.split(',').some((t) => trimOws(t) === 'close'));
  return { method, url, minor, headers, length, keepAlive, expect: headers.expect?.toLowerCase() };
}

const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;[\t\x20-\x7e\x80-\xff]*)?$/;
const MAX_CHUNK_LINE = 4096;
const SIZE = 0;
const DATA = 1;
const DATA_END = 2;
const TRAILERS = 3;
const DONE = 4;

/**
 * An incremental decoder of a chunked body: `push(buf)` takes what it can and answers how many
 * bytes it used (the rest, a partial line, is to be given again with more after it). `error` is
 * then the status to answer (400 malformed, 413 over `limit` bytes of data, 431 trailers over
 * `maxTrailerBytes`) and `done` says the body is complete. Extensions and trailers are read and
 * dropped.
 */
export class ChunkedDecoder {
  error = 0;
  #parts: Buffer[] = [];
  #size = 0;
  #state = SIZE;
  #left = 0;
  #trailerBytes = 0;

  constructor(
    readonly limit: number,
    readonly maxTrailerBytes: number,
  ) {}

  get done(): boolean {
    return this.#state === DONE;
  }

  body(): Buffer {
    return this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#size);
  }

  /** The next CRLF-ended line from `pos` (without its CRLF), undefined when incomplete. */
  #line(buf: Buffer, pos: number, max: number): string | undefined {
    const lf = buf.indexOf(10, pos);
    if (lf < 0) {
      if (buf.length - pos > max) this.error = this.#state === SIZE ? 400 : 431;
      return undefined;
    }
    if (lf === pos || buf[lf - 1] !== 13) {
      this.error = 400;
      return undefined;
    }
    if (lf - pos > max) {
      this.error = this.#state === SIZE ? 400 : 431;
      return undefined;
    }
    return buf.toString('latin1', pos, lf - 1);
  }

  push(buf: Buffer): number {
    let pos = 0;
    while (pos < buf.length && this.error === 0) {
      if (this.#state === SIZE) {
        const line = this.#line(buf, pos, MAX_CHUNK_LINE);
        if (line === undefined) break;
        const m = CHUNK_SIZE.exec(line);
        if (!m) {
          this.error = 400;
          break;
        }
        pos += line.length + 2;
        const n = parseInt(m[1]!, 16);
        if (this.#size + n > this.limit) this.error = 413;
        this.#left = n;
        this.#state = n === 0 ? TRAILERS : DATA;
      } else if (this.#state === DATA) {
        const take = Math.min(this.#left, buf.length - pos);
        this.#parts.push(buf.subarray(pos, pos + take));
        this.#size += take;
        this.#left -= take;
        pos += take;
        if (this.#left === 0) this.#state = DATA_END;
      } else if (this.#state === DATA_END) {
        if (buf.length - pos < 2) break;
        if (buf[pos] !== 13 || buf[pos + 1] !== 10) this.error = 400;
        pos += 2;
        this.#state = SIZE;
      } else if (this.#state === TRAILERS) {
        const line = this.#line(buf, pos, this.maxTrailerBytes - this.#trailerBytes);
        if (line === undefined) break;
        pos += line.length + 2;
        this.#trailerBytes += line.length + 2;
        if (line === '') this.#state = DONE;
        else if (line.indexOf(':') <= 0) this.error = 400;
      } else break;
    }
    return pos;
  }
}
