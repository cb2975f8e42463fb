#!/usr/bin/env node
/**
 * A reference point for bench/gateway.js, not a product: the least a front can do on this
 * machine. `node bench/raw-front.mjs PORT CMD ARGS...` starts CMD (a stdio MCP server) once and
 * serves HTTP/1.1 on 127.0.0.1:PORT by hand on `node:net`: every POSTed JSON-RPC request goes to
 * that one child (initialized once, at start) with its id renumbered, and the answer comes back
 * as plain JSON; a client's `initialize` is answered here with an mcp-session-id header,
 * notifications get 202, anything else (GET, DELETE) 200 and an empty body. No checks, no sessions, no limits, no chunked bodies: a measure of the cost of the
 * hops themselves (client → front → child and back), against which the fronts' own work shows.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';

const [port, cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
const pending = new Map();
let nextId = 1;
let rest = '';
child.stdout.setEncoding('utf8').on('data', (d) => {
  rest += d;
  for (let i = rest.indexOf('\n'); i >= 0; i = rest.indexOf('\n')) {
    const m = JSON.parse(rest.slice(0, i));
    rest = rest.slice(i + 1);
    pending.get(m.id)?.(m);
    pending.delete(m.id);
  }
});

function reply(sock, status, body, extra = '') {
  sock.write(
    `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Accepted'}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`,
  );
}

function handle(sock, head, body) {
  if (!head.startsWith('POST')) return reply(sock, 200, '');
  const m = JSON.parse(body);
  // The child was initialized once, at start; a client's own handshake is answered here.
  if (m.id === undefined) return reply(sock, 202, '');
  if (m.method === 'initialize') {
    const result = {
      protocolVersion: m.params.protocolVersion,
      capabilities: { tools: {} },
      serverInfo: { name: 'raw', version: '0' },
    };
    return reply(
      sock,
      200,
      JSON.stringify({ jsonrpc: '2.0', id: m.id, result }),
      `mcp-session-id: ${randomUUID()}\r\n`,
    );
  }
  const clientId = m.id;
  const id = nextId++;
  pending.set(id, (answer) => {
    answer.id = clientId;
    reply(
      sock,
      200,
      JSON.stringify(answer),
      m.method === 'initialize' ? `mcp-session-id: ${randomUUID()}\r\n` : '',
    );
  });
  m.id = id;
  child.stdin.write(JSON.stringify(m) + '\n');
}

pending.set(0, () => child.stdin.write('{"jsonrpc":"2.0","method":"notifications/initialized"}\n'));
child.stdin.write(
  JSON.stringify({
    jsonrpc: '2.0',
    id: 0,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
  }) + '\n',
);

net
  .createServer((sock) => {
    sock.setNoDelay(true);
    sock.setEncoding('latin1');
    let buf = '';
    sock.on('data', (d) => {
      buf += d;
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + len) return;
        const body = Buffer.from(buf.slice(end + 4, end + 4 + len), 'latin1').toString('utf8');
        buf = buf.slice(end + 4 + len);
        handle(sock, head, body);
      }
    });
    sock.on('error', () => undefined);
  })
  .listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => {
  child.kill();
  process.exit(0);
});
