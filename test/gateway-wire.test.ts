import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createWireServer,
  type WireHandler,
  type WireOptions,
  type WireRequest,
  type WireServer,
} from '../src/gateway/fronts/wire.js';
import { GET, raw, responses } from './helpers/raw-http.js';

/**
 * The hand-written HTTP/1.1 server of the gateway's HTTP front, against real sockets on
 * 127.0.0.1: raw ones for framing, limits and timeouts, and fetch (undici) as a real client.
 */
const running: WireServer[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: WireHandler, opts: WireOptions = {}): Promise<number> {
  const server = await createWireServer(handler, opts);
  await server.listen(0, '127.0.0.1');
  running.push(server);
  return server.address()!.port;
}

/** A JSON echo of what the handler was given. */
const echo: WireHandler = (req, res) => {
  const text = JSON.stringify({
    method: req.method,
    url: req.url,
    headers: req.headers,
    body: req.body().toString('utf8'),
    remote: req.socket.remoteAddress,
  });
  res
    .writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) })
    .end(text);
};

describe('wire: requests and responses', () => {
  it('wire:simple: answers a GET with the request as node would present it', async () => {
    const port = await serve(echo);
    const c = raw(port);
    c.send(
      'GET /mcp?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Multi: a\r\nx-multi:  b \r\nSet-Cookie: s1\r\n' +
        'set-cookie: s2\r\nCookie: c1\r\nCookie: c2\r\nUser-Agent: first\r\nUser-Agent: second\r\n' +
        'Constructor: c\r\nContent-Length: 0, 0\r\n\r\n',
    );
    const [r] = await c.responses(1);
    expect(r!.status).toBe(200);
    expect(r!.headers['content-type']).toBe('application/json');
    expect(r!.headers.connection).toBeUndefined();
    expect(JSON.parse(r!.body)).toEqual({
      method: 'GET',
      url: '/mcp?x=1',
      headers: {
        host: '127.0.0.1',
        'x-multi': 'a, b',
        'set-cookie': ['s1', 's2'],
        cookie: 'c1; c2',
        'user-agent': 'first',
        constructor: 'c',
        'content-length': '0',
      },
      body: '',
      remote: '127.0.0.1',
    });
    expect(c.closed).toBe(false);
  });

  it('wire:keep-alive: serves requests one after another on one connection', async () => {
    const port = await serve(echo);
    const c = raw(port);
    c.send(GET('/one'));
    await c.responses(1);
    c.send(GET('/two'));
    const rs = await c.responses(2);
    expect(rs.map((r) => (JSON.parse(r.body) as { url: string }).url)).toEqual(['/one', '/two']);
    expect(c.closed).toBe(false);
  });

  it('wire:pipelining: answers in order, each handler after the previous response ended', async () => {
    const events: string[] = [];
    const port = await serve(async (req, res) => {
      events.push(`start ${req.url}`);
      if (req.url === '/slow') await sleep(100);
      events.push(`end ${req.url}`);
      res.writeHead(200, { 'content-length': String(req.url.length) }).end(req.url);
    });
    const c = raw(port);
    c.send(GET('/slow') + `POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc` + GET('/b'));
    const rs = await c.responses(3);
    expect(rs.map((r) => r.body)).toEqual(['/slow', '/a', '/b']);
    expect(events).toEqual(['start /slow', 'end /slow', 'start /a', 'end /a', 'start /b', 'end /b']);
  });

  it('wire:body: a Content-Length body through body() and through data/end like a stream', async () => {
    const port = await serve((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        res.end(`${req.body().length}:${text}`);
      });
    });
    const c = raw(port);
    const body = 'héllo '.repeat(5000);
    const head = `POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    // Latin1 on the socket: send the UTF-8 bytes in pieces, the head split too.
    const bytes = Buffer.concat([Buffer.from(head), Buffer.from(body)]);
    for (let i = 0; i < bytes.length; i += 4000) {
      c.sock.write(bytes.subarray(i, i + 4000));
      await sleep(2);
    }
    const [r] = await c.responses(1);
    expect(Buffer.from(r!.body, 'latin1').toString('utf8')).toBe(`${Buffer.byteLength(body)}:${body}`);
  });

  it('wire:body: data dropped by removeAllListeners and resume (the over-limit path of http.ts)', async () => {
    const port = await serve((req, res) => {
      req.on('data', () => {
        req.removeAllListeners('data');
        req.resume();
        res.end('dropped');
      });
    });
    const c = raw(port);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd');
    expect((await c.responses(1))[0]!.body).toBe('dropped');
  });

  it('wire:chunked-request: decodes a chunked body, extensions and trailers dropped', async () => {
    const port = await serve(echo);
    const c = raw(port);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n');
    await sleep(20);
    c.send('6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n' + GET('/next'));
    const rs = await c.responses(2);
    expect((JSON.parse(rs[0]!.body) as { body: string }).body).toBe('hello world');
    expect((JSON.parse(rs[1]!.body) as { url: string }).url).toBe('/next');
  });

  it('wire:sse: a response without length is chunked, and the connection serves the next request', async () => {
    const port = await serve(async (req, res) => {
      if (req.url !== '/sse') return echo(req, res);
      res.writeHead(200, { 'content-type': 'text/event-stream', connection: 'keep-alive' });
      res.flushHeaders();
      for (let i = 0; i < 3; i++) {
        await sleep(10);
        res.write(`event: message\ndata: ${i}\n\n`);
      }
      res.write('');
      res.end();
    });
    const c = raw(port);
    c.send(GET('/sse'));
    await c.until(() => c.text.includes('data: 0'), 2000, 'the first event');
    const [sse] = await c.responses(1);
    expect(sse!.headers['transfer-encoding']).toBe('chunked');
    expect(sse!.body).toBe(
      'event: message\ndata: 0\n\nevent: message\ndata: 1\n\nevent: message\ndata: 2\n\n',
    );
    c.send(GET('/after'));
    const rs = await c.responses(2);
    expect((JSON.parse(rs[1]!.body) as { url: string }).url).toBe('/after');
  });

  it('wire:length-from-end: writeHead(202).end() is sent with content-length: 0, not chunked', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(202).end();
    });
    const c = raw(port);
    c.send(GET('/'));
    const [r] = await c.responses(1);
    expect(r!.status).toBe(202);
    expect(c.text).toMatch(/^HTTP\/1\.1 202 Accepted\r\ncontent-length: 0\r\n\r\n$/);
  });

  it('wire:head: HEAD gets the headers and no body', async () => {
    const port = await serve(echo);
    const c = raw(port);
    c.send('HEAD / HTTP/1.1\r\nHost: x\r\n\r\n' + GET('/then'));
    await c.until(() => (c.text.match(/HTTP\/1\.1/g) ?? []).length === 2 && c.text.endsWith('}'));
    const first = c.text.slice(0, c.text.indexOf('HTTP/1.1', 5));
    expect(first).toMatch(/content-length: \d+\r\n\r\n$/);
  });

  it('wire:expect: answers 100 Continue before the body is sent, 417 to other expectations', async () => {
    const port = await serve(echo);
    const c = raw(port);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n');
    await c.until(() => c.text === 'HTTP/1.1 100 Continue\r\n\r\n', 2000, '100 Continue');
    c.send('hello');
    const [r] = await c.responses(1);
    expect((JSON.parse(r!.body) as { body: string }).body).toBe('hello');

    const d = raw(port);
    d.send('POST / HTTP/1.1\r\nHost: x\r\nExpect: something\r\nContent-Length: 5\r\n\r\nhello');
    expect((await d.responses(1))[0]!.status).toBe(417);
    await d.waitClosed();
  });

  it('wire:connection-close: honours Connection: close', async () => {
    const port = await serve(echo);
    const c = raw(port);
    c.send(GET('/', 'Connection: close\r\n'));
    const [r] = await c.responses(1);
    expect(r!.headers.connection).toBe('close');
    await c.waitClosed();
  });

  it('wire:http10: answers HTTP/1.0 and closes; a stream is delimited by the close', async () => {
    const port = await serve((req, res) => {
      if (req.url === '/stream') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('a');
        res.end('b');
      } else void echo(req, res);
    });
    const c = raw(port);
    c.send('GET / HTTP/1.0\r\n\r\n');
    await c.waitClosed();
    expect(responses(c.text, true)[0]!.status).toBe(200);
    const d = raw(port);
    d.send('GET /stream HTTP/1.0\r\n\r\n');
    await d.waitClosed();
    expect(d.text).not.toMatch(/transfer-encoding/i);
    expect(responses(d.text, true)[0]!.body).toBe('ab');
  });

  it('wire:close-event: fires when the response ends, and when the client goes away first', async () => {
    const seen: string[] = [];
    let aborted: ((v: boolean) => void) | undefined;
    const gone = new Promise<boolean>((r) => (aborted = r));
    const port = await serve((req, res) => {
      res.once('close', () => {
        seen.push(req.url);
        if (req.url === '/hang') aborted!(res.destroyed);
      });
      if (req.url !== '/hang') res.end('ok');
    });
    const c = raw(port);
    c.send(GET('/done'));
    await c.responses(1);
    expect(seen).toEqual(['/done']);
    c.send(GET('/hang'));
    await sleep(50);
    c.sock.destroy();
    expect(await gone).toBe(true);
  });

  it('wire:headers-out: rejects CR, LF and transfer-encoding given to writeHead', async () => {
    const errors: string[] = [];
    const port = await serve((req, res) => {
      const bad: Record<string, string>[] = [
        { 'x-a': 'v\r\nset-cookie: evil' },
        { 'x-a': 'v\n' },
        { 'transfer-encoding': 'chunked' },
      ];
      for (const h of bad)
        try {
          res.writeHead(200, h);
        } catch (err) {
          errors.push((err as Error).message);
        }
      res.writeHead(200, ['x-pair', 'ok']).end('fine');
    });
    const c = raw(port);
    c.send(GET('/'));
    const [r] = await c.responses(1);
    expect(errors).toHaveLength(3);
    expect(r!.headers['x-pair']).toBe('ok');
    expect(c.text).not.toMatch(/evil/);
  });

  it('wire:handler-error: a throwing handler gets a 500 and the error is reported', async () => {
    const reported: unknown[] = [];
    const port = await serve(
      async () => {
        await sleep(1);
        throw new Error('boom');
      },
      { onError: (e) => reported.push(e) },
    );
    const c = raw(port);
    c.send(GET('/'));
    const [r] = await c.responses(1);
    expect(r!.status).toBe(500);
    expect(r!.body).not.toMatch(/boom/);
    expect(reported).toHaveLength(1);
    await c.waitClosed();
  });
});

describe('wire: malformed and oversized requests', () => {
  const MARK = 'MARKER-9f3a';
  const bad: [string, string, number][] = [
    ['a bare LF', `GET /${MARK} HTTP/1.1\nHost: x\n\n`, 400],
    ['a bare LF in a header line', `GET /${MARK} HTTP/1.1\r\nHost: x\nX: y\r\n\r\n`, 400],
    [
      'Content-Length and Transfer-Encoding',
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n${MARK}`,
      400,
    ],
    [
      'two differing Content-Length',
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`,
      400,
    ],
    [
      'a Content-Length list that differs',
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 4\r\n\r\nabcd`,
      400,
    ],
    ['a non-numeric Content-Length', `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc`, 400],
    ['no Host', `GET /${MARK} HTTP/1.1\r\n\r\n`, 400],
    ['two Hosts', `GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, 400],
    ['an obs-fold line', `GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  ${MARK}\r\n\r\n`, 400],
    ['a space before the colon', `GET / HTTP/1.1\r\nHost : x\r\n\r\n`, 400],
    ['a NUL in a value', `GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n`, 400],
    ['a bad request line', `GET  /${MARK} HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['an absolute-form target', `GET http://x/${MARK} HTTP/1.1\r\nHost: x\r\n\r\n`, 400],
    ['chunked in HTTP/1.0', `POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, 400],
    [
      'a malformed chunk size',
      `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n${MARK}\r\n0\r\n\r\n`,
      400,
    ],
    [
      'a transfer coding other than chunked',
      `POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n`,
      501,
    ],
    ['HTTP/2.0', `GET /${MARK} HTTP/2.0\r\nHost: x\r\n\r\n`, 505],
  ];
  for (const [what, request, status] of bad)
    it(`wire:${status}: ${what} is answered ${status} and closed, without the handler`, async () => {
      let called = false;
      const port = await serve(() => {
        called = true;
      });
      const c = raw(port);
      c.send(request);
      await c.waitClosed();
      const [r] = responses(c.text, true);
      expect(r!.status).toBe(status);
      expect(r!.headers.connection).toBe('close');
      expect(c.text).not.toContain(MARK);
      expect(called).toBe(false);
    });

  it('wire:413: a declared body over the limit is refused before it is read', async () => {
    let called = false;
    const port = await serve(
      () => {
        called = true;
      },
      { maxBodyBytes: 10 },
    );
    const c = raw(port);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n' + 'x'.repeat(1000));
    await c.waitClosed();
    expect(responses(c.text, true)[0]!.status).toBe(413);
    expect(called).toBe(false);
  });

  it('wire:413: a chunked body that grows over the limit', async () => {
    const port = await serve(echo, { maxBodyBytes: 10 });
    const c = raw(port);
    c.send(
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n',
    );
    await c.waitClosed();
    expect(responses(c.text, true)[0]!.status).toBe(413);
  });

  it('wire:431: a head over 16 KiB, or over 100 headers', async () => {
    const port = await serve(echo);
    const c = raw(port);
    c.send(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}`);
    await c.waitClosed();
    expect(responses(c.text, true)[0]!.status).toBe(431);
    const d = raw(port);
    let many = '';
    for (let i = 0; i < 101; i++) many += `X-${i}: v\r\n`;
    d.send(GET('/', many));
    await d.waitClosed();
    expect(responses(d.text, true)[0]!.status).toBe(431);
  });
});

describe('wire: timeouts', () => {
  it('wire:408: a slowloris client trickling its head is answered 408 within the headers timeout', async () => {
    const port = await serve(echo, { headersTimeoutMs: 300 });
    const c = raw(port);
    const t0 = Date.now();
    c.send('GET / HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => c.sock.writable && c.send('X'), 30);
    try {
      await c.waitClosed(2000);
    } finally {
      clearInterval(trickle);
    }
    const took = Date.now() - t0;
    expect(responses(c.text, true)[0]!.status).toBe(408);
    expect(took).toBeGreaterThanOrEqual(280);
    expect(took).toBeLessThan(800);
  });

  it('wire:408: a body slower than the request timeout', async () => {
    const port = await serve(echo, { requestTimeoutMs: 300 });
    const c = raw(port);
    c.send('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab');
    await c.waitClosed(2000);
    expect(responses(c.text, true)[0]!.status).toBe(408);
  });

  it('wire:keep-alive-timeout: an idle connection is closed without an answer', async () => {
    const port = await serve(echo, { keepAliveTimeoutMs: 200 });
    const c = raw(port);
    c.send(GET('/'));
    await c.responses(1);
    const t0 = Date.now();
    await c.waitClosed(2000);
    expect(Date.now() - t0).toBeLessThan(800);
    expect(responses(c.text, true)).toHaveLength(1);
  });

  it('wire:silent-connection: a connection that never sends is closed after the headers timeout', async () => {
    const port = await serve(echo, { headersTimeoutMs: 200 });
    const c = raw(port);
    await c.waitClosed(2000);
    expect(c.text).toBe('');
  });
});

describe('wire: the server', () => {
  it('wire:listen-error: listen rejects when the port is taken', async () => {
    const port = await serve(echo);
    const other = await createWireServer(echo);
    await expect(other.listen(port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
  });

  it('wire:close: stops accepting, closes idle connections, finishes the response in flight', async () => {
    let release: (() => void) | undefined;
    const server = await createWireServer(async (_req, res) => {
      await new Promise<void>((r) => (release = r));
      res.end('late');
    });
    await server.listen(0, '127.0.0.1');
    const port = server.address()!.port;
    const idle = raw(port);
    const busy = raw(port);
    await sleep(20);
    busy.send(GET('/'));
    await sleep(20);
    let closed = false;
    server.close(() => (closed = true));
    await idle.waitClosed();
    expect(closed).toBe(false);
    release!();
    const [r] = await busy.responses(1);
    expect(r!.body).toBe('late');
    expect(r!.headers.connection).toBe('close');
    await busy.waitClosed();
    await busy.until(() => closed, 2000, 'the close callback');
    const late = raw(port);
    await late.waitClosed();
    expect(late.text).toBe('');
  });

  it('wire:close-all: closeAllConnections aborts the responses in flight', async () => {
    let destroyed: ((v: boolean) => void) | undefined;
    const result = new Promise<boolean>((r) => (destroyed = r));
    const server = await createWireServer((_req, res) => {
      res.once('close', () => destroyed!(res.destroyed));
    });
    await server.listen(0, '127.0.0.1');
    const c = raw(server.address()!.port);
    c.send(GET('/'));
    await sleep(30);
    server.closeAllConnections();
    expect(await result).toBe(true);
    await c.waitClosed();
    await new Promise((r) => server.close(r));
  });
});

describe('wire: fetch (undici) as the client', () => {
  it('wire:fetch: GET and POST JSON on a kept-alive connection', async () => {
    const port = await serve(echo);
    const base = `http://127.0.0.1:${port}`;
    const a = (await (await fetch(`${base}/get`)).json()) as { method: string; url: string };
    expect(a).toMatchObject({ method: 'GET', url: '/get' });
    const res = await fetch(`${base}/post`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    const b = (await res.json()) as { body: string; headers: Record<string, string> };
    expect(JSON.parse(b.body)).toEqual({ jsonrpc: '2.0', id: 1, method: 'ping' });
    expect(b.headers['content-type']).toBe('application/json');
  });

  it('wire:fetch: a streamed (chunked) request body', async () => {
    const port = await serve(echo);
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('part one, '));
        c.enqueue(new TextEncoder().encode('part two'));
        c.close();
      },
    });
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      body: stream,
      duplex: 'half',
    });
    const b = (await res.json()) as { body: string; headers: Record<string, string> };
    expect(b.headers['transfer-encoding']).toBe('chunked');
    expect(b.body).toBe('part one, part two');
  });

  it('wire:fetch: reads an SSE stream event by event', async () => {
    const sockets = new Set<WireRequest['socket']>();
    const port = await serve(async (req: WireRequest, res) => {
      sockets.add(req.socket);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      for (let i = 0; i < 3; i++) {
        res.write(`event: message\ndata: {"n":${i}}\n\n`);
        await sleep(20);
      }
      res.end();
      expect(req.method).toBe('GET');
    });
    const res = await fetch(`http://127.0.0.1:${port}/sse`, { headers: { accept: 'text/event-stream' } });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    let reads = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      reads++;
      text += value;
    }
    expect(text).toBe(
      'event: message\ndata: {"n":0}\n\nevent: message\ndata: {"n":1}\n\nevent: message\ndata: {"n":2}\n\n',
    );
    expect(reads).toBeGreaterThanOrEqual(2);
    // The same kept-alive connection serves the next request (undici puts it back in its pool
    // a moment after the body ended).
    await sleep(20);
    await (await fetch(`http://127.0.0.1:${port}/again`)).text();
    expect(sockets.size).toBe(1);
  });
});
