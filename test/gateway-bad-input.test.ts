import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import { eventually, gatewayEnv, startGateway, upstreams, type RunningGateway } from './helpers/gateway.js';
import { bearer, openSession, type HttpSession } from './helpers/mcp-http.js';
import { raw, responses, type Parsed } from './helpers/raw-http.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The bad-input battery: one running gateway with every stage on (keys, rate limit, audit, policy,
 * leak guard, a small body limit), hit with malformed and hostile requests over raw sockets. Each
 * must get the right status, the gateway must stay up and keep serving, and the audit must lose
 * nothing: every refused authentication and every tools/call is exactly one line, every line is
 * one JSON object, and the chain verifies.
 */
let g: RunningGateway;
let key: string;
let port: number;
let session: HttpSession;
let dir: string;
/** What the audit must hold at the end, counted as the battery runs. */
const expected = { auth_failure: 0, tool_call: 0, policy_denied: 0 };

const LIMIT = 64 * 1024;

beforeAll(async () => {
  dir = tempDir('mcpw-bad-');
  const env = gatewayEnv(dir);
  const created = runCli(['keys', 'create', 'battery'], { env, cwd: dir });
  expect(created.code).toBe(0);
  key = created.stdout.trim();
  g = await startGateway(
    upstreams(
      ['a'],
      `gateway:\n  maxBodyBytes: ${LIMIT}\n  auth: { keys: default, failures: { max: 1000 } }\n` +
        `  rateLimit: { rpm: 100000, concurrent: 64 }\n  audit: { file: audit.log }\n`,
    ),
    [],
    { dir },
  );
  port = Number(new URL(g.url).port);
  session = await openSession(g.url, bearer(key));
}, 60_000);

afterAll(async () => {
  await g?.stop();
});

/** One raw request on its own connection; answers the first response (or none, if closed). */
async function send(request: string, ms = 5000): Promise<Parsed | undefined> {
  const c = raw(port);
  c.send(request);
  try {
    await c.until(() => responses(c.text, c.closed).length >= 1 || c.closed, ms, 'a response');
  } finally {
    c.sock.destroy();
  }
  return responses(c.text, true)[0];
}

function post(body: string, headers: Record<string, string> = {}, path = '/mcp'): string {
  const h = {
    host: `127.0.0.1:${port}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    authorization: `Bearer ${key}`,
    'mcp-session-id': session.id,
    'mcp-protocol-version': '2025-06-18',
    'content-length': String(Buffer.byteLength(body)),
    ...headers,
  };
  const lines = Object.entries(h)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}: ${v}`);
  return `POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

const call = (name: unknown, args: unknown = {}) =>
  JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name, arguments: args } });

describe('bad input: JSON-RPC bodies', () => {
  const cases: [string, string, number][] = [
    ['malformed JSON', '{"jsonrpc": "2.0", "id": 1, "method": ', 400],
    ['truncated JSON', call('a__echo', { text: 'x' }).slice(0, 30), 400],
    ['not an object', '"tools/call"', 400],
    ['a JSON-RPC batch', `[${call('a__echo', { text: 'x' })}]`, 400],
    ['an empty batch', '[]', 400],
    ['no jsonrpc version', '{"id":1,"method":"tools/list"}', 400],
    ['an id that is an object', '{"jsonrpc":"2.0","id":{},"method":"tools/list"}', 400],
    ['params that are an array', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}', 400],
    [
      'deep nesting (20,000 levels)',
      `{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":${'['.repeat(20000)}${']'.repeat(20000)}}}`,
      200,
    ],
    ['deep nesting, unbalanced', `{"a":${'['.repeat(30000)}`, 400],
    ['invalid UTF-8', '{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}', 200],
    ['a NUL in the body', '{"jsonrpc":"2.0","id":1,"method":"tools/list"}\0', 400],
  ];
  for (const [what, body, status] of cases)
    it(`[badinput:json] ${what}: ${status}, and the gateway keeps serving`, async () => {
      const r = await send(post(body));
      expect(r?.status).toBe(status);
      if (status === 400) expect(JSON.parse(r!.body)).toMatchObject({ jsonrpc: '2.0', error: {} });
      expect(await session.text('a__echo', { text: 'alive' })).toBe('alive');
      expected.tool_call++;
    });
});

describe('bad input: HTTP', () => {
  it('[badinput:content-type:415] a body that is not application/json', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
    ])
      expect((await send(post(call('a__echo', { text: 'x' }), { 'content-type': type })))?.status).toBe(415);
  });

  it('[badinput:accept:406] an Accept that takes neither JSON nor SSE', async () => {
    expect((await send(post(call('a__echo', { text: 'x' }), { accept: 'text/html' })))?.status).toBe(406);
  });

  it('[badinput:body-limit:413] a body over gateway.maxBodyBytes, declared or chunked', async () => {
    const big = call('a__echo', { text: 'x'.repeat(LIMIT) });
    expect((await send(post(big)))?.status).toBe(413);
    const chunk = 'y'.repeat(16 * 1024);
    const chunked =
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\nauthorization: Bearer ${key}\r\n` +
      `transfer-encoding: chunked\r\n\r\n` +
      Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('') +
      '0\r\n\r\n';
    expect((await send(chunked))?.status).toBe(413);
  });

  it('[badinput:slow-client:408] a client trickling its head is cut off, others are served meanwhile', async () => {
    const c = raw(port);
    c.send(`POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`);
    const trickle = setInterval(() => c.send('x-slow: 1\r\n'), 1000);
    try {
      expect(await session.text('a__echo', { text: 'served while a slow client waits' })).toMatch(/served/);
      expected.tool_call++;
      await c.waitClosed(25_000);
    } finally {
      clearInterval(trickle);
    }
    expect(responses(c.text, true)[0]?.status).toBe(408);
  }, 30_000);

  const tricks: [string, string, number][] = [
    [
      'two differing Content-Length',
      `POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}x`,
      400,
    ],
    [
      'Content-Length with Transfer-Encoding',
      `POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n{}`,
      400,
    ],
    [
      'a header folded onto two lines',
      `POST /mcp HTTP/1.1\r\nhost: x\r\nauthorization: Bearer\r\n  x\r\n\r\n`,
      400,
    ],
    ['a bare LF', `POST /mcp HTTP/1.1\nhost: x\n\n`, 400],
    ['a NUL in a header', `POST /mcp HTTP/1.1\r\nhost: x\r\nx-mcp-api-key: a\0b\r\n\r\n`, 400],
    [
      'a header block over 16 KiB',
      `POST /mcp HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20000)}\r\n\r\n`,
      431,
    ],
    ['two Host headers', `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nhost: evil.example\r\n\r\n`, 400],
  ];
  for (const [what, request, status] of tricks)
    it(`[badinput:header-tricks] ${what}: ${status}`, async () => {
      expect((await send(request))?.status).toBe(status);
    });

  it('[badinput:host-origin:403] a foreign Host or Origin (DNS rebinding) is refused', async () => {
    expect((await send(post(call('a__echo', { text: 'x' }), { host: 'evil.example' })))?.status).toBe(403);
    expect(
      (await send(post(call('a__echo', { text: 'x' }), { origin: 'http://evil.example' })))?.status,
    ).toBe(403);
  });

  const paths: [string, number][] = [
    ['/mcp/', 404],
    ['/MCP', 404],
    ['//mcp', 404],
    ['/mcp/../mcp', 404],
    ['/%6dcp', 404],
    ['/mcp%00', 404],
    ['/mcp;x=1', 404],
    ['/.well-known/../mcp', 404],
    ['/sse/../mcp', 404],
    ['/messages?sessionId=../mcp', 401],
  ];
  for (const [path, status] of paths)
    it(`[badinput:path-tricks] ${path} is ${status}, never /mcp without authentication`, async () => {
      const r = await send(post(call('a__echo', { text: 'x' }), { authorization: '' }, path));
      expect(r?.status).toBe(status);
      if (status === 401) expected.auth_failure++;
    });

  it('[badinput:method:405] methods /mcp does not serve', async () => {
    for (const m of ['PUT', 'PATCH', 'OPTIONS', 'TRACE'])
      expect(
        (
          await send(
            `${m} /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${key}\r\ncontent-length: 0\r\n\r\n`,
          )
        )?.status,
      ).toBe(405);
  });

  it('[badinput:auth-header-tricks] malformed credentials are 401 or 400, never admitted', async () => {
    const body = call('a__echo', { text: 'x' });
    const cases: [Record<string, string>, number][] = [
      [{ authorization: '' }, 401],
      [{ authorization: 'Bearer' }, 401],
      [{ authorization: 'Basic YWxpY2U6cHc=' }, 401],
      [{ authorization: `Bearer ${key}x` }, 401],
      [{ authorization: `Bearer ${key.toUpperCase()}` }, 401],
      [{ authorization: `Bearer ${'mcpw_'.padEnd(54, 'A')}` }, 401],
      [{ authorization: `Bearer ${'a'.repeat(8000)}` }, 401],
      [{ authorization: `Bearer ${key}`, 'x-mcp-api-key': 'mcpw_other' }, 400],
    ];
    for (const [h, status] of cases) {
      expect((await send(post(body, h)))?.status, JSON.stringify(h).slice(0, 60)).toBe(status);
      expected.auth_failure++;
    }
  });
});

describe('bad input: fields that reach the audit log', () => {
  const nasty = [
    'a__echo\r\n{"event":"tool_call","client_id":"forged"}',
    'a__echo\n',
    'a__echo\u2028{"forged":1}',
    'a__echo\u2029',
    '\u001b[31mred\u001b[0m',
    'a__echo\0null',
    'a'.repeat(5000),
  ];
  it('[badinput:audit-injection] CR, LF, U+2028, ANSI and NUL in tool names and arguments never make extra lines', async () => {
    for (const name of nasty) {
      const r = await session.tool(name, { [`k\r\n${name}`]: `v\n${name}`, nested: { deep: [name] } });
      expect(r.status).toBe(200);
      expected.tool_call++;
    }
    const r = await session.tool('a__echo', { text: 'line1\r\nline2\u2028line3' });
    expect(r.body.result).toBeDefined();
    expected.tool_call++;
  });
});

describe('bad input: the aftermath', () => {
  it('[badinput:survives] the gateway is still up and serving, and the audit lost nothing', async () => {
    expect(g.proc.exitCode).toBeNull();
    expect((await fetch(`${g.base}/healthz`)).status).toBe(200);
    expect(await session.text('a__echo', { text: 'after the battery' })).toBe('after the battery');
    expected.tool_call++;
    const file = join(dir, 'home', 'audit.log');
    const count = (event: string) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { event: string })
        .filter((l) => l.event === event).length;
    await eventually(() => count('tool_call') >= expected.tool_call);
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n').filter(Boolean);
    for (const l of lines) {
      expect(() => JSON.parse(l) as unknown).not.toThrow();
      // eslint-disable-next-line no-control-regex -- the point: no raw control character in a line
      expect(l).not.toMatch(/[\u0000-\u001f\u2028\u2029]/);
    }
    expect(text).not.toContain(key);
    expect(lines.some((l) => (JSON.parse(l) as { client_id?: string }).client_id === 'forged')).toBe(false);
    expect(count('tool_call')).toBe(expected.tool_call);
    expect(count('auth_failure')).toBe(expected.auth_failure);
    const verify = runCli(['audit', 'verify', file], { env: g.env, cwd: dir });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
