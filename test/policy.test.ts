import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isWardenError } from '../src/errors.js';
import { Gateway } from '../src/gateway/gateway.js';
import { NameTable } from '../src/gateway/names.js';
import { INVALID_PARAMS, POLICY_DENIED, type Request, type Response } from '../src/gateway/jsonrpc.js';
import { parseSafety } from '../src/gateway/middleware/policy/config.js';
import {
  compileTiers,
  policy,
  tierOfAnnotations,
  type SafetyOptions,
} from '../src/gateway/middleware/policy/index.js';
import type { CallContext, Client } from '../src/gateway/pipeline.js';
import type { Session } from '../src/gateway/session.js';
import { DEFAULTS } from '../src/gateway/settings.js';
import type { ServerConfig } from '../src/servers/schema.js';
import { processServer, expectConfigError } from './helpers/units.js';

/**
 * The safety policy against a real gateway (in process) fronting two real upstream processes
 * (`a` and `b`, a minimal JSON-RPC server below) whose tools carry every combination of
 * annotations; and the pure parts (tiers, config) on their own.
 */

// A stdio MCP server in a few lines: tools with annotations, and a `counts` tool that says how
// often each tool was really called (so a denied call is seen never to reach the server).
const UPSTREAM = String.raw`
const label = process.argv[1];
const counts = {};
const tools = [
  { name: 'read_file', annotations: { readOnlyHint: true } },
  { name: 'delete_repo', annotations: { destructiveHint: true } },
  { name: 'update' },
  { name: 'soft_update', annotations: { destructiveHint: false } },
  { name: 'both', annotations: { readOnlyHint: true, destructiveHint: true } },
  { name: 'counts', annotations: { readOnlyHint: true } },
].map((t) => ({ ...t, inputSchema: { type: 'object' } }));
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  const ok = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  if (m.method === 'initialize')
    return ok({ protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: label, version: '1' } });
  if (m.method === 'tools/list') return ok({ tools });
  if (m.method === 'tools/call') {
    const name = m.params.name;
    if (name === 'counts') return ok({ content: [{ type: 'text', text: JSON.stringify(counts) }] });
    counts[name] = (counts[name] || 0) + 1;
    return ok({ content: [{ type: 'text', text: label + ' ' + name + ' done' }] });
  }
  send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
});
`;

function server(name: string): ServerConfig {
  return processServer(name, process.execPath, ['-e', UPSTREAM, name]);
}

const ALL_TOOLS = ['read_file', 'delete_repo', 'update', 'soft_update', 'both', 'counts'];

const gateways: Gateway[] = [];

async function gatewayWith(opts: Partial<SafetyOptions>, pageSize = DEFAULTS.pageSize): Promise<Gateway> {
  const gw = new Gateway({
    settings: { ...DEFAULTS, pageSize },
    env: { PATH: process.env.PATH },
    log: () => undefined,
    stages: [policy(opts)],
  });
  gateways.push(gw);
  await gw.setServers([server('a'), server('b')].map((config) => ({ config, values: new Map() })));
  return gw;
}

const sink = { deliver: () => true, canReceiveRequests: () => false };
let nextId = 1;

/** A client's session; `call` sends one request through the whole pipeline. */
function clientOf(gw: Gateway, client: Client) {
  const session = gw.openSession(sink, { client });
  return {
    session,
    async call(
      method: string,
      params?: Record<string, unknown>,
    ): Promise<{ res: Response; ctx: CallContext }> {
      const request: Request = { jsonrpc: '2.0', id: nextId++, method, ...(params && { params }) };
      const ctx: CallContext = { session, request, front: 'stdio', client };
      return { res: await gw.request(ctx), ctx };
    },
    async tool(name: string) {
      return this.call('tools/call', { name, arguments: {} });
    },
    async listed(): Promise<string[]> {
      const { res } = await this.call('tools/list');
      return (res.result!.tools as { name: string }[]).map((t) => t.name);
    },
  };
}

const anonymous = (id = 'anon'): Client => ({ id, via: 'api-key' });

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.shutdown()));
});

describe('tiers', () => {
  it('[policy:tiers:annotations] readOnlyHint is safe, destructiveHint destructive, the rest moderate', () => {
    expect(tierOfAnnotations({ readOnlyHint: true })).toBe('safe');
    expect(tierOfAnnotations({ destructiveHint: true })).toBe('destructive');
    expect(tierOfAnnotations({ readOnlyHint: true, destructiveHint: true })).toBe('safe');
    expect(tierOfAnnotations(undefined)).toBe('moderate');
    expect(tierOfAnnotations({})).toBe('moderate');
    expect(tierOfAnnotations({ readOnlyHint: false })).toBe('moderate');
    expect(tierOfAnnotations({ destructiveHint: false })).toBe('moderate');
    // Only a real boolean true counts: a string "true" from a sloppy server is not a hint.
    expect(tierOfAnnotations({ readOnlyHint: 'true' })).toBe('moderate');
  });

  it('[policy:tiers:unannotated] unannotated: destructive reads a missing destructiveHint as the MCP spec does', () => {
    expect(tierOfAnnotations(undefined, 'destructive')).toBe('destructive');
    expect(tierOfAnnotations({ readOnlyHint: false }, 'destructive')).toBe('destructive');
    expect(tierOfAnnotations({ destructiveHint: false }, 'destructive')).toBe('moderate');
    expect(tierOfAnnotations({ readOnlyHint: true }, 'destructive')).toBe('safe');
  });

  it('[policy:tiers:override] config globs come before annotations, first match wins', () => {
    const tier = compileTiers([
      ['a__read_*', 'destructive'],
      ['a__*', 'safe'],
      ['*__delete_*', 'moderate'],
    ]);
    expect(tier('a__read_file', { readOnlyHint: true })).toBe('destructive');
    expect(tier('a__delete_repo', { destructiveHint: true })).toBe('safe');
    expect(tier('b__delete_repo', { destructiveHint: true })).toBe('moderate');
    expect(tier('b__update', undefined)).toBe('moderate');
    expect(tier('b__read_file', { readOnlyHint: true })).toBe('safe');
    // `?` is one character, everything else literal (a dot is not "any").
    const t2 = compileTiers([['x?y.z', 'destructive']]);
    expect(t2('x1y.z', undefined)).toBe('destructive');
    expect(t2('x1yqz', undefined)).toBe('moderate');
  });

  it('[policy:tiers:invalid] a tier that is not one is refused when the stage is built', () => {
    let err: unknown;
    try {
      policy({ tiers: [['a__*', 'harmless' as 'safe']] });
    } catch (e) {
      err = e;
    }
    expect(isWardenError(err, 'CONFIG_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/gateway\.safety\.tiers\.a__\*/);
    expect(() => policy({ unannotated: 'maybe' as 'moderate' })).toThrow(/gateway\.safety\.unannotated/);
    expect(() => policy({ deny: [''] })).toThrow(/gateway\.safety\.deny/);
  });
});

describe('calls (real gateway, real upstream processes)', () => {
  let strict: Gateway;
  beforeAll(async () => {
    strict = await gatewayWith({});
  });

  it('[policy:destructive:denied] a destructive tool is refused by default, never reaching the server', async () => {
    const c = clientOf(strict, anonymous('denied-client'));
    const { res, ctx } = await c.tool('a__delete_repo');
    expect(res.error?.code).toBe(POLICY_DENIED);
    expect(res.error?.message).toMatch(/tool a__delete_repo is destructive; calls to it are denied/);
    expect(res.error?.message).toMatch(/allowDestructive/);
    expect(ctx.denial).toEqual({ event: 'policy_denied', status: 403, reason: res.error!.message });
    // Same for the readOnly+destructive tool? No: readOnlyHint wins, it is safe.
    expect((await c.tool('a__both')).res.result).toBeDefined();
    const counts = await c.tool('a__counts');
    const seen = JSON.parse((counts.res.result!.content as { text: string }[])[0]!.text) as Record<
      string,
      number
    >;
    expect(seen.delete_repo).toBeUndefined();
    expect(seen.both).toBe(1);
  });

  it('[policy:destructive:moderate-allowed] safe and moderate tools are called as usual', async () => {
    const c = clientOf(strict, anonymous('moderate-client'));
    for (const t of ['a__read_file', 'a__update', 'b__soft_update']) {
      const { res, ctx } = await c.tool(t);
      expect(res.error).toBeUndefined();
      expect((res.result!.content as { text: string }[])[0]!.text).toMatch(/ done$/);
      expect(ctx.denial).toBeUndefined();
    }
  });

  it('[policy:unknown-tool:passthrough] a tool no server offers is left to the router ("not found")', async () => {
    const c = clientOf(strict, anonymous('unknown-client'));
    const { res, ctx } = await c.tool('nosuchtool');
    expect(res.error?.code).toBe(INVALID_PARAMS);
    expect(res.error?.message).toMatch(/not found/);
    expect(ctx.denial).toBeUndefined();
  });

  it('[policy:destructive:allowed-global] allowDestructive lets every client call destructive tools', async () => {
    const gw = await gatewayWith({ allowDestructive: true });
    const { res, ctx } = await clientOf(gw, anonymous()).tool('b__delete_repo');
    expect(res.error).toBeUndefined();
    expect((res.result!.content as { text: string }[])[0]!.text).toBe('b delete_repo done');
    expect(ctx.denial).toBeUndefined();
  });

  it('[policy:destructive:allowed-key] a client whose key allows destructive calls, or listed in allowDestructiveFor, may call them', async () => {
    const gw = await gatewayWith({ allowDestructiveFor: ['ci-bot'] });
    const keyed = await clientOf(gw, { id: 'admin', via: 'api-key', allowDestructive: true }).tool(
      'a__delete_repo',
    );
    expect(keyed.res.error).toBeUndefined();
    const listed = await clientOf(gw, anonymous('ci-bot')).tool('a__delete_repo');
    expect(listed.res.error).toBeUndefined();
    const other = await clientOf(gw, anonymous('someone-else')).tool('a__delete_repo');
    expect(other.res.error?.code).toBe(POLICY_DENIED);
    expect(other.ctx.denial?.event).toBe('policy_denied');
  });

  it('[policy:deny:denied] a tool in deny is refused to everyone, even where destructive calls are allowed', async () => {
    const gw = await gatewayWith({ allowDestructive: true, deny: ['*__read_*', 'b__delete_repo'] });
    const c = clientOf(gw, { id: 'root', via: 'api-key', allowDestructive: true });
    for (const t of ['a__read_file', 'b__read_file', 'b__delete_repo']) {
      const { res, ctx } = await c.tool(t);
      expect(res.error?.code).toBe(POLICY_DENIED);
      expect(res.error?.message).toBe(`tool ${t} is denied by gateway.safety.deny`);
      expect(ctx.denial?.status).toBe(403);
    }
    expect((await c.tool('a__delete_repo')).res.error).toBeUndefined();
    expect(await c.listed()).not.toContain('a__read_file');
  });

  it('[policy:tools-list:filtered] tools/list leaves out every tool the client could not call', async () => {
    const c = clientOf(strict, anonymous('lister'));
    const names = await c.listed();
    const expected = ['a', 'b'].flatMap((s) =>
      ALL_TOOLS.filter((t) => t !== 'delete_repo').map((t) => `${s}__${t}`),
    );
    expect(names.sort()).toEqual(expected.sort());
    // A client that may call destructive tools sees them.
    const admin = clientOf(strict, { id: 'lister-admin', via: 'api-key', allowDestructive: true });
    expect(await admin.listed()).toContain('a__delete_repo');
    // With the spec's reading of missing annotations, unannotated tools are hidden too.
    const spec = await gatewayWith({ unannotated: 'destructive' });
    const specNames = await clientOf(spec, anonymous()).listed();
    expect(specNames).not.toContain('a__update');
    expect(specNames).toContain('a__soft_update');
    expect(specNames).toContain('a__read_file');
  });

  it('[policy:tools-list:cursor] a filtered page keeps its nextCursor, and the pages together hold every allowed tool', async () => {
    const gw = await gatewayWith({}, 4);
    const c = clientOf(gw, anonymous());
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const { res } = await c.call('tools/list', cursor === undefined ? undefined : { cursor });
      seen.push(...(res.result!.tools as { name: string }[]).map((t) => t.name));
      cursor = res.result!.nextCursor as string | undefined;
      if (cursor === undefined) break;
    }
    expect(seen.length).toBe(10);
    expect(seen).not.toContain('a__delete_repo');
    expect(seen).not.toContain('b__delete_repo');
  });

  it('[policy:client-tools:glob] a client with tool globs calls and sees only those tools', async () => {
    const c = clientOf(strict, { id: 'narrow', via: 'api-key', tools: ['a__read_*', 'b__update'] });
    expect((await c.listed()).sort()).toEqual(['a__read_file', 'b__update']);
    expect((await c.tool('a__read_file')).res.error).toBeUndefined();
    expect((await c.tool('b__update')).res.error).toBeUndefined();
    const { res, ctx } = await c.tool('a__update');
    expect(res.error?.code).toBe(POLICY_DENIED);
    expect(res.error?.message).toBe('tool a__update is not among the tools this client may call');
    expect(ctx.denial).toMatchObject({ event: 'policy_denied', status: 403 });
    // A name no server listed is the client's own text: it is judged, but never repeated.
    const canary = 'a__ghp_' + 'x'.repeat(36);
    const guessed = await c.tool(canary);
    expect(guessed.res.error?.message).toBe('a tool of server a is not among the tools this client may call');
    expect(JSON.stringify([guessed.res, guessed.ctx.denial])).not.toContain('ghp_');
    // Globs do not widen what else the policy denies: a destructive tool stays denied.
    const wide = clientOf(strict, { id: 'wide', via: 'api-key', tools: ['*'] });
    expect((await wide.tool('a__delete_repo')).res.error?.code).toBe(POLICY_DENIED);
  });
});

describe('server fence (identity tables)', () => {
  /** A session whose identity knows one prompt and one resource on server `b`. */
  function fenced(client: Client) {
    const prompts = new NameTable();
    prompts.add('b', 'b', 'greet');
    const resources = new Map([['mem://b/x', { server: 'b', name: 'mem://b/x' }]]);
    const tools = new NameTable();
    tools.add('b', 'b', 'read_file');
    const identity = {
      tools,
      prompts,
      resources,
      toolInfo: async (exposed: string) => {
        const t = tools.get(exposed);
        return t && { ...t, exposed, annotations: { readOnlyHint: true } };
      },
      toolInfoNow: () => undefined,
    };
    const session = { identity } as unknown as Session;
    const stage = policy({});
    let forwarded = 0;
    return {
      get forwarded() {
        return forwarded;
      },
      async send(method: string, params: Record<string, unknown>, result: Record<string, unknown> = {}) {
        const ctx: CallContext = {
          session,
          request: { jsonrpc: '2.0', id: 1, method, params },
          front: 'http',
          client,
        };
        const res = await stage(ctx, async () => {
          forwarded++;
          return { jsonrpc: '2.0', id: 1, result };
        });
        return { res, ctx };
      },
    };
  }

  it('[policy:client-servers:denied] tools, prompts and resources of a server outside the client’s servers are refused and unlisted', async () => {
    const f = fenced({ id: 'only-a', via: 'api-key', servers: ['a'] });
    for (const [method, params] of [
      ['tools/call', { name: 'b__read_file' }],
      ['prompts/get', { name: 'b__greet' }],
      ['resources/read', { uri: 'mem://b/x' }],
    ] as const) {
      const { res, ctx } = await f.send(method, params);
      expect(res.error?.code).toBe(POLICY_DENIED);
      expect(res.error?.message).toMatch(/server b, which this client may not reach/);
      expect(ctx.denial?.event).toBe('policy_denied');
    }
    expect(f.forwarded).toBe(0);
    const { res } = await f.send('prompts/list', {}, { prompts: [{ name: 'b__greet' }, { name: 'other' }] });
    expect(res.result!.prompts).toEqual([{ name: 'other' }]);
    const r2 = await f.send('resources/list', {}, { resources: [{ uri: 'mem://b/x' }] });
    expect(r2.res.result!.resources).toEqual([]);
    // A client with that server reaches all of it.
    const open = fenced({ id: 'both', via: 'api-key', servers: ['a', 'b'] });
    expect((await open.send('prompts/get', { name: 'b__greet' })).res.error).toBeUndefined();
    expect((await open.send('tools/call', { name: 'b__read_file' })).res.error).toBeUndefined();
    expect(open.forwarded).toBe(2);
  });
});

describe('config', () => {
  it('[policy:config:parse] gateway.safety is parsed with defaults, and a wrong value names its path', async () => {
    expect(await parseSafety(undefined)).toEqual({
      allowDestructive: false,
      allowDestructiveFor: [],
      unannotated: 'moderate',
      deny: [],
      tiers: [],
    });
    const s = await parseSafety({
      allowDestructive: true,
      allowDestructiveFor: ['ci'],
      unannotated: 'destructive',
      deny: ['*__drop_*'],
      tiers: { 'github__delete_*': 'destructive', 'github__*': 'safe' },
    });
    expect(s.tiers).toEqual([
      ['github__delete_*', 'destructive'],
      ['github__*', 'safe'],
    ]);
    expect(s.allowDestructive).toBe(true);
    for (const [raw, where] of [
      [{ tiers: { x: 'harmless' } }, 'gateway.safety.tiers.x'],
      [{ deny: ['ok', 3] }, 'gateway.safety.deny[1]'],
      [{ allowDestructive: 'yes' }, 'gateway.safety.allowDestructive'],
      [{ unannotated: 'safe' }, 'gateway.safety.unannotated'],
      [{ bogus: true }, 'gateway.safety'],
    ] as const)
      await expectConfigError(() => parseSafety(raw), where);
    // What the parser answers builds a stage.
    expect(typeof policy(s)).toBe('function');
  });
});
