import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import { STATUS_TEXT, TOKEN, type RequestHead } from './wire-parse.js';

/**
 * The request and response objects of wire.ts: the part of node's IncomingMessage and
 * ServerResponse that fronts/http.ts uses, with the same meaning. The response chooses its
 * framing when its first bytes go out: content-length when known (given, or `end(chunk)` before
 * anything was sent), else chunked (close-delimited to an HTTP/1.0 client).
 */
const EMPTY = Buffer.alloc(0);

export interface WireLink {
  readonly sock: Socket;
  readonly closing: boolean;
  responseEnded(close: boolean): void;
}

type DataListener = (chunk: Buffer) => void;
type EndListener = () => void;

export class WireRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion: '1.0' | '1.1';
  readonly headers: IncomingHttpHeaders;
  #body: Buffer;
  // Listeners, allocated when there are any: most handlers call body() instead.
  #data: DataListener[] | undefined;
  #end: EndListener[] | undefined;
  #flowing = false;

  constructor(
    head: RequestHead,
    body: Buffer,
    readonly socket: { readonly remoteAddress: string | undefined },
  ) {
    this.method = head.method;
    this.url = head.url;
    this.httpVersion = head.minor === 1 ? '1.1' : '1.0';
    this.headers = head.headers;
    this.#body = body;
  }

  /** The whole body (empty when there is none). */
  body(): Buffer {
    return this.#body;
  }

  /** Like a stream's: a 'data' listener or resume() starts the flow, on a later tick. */
  on(event: 'data', cb: DataListener): this;
  on(event: 'end', cb: EndListener): this;
  /** Never emitted: the body is complete before the handler runs. */
  on(event: 'error', cb: (err: Error) => void): this;
  on(event: 'data' | 'end' | 'error', cb: (...args: never[]) => void): this {
    if (event === 'data') {
      (this.#data ??= []).push(cb as DataListener);
      this.resume();
    } else if (event === 'end') (this.#end ??= []).push(cb);
    return this;
  }

  resume(): this {
    if (!this.#flowing) {
      this.#flowing = true;
      process.nextTick(() => {
        const data = this.#data;
        // A listener may remove the others (http.ts does, over its limit).
        if (this.#body.length > 0 && data)
          for (const cb of [...data]) if (this.#data === data) cb(this.#body);
        for (const cb of this.#end ?? []) cb();
      });
    }
    return this;
  }

  removeAllListeners(event?: 'data' | 'end' | 'error'): this {
    if (event === undefined || event === 'data') this.#data = undefined;
    if (event === undefined || event === 'end') this.#end = undefined;
    return this;
  }
}

const UNSENT = 0;
const LENGTH = 1; // content-length
const CHUNKS = 2; // transfer-encoding: chunked
const TO_CLOSE = 3; // HTTP/1.0 without a length: the body ends with the connection
const NO_BODY = 4; // HEAD, 204, 304
const BAD_VALUE = /[^\t\x20-\x7e]/;

export class WireResponse {
  headersSent = false;
  writableEnded = false;
  destroyed = false;
  #status = 200;
  #lines = '';
  #length = -1;
  #framing = UNSENT;
  #closeListeners: (() => void)[] | undefined;

  constructor(
    private readonly conn: WireLink,
    private readonly noBody: boolean,
    private readonly http10: boolean,
    private closeAfter: boolean,
  ) {}

  /** Headers as an object or as flat [name, value, ...] pairs; CR, LF and non-ASCII throw. */
  writeHead(status: number, headers?: Record<string, string> | readonly string[]): this {
    if (this.headersSent) throw new Error('wire: writeHead after the headers were sent');
    if (!Number.isInteger(status) || status < 200 || status > 999)
      throw new RangeError(`wire: invalid status ${status}`);
    let lines = '';
    if (Array.isArray(headers)) {
      const pairs = headers as readonly string[];
      for (let i = 0; i + 1 < pairs.length; i += 2) lines += this.#line(pairs[i]!, pairs[i + 1]!);
    } else if (headers !== undefined)
      for (const name of Object.keys(headers))
        lines += this.#line(name, (headers as Record<string, string>)[name]!);
    this.#status = status;
    this.#lines = lines;
    this.headersSent = true;
    return this;
  }

  /** One header line to write, checked: content-length is read for the framing, connection is ours. */
  #line(name: string, v: string): string {
    const value = String(v);
    if (!TOKEN.test(name)) throw new Error(`wire: invalid header name ${JSON.stringify(name)}`);
    if (BAD_VALUE.test(value)) throw new Error(`wire: invalid characters in the value of header ${name}`);
    const key = name.toLowerCase();
    if (key === 'transfer-encoding') throw new Error('wire: transfer-encoding is set by the server');
    if (key === 'connection') {
      // Ours is written at flush; theirs only counts when it asks to close.
      if (/(^|,)[ \t]*close[ \t]*(,|$)/i.test(value)) this.closeAfter = true;
      return '';
    }
    if (key === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) throw new Error('wire: invalid content-length');
      this.#length = Number(value);
    }
    return `${name}: ${value}\r\n`;
  }

  flushHeaders(): void {
    if (!this.headersSent) this.writeHead(200);
    if (this.#framing === UNSENT && !this.destroyed) this.conn.sock.write(this.#head(undefined, false));
  }

  /** Writes a chunk (an empty one is a no-op); false when the socket's buffer is full. */
  write(chunk: string | Buffer): boolean {
    if (this.writableEnded) throw new Error('wire: write after end');
    if (!this.headersSent) this.writeHead(200);
    if (this.destroyed) return false;
    const head = this.#framing === UNSENT ? this.#head(chunk, false) : '';
    return this.#send(head, chunk, '');
  }

  end(chunk?: string | Buffer): this {
    if (this.writableEnded) return this;
    if (!this.headersSent) this.writeHead(200);
    this.writableEnded = true;
    if (this.destroyed) return this;
    const head = this.#framing === UNSENT ? this.#head(chunk, true) : '';
    try {
      this.#send(head, chunk ?? EMPTY, this.#framing === CHUNKS ? '0\r\n\r\n' : '');
    } catch (err) {
      this.conn.sock.destroy();
      throw err;
    }
    // A body shorter than announced leaves the connection's framing broken: close it.
    if (this.#framing === LENGTH && this.#length !== 0) this.closeAfter = true;
    this.conn.responseEnded(this.closeAfter || this.#framing === TO_CLOSE);
    this.#closed();
    return this;
  }

  once(event: 'close', cb: () => void): this {
    if (event === 'close') (this.#closeListeners ??= []).push(cb);
    return this;
  }

  on(event: 'close', cb: () => void): this {
    return this.once(event, cb);
  }

  /** The connection died before the response ended. */
  abort(): void {
    if (this.writableEnded || this.destroyed) return;
    this.destroyed = true;
    this.#closed();
  }

  #closed(): void {
    const listeners = this.#closeListeners;
    this.#closeListeners = undefined;
    if (listeners) for (const cb of listeners) cb();
  }

  /** The status line and headers, the framing chosen now that the first bytes are going out. */
  #head(chunk: string | Buffer | undefined, last: boolean): string {
    const status = this.#status;
    let head = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Unknown'}\r\n${this.#lines}`;
    if (this.noBody || status === 204 || status === 304) this.#framing = NO_BODY;
    else if (this.#length >= 0) this.#framing = LENGTH;
    else if (last) {
      this.#length = chunk === undefined ? 0 : Buffer.byteLength(chunk);
      this.#framing = LENGTH;
      head += `content-length: ${this.#length}\r\n`;
    } else if (this.http10) {
      this.#framing = TO_CLOSE;
      this.closeAfter = true;
    } else {
      this.#framing = CHUNKS;
      head += 'transfer-encoding: chunked\r\n';
    }
    if (this.closeAfter || this.conn.closing) {
      this.closeAfter = true;
      head += 'connection: close\r\n';
    }
    return head + '\r\n';
  }

  #send(head: string, chunk: string | Buffer, trailer: string): boolean {
    const sock = this.conn.sock;
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    if (size === 0 || this.#framing === NO_BODY)
      return head === '' && trailer === '' ? true : sock.write(head + trailer);
    let before = head;
    let after = trailer;
    if (this.#framing === LENGTH) {
      if (size > this.#length) throw new Error('wire: the body is longer than its content-length');
      this.#length -= size;
    } else if (this.#framing === CHUNKS) {
      before += `${size.toString(16)}\r\n`;
      after = `\r\n${trailer}`;
    }
    if (typeof chunk === 'string') return sock.write(before + chunk + after);
    sock.cork();
    if (before !== '') sock.write(before);
    sock.write(chunk);
    const ok = after === '' ? true : sock.write(after);
    sock.uncork();
    return ok;
  }
}

/** One client connection: its buffered bytes, the request in progress and its deadline. */
