import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, gone, startGateway, upstreams, type RunningGateway } from './helpers/gateway.js';

/**
 * The HTTP front end to end, with the official SDK client (Streamable HTTP and legacy SSE)
 * against a gateway fronting two SDK upstreams: aggregation, relaying both ways, isolation per
 * identity, crashes, reload, and the session rules of the transport.
 */
let gw: RunningGateway;
const open: Client[] = [];

beforeAll(async () => {
  gw = await startGateway(upstreams(['a', 'b'], 'gateway:\n  pageSize: 4\n'));
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)));
  await gw?.stop();
});

async function connect(name = 'test', capabilities: Record<string, unknown> = {}): Promise<Client> {
  const client = new Client({ name, version: '1.0.0' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
  open.push(client);
  return client;
}

/** The error message a call rejects with (or "no error"). */
const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: Error) => e.message,
  );

const textOf = (r: unknown) => (r as { content: { text: string }[] }).content[0]!.text;

async function allTools(client: Client): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor === undefined ? {} : { cursor });
    names.push(...page.tools.map((t) => t.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return names;
}

describe('gateway --http: aggregation', () => {
  it('lists every server’s tools under <server>__<tool>, paginated, with no duplicates', async () => {
    const client = await connect();
    const first = await client.listTools();
    expect(first.tools).toHaveLength(4);
    expect(first.nextCursor).toBeDefined();
    const names = await allTools(client);
    expect(new Set(names).size).toBe(names.length);
    for (const s of ['a', 'b'])
      for (const t of ['whoami', 'sleep', 'crash', 'ask', 'elicit', 'log', 'touch', 'grow'])
        expect(names).toContain(`${s}__${t}`);
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_.-]{1,128}$/);
  });

  it('routes calls, prompts, resources and templates to the server that owns them', async () => {
    const client = await connect();
    expect(JSON.parse(textOf(await client.callTool({ name: 'b__whoami' })))).toMatchObject({ label: 'b' });
    const prompt = await client.getPrompt({ name: 'a__greet', arguments: { who: 'x' } });
    expect(prompt.messages[0]!.content).toMatchObject({ text: 'hello x from a' });
    const resources = (await client.listResources()).resources.map((r) => r.uri);
    // Both servers offer mem://counter: the first keeps its URI, the second's is wrapped.
    expect(resources).toContain('mem://counter');
    const wrapped = resources.find((u) => u.startsWith('mcp-warden://b/'));
    expect(wrapped).toBeDefined();
    const read = await client.readResource({ uri: wrapped! });
    expect(read.contents[0]!.uri).toBe(wrapped);
    const item = await client.readResource({ uri: 'mem://items/7' });
    expect(item.contents[0]).toMatchObject({ text: 'item 7 of a' });
    expect(await failure(client.callTool({ name: 'nope__whoami' }))).toMatch(/not found/);
  });
});

describe('gateway --http: relaying both ways', () => {
  it('relays progress with the client’s own token', async () => {
    const client = await connect();
    const seen: number[] = [];
    const r = await client.callTool({ name: 'a__sleep', arguments: { ms: 120 } }, undefined, {
      onprogress: (p) => seen.push(p.progress),
    });
    expect(textOf(r)).toBe('slept 120');
    expect(seen.length).toBeGreaterThanOrEqual(2);
  });

  it('relays cancellation: the call is abandoned and the server stays usable', async () => {
    const client = await connect();
    const ac = new AbortController();
    const call = client.callTool({ name: 'a__sleep', arguments: { ms: 5000 } }, undefined, {
      signal: ac.signal,
    });
    setTimeout(() => ac.abort('changed my mind'), 150);
    const started = Date.now();
    await expect(call).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(textOf(await client.callTool({ name: 'a__log', arguments: { text: 'x' } }))).toBe('logged');
  });

  it('relays logging to the session whose call it belongs to', async () => {
    const client = await connect();
    const lines: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void lines.push(n.params.data));
    await client.setLoggingLevel('info');
    await client.callTool({ name: 'b__log', arguments: { text: 'hello log' } });
    await eventually(() => lines.includes('hello log'));
  });

  it('routes sampling requests to the session that caused them', async () => {
    const mk = async (who: string) => {
      const c = await connect(who, { sampling: {} });
      c.setRequestHandler(CreateMessageRequestSchema, async () => ({
        model: 'm',
        role: 'assistant',
        content: { type: 'text', text: `from ${who}` },
      }));
      return c;
    };
    const [alice, bob] = await Promise.all([mk('alice'), mk('bob')]);
    const [ra, rb] = await Promise.all([
      alice.callTool({ name: 'a__ask', arguments: { question: 'q' } }),
      bob.callTool({ name: 'a__ask', arguments: { question: 'q' } }),
    ]);
    expect(textOf(ra)).toBe('answer: from alice');
    expect(textOf(rb)).toBe('answer: from bob');
  });

  it('relays elicitation', async () => {
    const client = await connect('e', { elicitation: {} });
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { name: 'Ada' },
    }));
    expect(textOf(await client.callTool({ name: 'b__elicit' }))).toBe('accept: Ada');
  });

  it('relays roots/list to the client and its answer back', async () => {
    const client = await connect('r', { roots: { listChanged: true } });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: 'file:///work', name: 'work' }],
    }));
    expect(textOf(await client.callTool({ name: 'a__roots' }))).toBe('file:///work');
  });

  it('relays resource subscriptions and list changes', async () => {
    const client = await connect();
    const updated: string[] = [];
    let changed = 0;
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    await client.subscribeResource({ uri: 'mem://counter' });
    await client.callTool({ name: 'a__touch' });
    await eventually(() => updated.includes('mem://counter'));
    await client.callTool({ name: 'a__grow' });
    await eventually(() => changed > 0);
    expect(await allTools(client)).toContain('a__extra_1');
  });
});

describe('gateway --http: upstreams per identity', () => {
  it('gives two clients their own server processes, whose state never mixes', async () => {
    const [c1, c2] = await Promise.all([connect(), connect()]);
    const who = async (c: Client) =>
      JSON.parse(textOf(await c.callTool({ name: 'a__whoami' }))) as { pid: number; counter: number };
    const a1 = await who(c1);
    const a2 = await who(c1);
    const b1 = await who(c2);
    expect(a2.pid).toBe(a1.pid);
    expect(b1.pid).not.toBe(a1.pid);
    expect([a1.counter, a2.counter, b1.counter]).toEqual([1, 2, 1]);
  });

  it('runs one copy for everybody of a server marked share: true', async () => {
    const own = await startGateway(upstreams(['a']).replace('    args:', '    share: true\n    args:'));
    try {
      const pids = [];
      for (let i = 0; i < 2; i++) {
        const client = new Client({ name: `shared-${i}`, version: '1' });
        await client.connect(new StreamableHTTPClientTransport(new URL(own.url)));
        const r = JSON.parse(textOf(await client.callTool({ name: 'a__whoami' }))) as {
          pid: number;
          counter: number;
        };
        pids.push(r.pid);
        expect(r.counter).toBe(i + 1); // the state is shared: that is what the option means
        await client.close();
      }
      expect(pids[0]).toBe(pids[1]);
    } finally {
      await own.stop();
    }
  });

  it('answers every call in flight at once when the server crashes, then restarts it', async () => {
    const client = await connect();
    const before = JSON.parse(textOf(await client.callTool({ name: 'a__whoami' }))) as { pid: number };
    const slow = failure(client.callTool({ name: 'a__sleep', arguments: { ms: 20_000 } }));
    const started = Date.now();
    expect(await failure(client.callTool({ name: 'a__crash' }))).toMatch(/server "a"/);
    expect(await slow).toMatch(/server "a"/);
    expect(Date.now() - started).toBeLessThan(3000);
    const after = JSON.parse(textOf(await client.callTool({ name: 'a__whoami' }))) as { pid: number };
    expect(after.pid).not.toBe(before.pid);
  });
});

describe('gateway --http: the transport’s rules', () => {
  const post = (headers: Record<string, string>, body: unknown) =>
    fetch(gw.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify(body),
    });
  const list = { jsonrpc: '2.0', id: 1, method: 'tools/list' };

  it('400 without a session header, 404 for an unknown session, 404 after DELETE', async () => {
    expect((await post({}, list)).status).toBe(400);
    expect((await post({ 'mcp-session-id': 'no-such-session' }, list)).status).toBe(404);
    const init = await post(
      {},
      {
        jsonrpc: '2.0',
        id: 0,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '0' },
        },
      },
    );
    const sid = init.headers.get('mcp-session-id')!;
    expect(sid).toBeTruthy();
    expect((await post({ 'mcp-session-id': sid }, list)).status).toBe(200);
    const del = await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    expect(del.status).toBe(200);
    expect((await post({ 'mcp-session-id': sid }, list)).status).toBe(404);
  });

  it('refuses a foreign Host or Origin (DNS rebinding) and answers /healthz and /readyz', async () => {
    const foreign = await fetch(gw.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'http://evil.example' },
      body: JSON.stringify(list),
    });
    expect(foreign.status).toBe(403);
    expect((await fetch(`${gw.base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gw.base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', servers: ['a', 'b'] });
  });

  it('serves old clients over the legacy HTTP+SSE transport', async () => {
    const client = new Client({ name: 'legacy', version: '1' });
    await client.connect(new SSEClientTransport(new URL(`${gw.base}/sse`)));
    open.push(client);
    expect(textOf(await client.callTool({ name: 'a__log', arguments: { text: 'x' } }))).toBe('logged');
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toEqual(['a__greet', 'b__greet']);
  });
});

describe('gateway --http: reload, idle sessions, shutdown', () => {
  it('adds a server on config change and tells the sessions, without restarting the others', async () => {
    const own = await startGateway(upstreams(['a']));
    try {
      const client = new Client({ name: 'r', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(own.url)));
      let changed = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
      const pid = () =>
        client.callTool({ name: 'a__whoami' }).then((r) => (JSON.parse(textOf(r)) as { pid: number }).pid);
      const before = await pid();
      // The GET stream carries notifications that belong to no request.
      await eventually(() => own.stderr().includes('ready'));
      writeFileSync(own.config, upstreams(['a', 'c']));
      await eventually(() => /config reloaded/.test(own.stderr()));
      await eventually(() => changed > 0);
      expect(await allTools(client)).toContain('c__whoami');
      expect(await pid()).toBe(before);
      // A changed server is restarted with its new config; a removed one leaves the list.
      const changedConfig = upstreams(['a']).replace(/(args: \[[^\]]*), a\]/, '$1, a2]');
      expect(changedConfig).toContain('a2]');
      writeFileSync(own.config, changedConfig);
      await eventually(() => /changed a/.test(own.stderr()));
      const who = JSON.parse(textOf(await client.callTool({ name: 'a__whoami' }))) as {
        pid: number;
        label: string;
      };
      expect(who.label).toBe('a2');
      expect(who.pid).not.toBe(before);
      expect(await allTools(client)).not.toContain('c__whoami');
      // And SIGHUP reloads too; a broken config is refused and the running one kept.
      writeFileSync(own.config, 'servers: [not a mapping\n');
      own.proc.kill('SIGHUP');
      await eventually(() => /config reload failed/.test(own.stderr()));
      expect(await pid()).toBe(who.pid);
      await client.close();
    } finally {
      await own.stop();
    }
  });

  it('starts a server marked start: eager when a client connects, before any call', async () => {
    const own = await startGateway(upstreams(['a']).replace('    args:', '    start: eager\n    args:'));
    try {
      const client = new Client({ name: 'eager', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(own.url)));
      await eventually(() => /gateway-upstream a: ready/.test(own.stderr()));
      await client.close();
    } finally {
      await own.stop();
    }
  });

  it('stops a server idle past upstreamIdleSeconds and starts it again on the next call', async () => {
    const own = await startGateway(upstreams(['a'], 'gateway:\n  upstreamIdleSeconds: 1\n'));
    try {
      const client = new Client({ name: 'idle-up', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(own.url)));
      const who = async () =>
        (JSON.parse(textOf(await client.callTool({ name: 'a__whoami' }))) as { pid: number }).pid;
      const first = await who();
      await eventually(() => gone(first), 8000);
      const second = await who();
      expect(second).not.toBe(first);
      await client.close();
    } finally {
      await own.stop();
    }
  });

  it('reaps idle sessions and stops their servers', async () => {
    const own = await startGateway(upstreams(['a'], 'gateway:\n  sessionIdleSeconds: 1\n'));
    try {
      const client = new Client({ name: 'idle', version: '1' });
      const transport = new StreamableHTTPClientTransport(new URL(own.url));
      await client.connect(transport);
      const { pid } = JSON.parse(textOf(await client.callTool({ name: 'a__whoami' }))) as { pid: number };
      const sid = transport.sessionId!;
      await eventually(() => /idle for/.test(own.stderr()), 8000);
      const r = await fetch(own.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': sid },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(r.status).toBe(404);
      await eventually(() => gone(pid));
    } finally {
      await own.stop();
    }
  });

  it('on SIGTERM lets a call in flight finish, then exits 0', async () => {
    const own = await startGateway(upstreams(['a']));
    const client = new Client({ name: 'drain', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(own.url)));
    await client.callTool({ name: 'a__whoami' });
    const call = client.callTool({ name: 'a__sleep', arguments: { ms: 800 } });
    await new Promise((r) => setTimeout(r, 150));
    const code = own.stop('SIGTERM');
    expect(textOf(await call)).toBe('slept 800');
    expect(await code).toBe(0);
  });
});

describe('gateway --http: the stateless revision 2026-07-28', () => {
  it('serves a v2 SDK client that negotiates 2026-07-28: no session, every request on its own', async () => {
    const v2 = await import('@modelcontextprotocol/client');
    const client = new v2.Client({ name: 'modern', version: '1' }, { versionNegotiation: { mode: 'auto' } });
    const transport = new v2.StreamableHTTPClientTransport(new URL(gw.url));
    await client.connect(transport);
    try {
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      expect(transport.sessionId).toBeUndefined();
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('a__whoami');
      const r = await client.callTool({ name: 'b__log', arguments: { text: 'x' } });
      expect(textOf(r)).toBe('logged');
    } finally {
      await client.close();
    }
  });

  it('answers a GET without a session with 405 and a header/_meta version mismatch with 400', async () => {
    const get = await fetch(gw.url, {
      headers: { accept: 'text/event-stream', 'mcp-protocol-version': '2026-07-28' },
    });
    expect(get.status).toBe(405);
    const mismatch = await fetch(gw.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { _meta: { 'io.modelcontextprotocol/protocolVersion': '2025-11-25' } },
      }),
    });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.json()).toMatchObject({ error: { code: -32020 } });
  });
});
