/**
 * The load generator of bench/gateway.js: MCP clients over raw `node:http` (one keep-alive socket
 * per client, a real session each) and over a stdio pipe (the floor), and the timed loop that
 * drives them. Plain ESM, Node built-ins only: no SDK client on the measuring side, so what it
 * costs per call is small and the same for every front.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { clearTimeout, setTimeout } from 'node:timers';
import { spawn } from 'node:child_process';

export const PROTOCOL = '2025-06-18';
const TIMEOUT_MS = 15_000;
const CLIENT_INFO = { name: 'mcp-warden-bench', version: '1.0.0' };

let nextId = 1;
const rpc = (method, params) => ({ jsonrpc: '2.0', id: nextId++, method, params });

/** The JSON-RPC messages of an SSE body: one per event, its `data:` lines joined. */
function sseMessages(text) {
  const out = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(l[5] === ' ' ? 6 : 5));
    if (data.length > 0) out.push(JSON.parse(data.join('\n')));
  }
  return out;
}

/** The messages of a POST's answer, whether `application/json` (one or a batch) or an SSE stream. */
function messages(res) {
  if (res.text === '') return [];
  if ((res.headers['content-type'] ?? '').startsWith('text/event-stream')) return sseMessages(res.text);
  const m = JSON.parse(res.text);
  return Array.isArray(m) ? m : [m];
}

/**
 * One keep-alive HTTP/1.1 connection to 127.0.0.1:port, one request at a time, written and parsed
 * by hand on a `node:net` socket: `request(method, path, headers, body)` answers
 * `{ status, headers, text }` (body by content-length, chunked, or until close; a closed socket
 * is reopened for the next request). Measured against a trivial node:http server on this 2-core
 * machine, this costs ~55 µs of CPU per call where `http.request` with a keep-alive Agent costs
 * ~180 µs, and lets that server reach ~6,000 calls/s at 16 clients instead of ~2,500: with
 * node:http the generator, not the front, would set the ceiling near our 2x target.
 */
export function connection(port) {
  let sock, buf, waiting;
  const fail = (err) => {
    const w = waiting;
    waiting = undefined;
    w?.reject(err);
  };
  const open = () => {
    const s = net.connect(port, '127.0.0.1');
    [sock, buf] = [s, undefined];
    s.setNoDelay(true);
    // Events of a socket already replaced (closed by the server, reopened) are not ours to see.
    s.on('data', (c) => {
      if (s !== sock) return;
      buf = buf === undefined ? c : Buffer.concat([buf, c]);
      parse(false);
    });
    s.on('end', () => s === sock && parse(true));
    s.on('error', (err) => s === sock && fail(err));
    s.on('close', () => s === sock && fail(new Error('connection closed')));
  };
  /** Resolves `waiting` once `buf` holds a whole response (`closed`: the server ended the socket). */
  const parse = (closed) => {
    if (waiting === undefined || buf === undefined) return;
    const headEnd = buf.indexOf('\r\n\r\n');
    if (headEnd < 0) return;
    const lines = buf.latin1Slice(0, headEnd).split('\r\n');
    const status = Number(lines[0].slice(9, 12));
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let body, end;
    if (status === 204 || status === 304) {
      body = buf.subarray(0, 0);
      end = headEnd + 4;
    } else if (headers['content-length'] !== undefined) {
      end = headEnd + 4 + Number(headers['content-length']);
      if (buf.length < end) return;
      body = buf.subarray(headEnd + 4, end);
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const parts = [];
      for (let p = headEnd + 4; ;) {
        const lineEnd = buf.indexOf('\r\n', p);
        if (lineEnd < 0) return;
        const n = parseInt(buf.latin1Slice(p, lineEnd), 16);
        if (n === 0) {
          end = buf.indexOf('\r\n\r\n', lineEnd) + 4; // after any trailers
          if (end < 4) return;
          break;
        }
        if (buf.length < lineEnd + 2 + n + 2) return;
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + n));
        p = lineEnd + 2 + n + 2;
      }
      body = Buffer.concat(parts);
    } else {
      if (!closed) return; // no length: the body runs until the server closes
      body = buf.subarray(headEnd + 4);
      end = buf.length;
    }
    buf = end < buf.length ? buf.subarray(end) : undefined;
    const w = waiting;
    waiting = undefined;
    w.resolve({ status, headers, text: body.toString('utf8') });
  };
  const request = (method, path, headers, body = '') =>
    new Promise((resolve, reject) => {
      if (sock === undefined || sock.destroyed || !sock.writable) open();
      const timer = setTimeout(() => sock.destroy(new Error(`no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      const done = (f) => (v) => (clearTimeout(timer), f(v));
      waiting = { resolve: done(resolve), reject: done(reject) };
      let head = `${method} ${path} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
      for (const k in headers) head += `${k}: ${headers[k]}\r\n`;
      sock.write(head + '\r\n' + body);
    });
  return { request, close: () => sock?.destroy() };
}

/**
 * A Streamable HTTP session at /mcp over `conn` (a `connection`; sessions may share one), with
 * `extra` headers (credentials) on every request:
 * `initialize`, `notifications/initialized`,
 * then `send(message)` answers the response whose id matches (throws on a non-2xx status, a
 * missing session id, or no matching response), and `close()` sends the DELETE that ends it.
 */
export async function httpSession(conn, extra = {}) {
  let sid;
  const post = async (msg) => {
    const body = JSON.stringify(msg);
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...extra,
    };
    if (sid !== undefined)
      Object.assign(headers, { 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL });
    const res = await conn.request('POST', '/mcp', headers, body);
    if (res.status < 200 || res.status > 299)
      throw new Error(`${msg.method}: HTTP ${res.status} ${res.text.slice(0, 120)}`);
    return res;
  };
  const send = async (msg) => {
    const res = await post(msg);
    const answer = messages(res).find((m) => m.id === msg.id);
    if (answer === undefined) throw new Error(`${msg.method}: no response with id ${msg.id}`);
    return answer;
  };
  const init = rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: CLIENT_INFO });
  const res = await post(init);
  const answer = messages(res).find((m) => m.id === init.id);
  if (answer?.result?.protocolVersion === undefined)
    throw new Error(`initialize: bad answer ${res.text.slice(0, 200)}`);
  sid = res.headers['mcp-session-id'];
  if (sid === undefined) throw new Error('initialize: no mcp-session-id (the front is not stateful)');
  await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
  const close = () =>
    conn
      .request('DELETE', '/mcp', { ...extra, 'mcp-session-id': sid, 'mcp-protocol-version': PROTOCOL })
      .catch(() => undefined);
  return { sid, send, close };
}

/**
 * The echo server itself on a stdio pipe: `argv` spawned, initialized once; `session()` answers a
 * client with the same `send` as `httpSession`'s (all share the one pipe, each with its own
 * requests in flight, matched by id); `stop()` ends the child.
 */
export async function stdioServer(argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  const pending = new Map();
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (s) => {
    buf += s;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim() === '') continue;
      const m = JSON.parse(line);
      pending.get(m.id)?.resolve(m);
      pending.delete(m.id);
    }
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`echo server exited (${code})`));
    pending.clear();
  });
  const send = (msg) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer in ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      const done = (f) => (v) => (clearTimeout(timer), f(v));
      pending.set(msg.id, { resolve: done(resolve), reject: done(reject) });
      child.stdin.write(JSON.stringify(msg) + '\n');
    });
  const init = await send(
    rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: CLIENT_INFO }),
  );
  if (init.result?.protocolVersion === undefined)
    throw new Error(`stdio initialize: ${JSON.stringify(init)}`);
  child.stdin.write(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) + '\n');
  return {
    pid: child.pid,
    session: async () => ({ send, close: async () => undefined }),
    stop: () =>
      new Promise((resolve) =>
        child.exitCode !== null ? resolve() : (child.once('exit', resolve), child.stdin.end()),
      ),
  };
}

/** The name of the session's tool whose name ends with "echo" (the gateway namespaces it). */
export async function echoTool(session) {
  const m = await session.send(rpc('tools/list', {}));
  const name = m.result?.tools?.map((t) => t.name).find((n) => n.endsWith('echo'));
  if (name === undefined) throw new Error(`tools/list has no *echo tool: ${JSON.stringify(m).slice(0, 200)}`);
  return name;
}

/**
 * Every session calls `tool` in a loop, one call in flight each, with a text no other call
 * sends, for `seconds` (and at least once each, so a warm-up starts every lazy upstream); each answer must carry the request's id and the same text back. Answers
 * `{ ok, failed, wrong, perSec, lat, errors }`: latencies (ms) of the right answers, the first few
 * distinct error texts. A client stops after 20 failures, so a dead front does not spin the loop.
 */
export async function drive(sessions, tool, seconds) {
  const lat = [];
  const errors = new Set();
  let ok = 0,
    failed = 0,
    wrong = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const client = async (session, c) => {
    let mine = 0;
    for (let i = 0; (i === 0 || performance.now() < deadline) && mine < 20; i++) {
      const text = `echo ${c}/${i} ${Math.random().toString(36).slice(2)}`;
      const msg = rpc('tools/call', { name: tool, arguments: { text } });
      const s = performance.now();
      let m;
      try {
        m = await session.send(msg);
      } catch (err) {
        failed++;
        mine++;
        if (errors.size < 5) errors.add(err.message);
        continue;
      }
      const took = performance.now() - s;
      if (m.id === msg.id && m.result?.isError !== true && m.result?.content?.[0]?.text === text) {
        ok++;
        lat.push(took);
      } else {
        wrong++;
        mine++;
        if (errors.size < 5) errors.add(`wrong answer: ${JSON.stringify(m).slice(0, 160)}`);
      }
    }
  };
  await Promise.all(sessions.map(client));
  return { ok, failed, wrong, perSec: ok / ((performance.now() - t0) / 1000), lat, errors: [...errors] };
}
