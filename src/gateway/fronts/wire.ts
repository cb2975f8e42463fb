import type { AddressInfo, Socket } from 'node:net';
import { WireRequest, WireResponse, type WireLink } from './wire-message.js';
import { CHUNKED, ChunkedDecoder, STATUS_TEXT, parseHead, type RequestHead } from './wire-parse.js';
import { tlsServer } from './wire-tls.js';

export { WireRequest, WireResponse };

/**
 * A small, strict HTTP/1.1 server on `node:net` for the gateway's hot path: node:http costs
 * about twice the CPU per request on this machine. Requests and responses offer the part of
 * IncomingMessage and ServerResponse that fronts/http.ts uses, with the same meaning.
 *
 * - Bodies are read whole (up to `maxBodyBytes`, else 413 before any of it is kept) before the
 *   handler runs; `req.body()` hands them over, `on('data')`/`on('end')` replay them.
 * - Content-Length and chunked request bodies are both read: HTTP/1.1 requires a server to
 *   decode chunked, and a client streaming its body (fetch with a ReadableStream) sends it.
 * - CRLF only: a bare LF is a 400, since a front-end proxy that reads it differently would let a
 *   request be smuggled past it.
 * - Pipelined requests are answered in order: the next handler runs once the response before it
 *   has ended. A client half-closing its side is taken, as node does, as having gone away.
 * - A response without content-length is sent chunked (close-delimited to an HTTP/1.0 client),
 *   unless `end(chunk)` comes before anything was sent: then its length is known.
 * - Errors the server answers itself close the connection and never echo the request.
 * - With `tls`, it speaks HTTPS (TLS 1.2 or later, ALPN http/1.1): a connection becomes the same
 *   HTTP connection once its handshake completes, and is dropped if that takes too long.
 */
export interface WireOptions {
  maxBodyBytes?: number;
  maxHeaderBytes?: number;
  maxHeaders?: number;
  /** From a request's first byte to the end of its head. */
  headersTimeoutMs?: number;
  /** From a request's first byte to the end of its body. */
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** The body of the server's own error answers (400, 408, 413...); plain text by default. */
  errorBody?: (status: number) => { type: string; body: string };
  /**
   * A handler that threw or rejected, errors of the listening socket after listen(), and failed
   * TLS handshakes (not those of clients that hung up before theirs: load balancers' TCP probes).
   */
  onError?: (err: unknown) => void;
  /** PEM certificate (chain) and private key, as `loadTls` reads them: the server speaks HTTPS. */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** With `tls`: from the TCP connection to the end of the handshake. */
  handshakeTimeoutMs?: number;
}

export type WireHandler = (req: WireRequest, res: WireResponse) => void | Promise<void>;

export interface WireServer {
  listen(port: number, host: string): Promise<void>;
  address(): AddressInfo | null;
  /** Stops accepting; `cb` runs once every connection has ended (idle ones are closed now). */
  close(cb?: (err?: Error) => void): void;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

const IDLE = 0; // between requests, nothing buffered yet
const HEAD = 1; // a head started
const BODY = 2; // the head read, its body not yet
const BUSY = 3; // a request with the handler, its response not ended
const LINGER = 4; // the last answer sent, waiting for the client to close

const LINGER_MS = 2_000;
const EMPTY = Buffer.alloc(0);

interface Context {
  handler: WireHandler;
  opts: Required<Omit<WireOptions, 'onError' | 'tls'>> & Pick<WireOptions, 'onError'>;
  conns: Set<Conn>;
  closing: boolean;
}

/** What a response needs of its connection. */
class Conn implements WireLink {
  phase = IDLE;
  /** Epoch ms at which the current phase times out; 0 for none. */
  deadline: number;
  #buf: Buffer | undefined;
  #scan = 0;
  #requestDeadline = 0;
  #head: RequestHead | undefined;
  #parts: Buffer[] = [];
  #got = 0;
  #chunked: ChunkedDecoder | undefined;
  #body: Buffer = EMPTY;
  #res: WireResponse | undefined;
  #processing = false;
  #paused = false;
  readonly peer: { readonly remoteAddress: string | undefined };

  constructor(
    readonly sock: Socket,
    private readonly ctx: Context,
  ) {
    this.peer = { remoteAddress: sock.remoteAddress };
    this.deadline = Date.now() + ctx.opts.headersTimeoutMs;
    sock.setNoDelay(true);
    sock.on('data', (chunk: Buffer) => this.#onData(chunk));
    sock.on('end', () => {
      if (this.phase !== LINGER) sock.destroy();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      ctx.conns.delete(this);
      this.#res?.abort();
    });
  }

  get closing(): boolean {
    return this.ctx.closing;
  }

  get idle(): boolean {
    return this.phase === IDLE && this.#buf === undefined;
  }

  #onData(chunk: Buffer): void {
    if (this.phase === LINGER) return;
    this.#buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.phase !== BUSY) return this.#process();
    // Pipelined bytes while a response is in progress: keep at most one request's worth.
    const { maxHeaderBytes, maxBodyBytes } = this.ctx.opts;
    if (this.#buf.length > maxHeaderBytes + maxBodyBytes && !this.#paused) {
      this.#paused = true;
      this.sock.pause();
    }
  }

  /** Reads heads and bodies from the buffer and runs each complete request, in order. */
  #process(): void {
    if (this.#processing) return;
    this.#processing = true;
    try {
      while (this.phase !== BUSY && this.phase !== LINGER && !this.sock.destroyed) {
        if (this.phase !== BODY && !this.#readHead()) return;
        if (this.phase === BODY && !this.#readBody()) return;
        this.#dispatch();
      }
    } finally {
      this.#processing = false;
    }
  }

  #readHead(): boolean {
    let buf = this.#buf;
    if (buf === undefined) return false;
    if (this.phase === IDLE) {
      let skip = 0; // RFC 9112 §2.2: empty lines before a request line are ignored
      while (buf[skip] === 13 && buf[skip + 1] === 10) skip += 2;
      if (skip > 0) {
        this.#buf = buf = skip < buf.length ? buf.subarray(skip) : undefined;
        if (buf === undefined) return false;
      }
      const now = Date.now();
      this.phase = HEAD;
      this.#scan = 0;
      this.deadline = now + this.ctx.opts.headersTimeoutMs;
      this.#requestDeadline = now + this.ctx.opts.requestTimeoutMs;
    }
    const { maxHeaderBytes, maxHeaders, maxBodyBytes } = this.ctx.opts;
    let end = -1;
    for (let lf = buf.indexOf(10, this.#scan); lf >= 0; lf = buf.indexOf(10, this.#scan)) {
      if (lf === 0 || buf[lf - 1] !== 13) return this.fail(400);
      if (lf === this.#scan + 1) {
        end = lf + 1;
        break;
      }
      this.#scan = lf + 1;
    }
    if (end < 0 || end > maxHeaderBytes) return buf.length > maxHeaderBytes ? this.fail(431) : false;
    const head = parseHead(buf.toString('latin1', 0, end - 2), maxHeaders);
    if (typeof head === 'number') return this.fail(head);
    if (head.length > maxBodyBytes) return this.fail(413);
    this.#buf = end < buf.length ? buf.subarray(end) : undefined;
    this.#head = head;
    this.#body = EMPTY;
    if (head.expect !== undefined) {
      if (head.expect !== '100-continue') return this.fail(417);
      if (head.minor === 1 && head.length !== 0 && this.#buf === undefined)
        this.sock.write('HTTP/1.1 100 Continue\r\n\r\n');
    }
    this.phase = BODY;
    this.deadline = this.#requestDeadline;
    this.#parts = [];
    this.#got = 0;
    this.#chunked = head.length === CHUNKED ? new ChunkedDecoder(maxBodyBytes, maxHeaderBytes) : undefined;
    return true;
  }

  #readBody(): boolean {
    const buf = this.#buf;
    const length = this.#head!.length;
    if (length === 0) return true;
    if (buf === undefined) return false;
    if (this.#chunked !== undefined) {
      const used = this.#chunked.push(buf);
      if (this.#chunked.error !== 0) return this.fail(this.#chunked.error);
      this.#buf = used < buf.length ? buf.subarray(used) : undefined;
      if (!this.#chunked.done) return false;
      this.#body = this.#chunked.body();
      return true;
    }
    const need = length - this.#got;
    if (buf.length < need) {
      this.#parts.push(buf);
      this.#got += buf.length;
      this.#buf = undefined;
      return false;
    }
    this.#parts.push(need < buf.length ? buf.subarray(0, need) : buf);
    this.#buf = need < buf.length ? buf.subarray(need) : undefined;
    this.#body = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, length);
    this.#parts = [];
    return true;
  }

  #dispatch(): void {
    const head = this.#head!;
    this.phase = BUSY;
    this.deadline = 0;
    const req = new WireRequest(head, this.#body, this.peer);
    const res = new WireResponse(
      this,
      head.method === 'HEAD',
      head.minor === 0,
      !head.keepAlive || this.ctx.closing,
    );
    this.#res = res;
    this.#head = undefined;
    this.#body = EMPTY;
    try {
      const p = this.ctx.handler(req, res);
      if (p) void p.catch((err: unknown) => this.#handlerFailed(res, err));
    } catch (err) {
      this.#handlerFailed(res, err);
    }
  }

  #handlerFailed(res: WireResponse, err: unknown): void {
    this.ctx.opts.onError?.(err);
    if (res.writableEnded || res.destroyed) return;
    if (res.headersSent) {
      this.sock.destroy();
      return;
    }
    const { type, body } = this.ctx.opts.errorBody(500);
    res.writeHead(500, { 'content-type': type, connection: 'close' }).end(body);
  }

  /** Called by the response in progress once it has ended. */
  responseEnded(close: boolean): void {
    this.#res = undefined;
    if (close || this.ctx.closing) {
      this.#linger();
      return;
    }
    this.phase = IDLE;
    this.deadline = Date.now() + this.ctx.opts.keepAliveTimeoutMs;
    if (this.#paused) {
      this.#paused = false;
      this.sock.resume();
    }
    // The next pipelined request runs on a later tick, not inside the caller's end().
    if (this.#buf !== undefined && !this.#processing) process.nextTick(() => this.#process());
  }

  /** Answers an error of the request itself and closes. Always false, for #readHead's sake. */
  fail(status: number): false {
    const { type, body } = this.ctx.opts.errorBody(status);
    this.sock.write(
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\ncontent-type: ${type}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    this.#linger();
    return false;
  }

  /** Ends our side and reads (and drops) until the client closes, so it gets the answer, not a reset. */
  #linger(): void {
    this.phase = LINGER;
    this.#buf = undefined;
    this.#parts = [];
    this.deadline = Date.now() + LINGER_MS;
    this.sock.end();
    if (this.#paused) this.sock.resume();
  }

  /** The deadline passed: a silent close when no request had begun, else 408. */
  expire(): void {
    if (this.phase === HEAD || this.phase === BODY) this.fail(408);
    else this.sock.destroy();
  }
}

function defaultErrorBody(status: number): { type: string; body: string } {
  return { type: 'text/plain; charset=utf-8', body: `${STATUS_TEXT[status] ?? 'Error'}\n` };
}

export async function createWireServer(handler: WireHandler, options: WireOptions = {}): Promise<WireServer> {
  const opts: Context['opts'] = {
    maxBodyBytes: options.maxBodyBytes ?? 4 * 1024 * 1024,
    maxHeaderBytes: options.maxHeaderBytes ?? 16 * 1024,
    maxHeaders: options.maxHeaders ?? 100,
    headersTimeoutMs: options.headersTimeoutMs ?? 15_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 65_000,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    errorBody: options.errorBody ?? defaultErrorBody,
    onError: options.onError,
  };
  for (const [name, v] of Object.entries(opts))
    if (typeof v === 'number' && !(Number.isSafeInteger(v) && v > 0))
      throw new RangeError(`wire: ${name} must be a positive integer, not ${v}`);
  const ctx: Context = { handler, opts, conns: new Set(), closing: false };
  const serve = (sock: Socket) => {
    ctx.conns.add(new Conn(sock, ctx));
  };
  const handshaking = new Map<string, Socket>();
  const server = options.tls
    ? await tlsServer(options.tls, opts, handshaking, serve)
    : (await import('node:net')).createServer({ allowHalfOpen: true, noDelay: true }, serve);
  // One timer for every connection's deadline rather than one per request.
  const tick = Math.max(
    10,
    Math.min(1000, opts.headersTimeoutMs / 4, opts.requestTimeoutMs / 4, opts.keepAliveTimeoutMs / 4),
  );
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const c of ctx.conns) if (c.deadline !== 0 && now >= c.deadline) c.expire();
  }, tick);
  sweep.unref();
  server.on('close', () => clearInterval(sweep));

  const closeIdle = () => {
    for (const c of ctx.conns) if (c.idle) c.sock.destroy();
    for (const sock of handshaking.values()) sock.destroy();
  };
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          server.on('error', (err) => opts.onError?.(err));
          resolve();
        });
      }),
    address: () => server.address() as AddressInfo | null,
    close(cb) {
      ctx.closing = true;
      server.close(cb);
      closeIdle();
    },
    closeIdleConnections: closeIdle,
    closeAllConnections() {
      for (const c of ctx.conns) c.sock.destroy();
      for (const sock of handshaking.values()) sock.destroy();
    },
  };
}
