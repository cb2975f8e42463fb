import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import {
  byId,
  eventually,
  gatewayEnv,
  startGateway,
  stdioGateway,
  upstreams,
  type RunningGateway,
} from './helpers/gateway.js';
import { bearer, openSession, rpc } from './helpers/mcp-http.js';
import { localIssuer } from './helpers/oauth-issuer.js';
import { freePort, startRedis, type RedisServer } from './helpers/redis.js';
import { remoteMcp } from './helpers/remote-mcp.js';
import { tempDir } from './helpers/tmp.js';
import { selfSignedCert } from './helpers/tls.js';

/**
 * The security stages end to end: a real `mcp-warden gateway` process, the fixture upstream, real
 * key files made by `mcp-warden keys`, a real redis-server, a real audit file checked with
 * `mcp-warden audit verify`. The stages' own edge cases are in their unit tests.
 */
const running: RunningGateway[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((g) => g.stop()));
});

async function gateway(config: string, args: string[] = [], opts: { dir?: string } = {}) {
  const g = await startGateway(config, args, opts);
  running.push(g);
  return g;
}

/** A temp project dir with keys made by the CLI: answers the dir and each key. */
function withKeys(specs: Record<string, string[]>): { dir: string; keys: Record<string, string> } {
  const dir = tempDir('mcpw-sec-');
  const env = gatewayEnv(dir);
  const keys: Record<string, string> = {};
  for (const [client, extra] of Object.entries(specs)) {
    const r = runCli(['keys', 'create', client, ...extra], { env, cwd: dir });
    if (r.code !== 0) throw new Error(`keys create ${client}: ${r.stderr}`);
    keys[client] = r.stdout.trim();
  }
  return { dir, keys };
}

function auditLines(dir: string, file = 'audit.log'): Record<string, unknown>[] {
  const text = readFileSync(join(dir, 'home', file), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A temp project: its config written, its environment. */
function project(config: string): { dir: string; path: string; env: NodeJS.ProcessEnv } {
  const dir = tempDir('mcpw-sec-');
  const path = join(dir, 'mcp-warden.yaml');
  writeFileSync(path, config);
  return { dir, path, env: gatewayEnv(dir) };
}

const callMsg = (id: number, name: string, args: Record<string, unknown>) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name, arguments: args },
});

const KEYS = `gateway:\n  auth: { keys: default }\n  audit: { file: audit.log }\n`;

describe('gateway security: who may call', () => {
  it('[auth:e2e:key-required] without a key 401 with a challenge, with one a session; the failure is audited', async () => {
    const { dir, keys } = withKeys({ alice: [] });
    const g = await gateway(upstreams(['a'], KEYS), [], { dir });
    const none = await rpc(g.url, 'initialize', {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="mcp-warden"/);
    const wrong = await rpc(g.url, 'initialize', {}, bearer(`${keys.alice!.slice(0, -3)}abc`));
    expect(wrong.status).toBe(401);
    const s = await openSession(g.url, bearer(keys.alice!));
    expect(await s.text('a__echo', { text: 'hi' })).toBe('hi');
    const x = await openSession(g.url, { 'x-mcp-api-key': keys.alice! });
    expect(await x.text('a__echo', { text: 'via header' })).toBe('via header');
    await eventually(() => auditLines(dir).filter((l) => l.event === 'auth_failure').length === 2);
    const failures = auditLines(dir).filter((l) => l.event === 'auth_failure');
    expect(failures.map((l) => l.reason)).toEqual(['missing key', expect.stringMatching(/key/)]);
    expect(readFileSync(join(dir, 'home', 'audit.log'), 'utf8')).not.toContain(keys.alice!);
  });

  it('[auth:identity:per-key] sessions of one key share its server processes; another key gets its own', async () => {
    const { dir, keys } = withKeys({ alice: [], bob: [] });
    const g = await gateway(upstreams(['a'], KEYS), [], { dir });
    const who = async (key: string) =>
      JSON.parse(await (await openSession(g.url, bearer(key))).text('a__whoami')) as {
        pid: number;
        counter: number;
      };
    const a1 = await who(keys.alice!);
    const a2 = await who(keys.alice!);
    const b1 = await who(keys.bob!);
    expect(a2.pid).toBe(a1.pid);
    expect(a2.counter).toBe(a1.counter + 1);
    expect(b1.pid).not.toBe(a1.pid);
    expect(b1.counter).toBe(1);
  });

  it('[auth:session:bound-to-client] a session id presented with another key is not found', async () => {
    const { dir, keys } = withKeys({ alice: [], bob: [] });
    const g = await gateway(upstreams(['a'], KEYS), [], { dir });
    const s = await openSession(g.url, bearer(keys.alice!));
    const stolen = await rpc(
      g.url,
      'tools/call',
      { name: 'a__whoami', arguments: {} },
      { ...bearer(keys.bob!), 'mcp-session-id': s.id, 'mcp-protocol-version': '2025-06-18' },
    );
    expect(stolen.status).toBe(404);
    expect(await s.text('a__echo', { text: 'still mine' })).toBe('still mine');
  });

  it('[auth:key:scope-servers] a key limited to some servers sees and reaches only those', async () => {
    const { dir, keys } = withKeys({ ci: ['--servers', 'a'] });
    const g = await gateway(upstreams(['a', 'b'], KEYS), [], { dir });
    const s = await openSession(g.url, bearer(keys.ci!));
    const names = ((await s.call('tools/list')).body.result!.tools as { name: string }[]).map((t) => t.name);
    expect(names).toContain('a__echo');
    expect(names.some((n) => n.startsWith('b__'))).toBe(false);
    expect(await s.text('b__echo', { text: 'x' })).toMatch(/^error/);
  });

  it('[auth:revoke:live] a key revoked while the gateway runs is refused within seconds, no restart', async () => {
    const { dir, keys } = withKeys({ alice: [] });
    const g = await gateway(upstreams(['a'], KEYS), [], { dir });
    const s = await openSession(g.url, bearer(keys.alice!));
    expect(await s.text('a__echo', { text: 'ok' })).toBe('ok');
    expect(runCli(['keys', 'revoke', 'alice'], { env: g.env, cwd: dir }).code).toBe(0);
    await eventually(async () => (await s.tool('a__echo', { text: 'x' })).status === 401, 5000);
  });

  it('[auth:bind:non-loopback] a non-loopback bind needs auth: refused without it, listening with keys', async () => {
    const dir = tempDir('mcpw-sec-');
    const r = runCli(
      ['gateway', '--http', '--host', '0.0.0.0', '--port', '0', '--config', join(dir, 'none.yaml')],
      {
        env: gatewayEnv(dir),
        cwd: dir,
      },
    );
    expect(r.code).not.toBe(0);
    const { dir: kdir, keys } = withKeys({ alice: [] });
    const g = await gateway(upstreams(['a'], KEYS), ['--host', '0.0.0.0'], { dir: kdir });
    const url = g.url.replace('0.0.0.0', '127.0.0.1');
    expect((await rpc(url, 'initialize', {})).status).toBe(401);
    const s = await openSession(url, bearer(keys.alice!));
    expect(await s.text('a__echo', { text: 'remote' })).toBe('remote');
  });

  it('[ipallow:e2e:403] an address outside gateway.allowIps is refused before authentication', async () => {
    const { dir, keys } = withKeys({ alice: [] });
    const g = await gateway(upstreams(['a'], `${KEYS}  allowIps: [10.0.0.0/8]\n`), [], { dir });
    const r = await rpc(g.url, 'initialize', {}, bearer(keys.alice!));
    expect(r.status).toBe(403);
    await eventually(() => auditLines(dir).some((l) => l.event === 'policy_denied'));
  });
});

describe('gateway security: OAuth (a local authorization-server stand-in)', () => {
  it('[auth:oauth:e2e] a token from the issuer opens a session; without one the challenge names the metadata', async () => {
    const issuer = await localIssuer();
    afterAll(() => issuer.close());
    const port = String(await freePort());
    const resource = `http://127.0.0.1:${port}/mcp`;
    const config = upstreams(
      ['a'],
      `gateway:\n  http: { port: ${port} }\n  auth:\n    oauth: { issuer: "${issuer.issuer}", resource: "${resource}" }\n`,
    );
    const g = await gateway(config, ['--port', port]);
    const none = await rpc(g.url, 'initialize', {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('resource_metadata=');
    const prm = (await (await fetch(`${g.base}/.well-known/oauth-protected-resource/mcp`)).json()) as Record<
      string,
      unknown
    >;
    expect(prm).toMatchObject({ resource, authorization_servers: [issuer.issuer] });
    const token = await issuer.mint({ aud: resource, sub: 'user-1' });
    const s = await openSession(g.url, bearer(token));
    expect(await s.text('a__echo', { text: 'with a token' })).toBe('with a token');
    const wrongAud = await issuer.mint({ aud: 'https://elsewhere.example/mcp' });
    expect((await rpc(g.url, 'initialize', {}, bearer(wrongAud))).status).toBe(401);
  });

  it('[auth:oauth:no-token-upstream] the client token never reaches an upstream: a remote server sees only its own', async () => {
    const issuer = await localIssuer();
    afterAll(() => issuer.close());
    const remote = await remoteMcp('remote-own-token-123456');
    const dir = tempDir('mcpw-sec-');
    const env = gatewayEnv(dir);
    expect(
      runCli(['secret', 'set', 'REMOTE_TOKEN'], { env, cwd: dir, input: 'remote-own-token-123456' }).code,
    ).toBe(0);
    const port = String(await freePort());
    const resource = `http://127.0.0.1:${port}/mcp`;
    const config =
      `servers:\n  r:\n    url: ${remote.url}\n    headers: { Authorization: "Bearer secret://REMOTE_TOKEN" }\n` +
      `gateway:\n  auth:\n    oauth: { issuer: "${issuer.issuer}", resource: "${resource}" }\n`;
    const g = await gateway(config, ['--port', port], { dir });
    const token = await issuer.mint({ aud: resource, sub: 'user-2' });
    const s = await openSession(g.url, bearer(token));
    expect(await s.text('r__echo', { text: 'through' })).toBe('through');
    expect(remote.seen.length).toBeGreaterThan(0);
    for (const h of remote.seen) expect(h).toBe('Bearer remote-own-token-123456');
  });
});

describe('gateway security: how much', () => {
  let redis: RedisServer | undefined;
  afterAll(async () => redis?.stop());

  it('[ratelimit:http:429] over the per-client rpm: HTTP 429 with Retry-After, audited', async () => {
    const { dir, keys } = withKeys({ alice: [], bob: [] });
    const g = await gateway(upstreams(['a'], `${KEYS}  rateLimit: { rpm: 5 }\n`), [], { dir });
    const s = await openSession(g.url, bearer(keys.alice!)); // initialize counts: 1
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await s.tool('a__echo', { text: 'x' })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const over = await s.tool('a__echo', { text: 'x' });
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.body.error?.message).toMatch(/rate limit exceeded/);
    const bob = await openSession(g.url, bearer(keys.bob!));
    expect(await bob.text('a__echo', { text: 'bob has his own' })).toBe('bob has his own');
    await eventually(() => auditLines(dir).filter((l) => l.event === 'rate_limit_exceeded').length === 3);
  });

  it('[ratelimit:stdio:jsonrpc-error] on the stdio front the limit answers a JSON-RPC error', async () => {
    const gw = stdioGateway(project(upstreams(['a'], 'gateway:\n  rateLimit: { rpm: 3 }\n')));
    for (let i = 2; i <= 5; i++) gw.send(callMsg(i, 'a__echo', { text: `m${i}` }));
    await eventually(() => byId(gw.out()).has(5), 15_000);
    await gw.close();
    const m = byId(gw.out());
    expect(m.get(3)?.error).toBeUndefined();
    expect(m.get(4)?.error?.code).toBe(-32029);
    expect(m.get(5)?.error?.code).toBe(-32029);
  });

  it('[ratelimit:redis:two-gateways] two gateway processes sharing a Redis share one budget', async () => {
    redis = await startRedis();
    const { dir, keys } = withKeys({ alice: [] });
    const config = upstreams(
      ['a'],
      `gateway:\n  auth: { keys: default }\n  rateLimit: { rpm: 12, redis: { url: "${redis.url}" } }\n`,
    );
    const g1 = await gateway(config, [], { dir });
    const g2 = await gateway(config, [], { dir });
    const s1 = await openSession(g1.url, bearer(keys.alice!));
    const s2 = await openSession(g2.url, bearer(keys.alice!));
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? s1 : s2).tool('a__echo', { text: String(i) })),
    );
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.status === 429).length;
    // 12 per minute for alice across both gateways; the two initializes took 2 of them.
    expect(ok).toBe(10);
    expect(limited).toBe(10);
  });
});

describe('gateway security: what may be done', () => {
  it('[policy:e2e:destructive] a destructive tool is hidden and denied by default, allowed for a key that may', async () => {
    const { dir, keys } = withKeys({ alice: [], admin: ['--allow-destructive'] });
    const g = await gateway(upstreams(['a'], KEYS), [], { dir });
    const s = await openSession(g.url, bearer(keys.alice!));
    const names = ((await s.call('tools/list')).body.result!.tools as { name: string }[]).map((t) => t.name);
    expect(names).toContain('a__read_rows');
    expect(names).not.toContain('a__drop_table');
    const denied = await s.tool('a__drop_table');
    expect(denied.body.error?.code).toBe(-32030);
    expect(await s.text('a__read_rows')).toBe('rows');
    const admin = await openSession(g.url, bearer(keys.admin!));
    expect(await admin.text('a__drop_table')).toBe('dropped');
    await eventually(() =>
      auditLines(dir).some((l) => l.event === 'policy_denied' && l.tool === 'a__drop_table'),
    );
  });

  it('[leak:e2e:result-redacted] a server answering with its own secret: the client gets it redacted', async () => {
    const dir = tempDir('mcpw-sec-');
    const env = gatewayEnv(dir);
    const canary = 'leak-canary-7f3a9c1e5b2d4f60';
    expect(runCli(['secret', 'set', 'API_TOKEN'], { env, cwd: dir, input: canary }).code).toBe(0);
    const config =
      upstreams(['a']).replace('    args:', '    secrets: [API_TOKEN]\n    args:') +
      'gateway:\n  audit: { file: audit.log }\n';
    const g = await gateway(config, [], { dir });
    const s = await openSession(g.url);
    const leaked = await s.text('a__env', { name: 'API_TOKEN' });
    expect(leaked).toBe('value: [redacted:API_TOKEN]');
    const ghp = `ghp_${'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8'}`;
    expect(await s.text('a__echo', { text: `token ${ghp}` })).toBe('token [redacted:github]');
    await eventually(() => auditLines(dir).some((l) => l.event === 'secret_leak'));
    const log = readFileSync(join(dir, 'home', 'audit.log'), 'utf8');
    expect(log).not.toContain(canary);
    expect(log).not.toContain(ghp);
  });
});

describe('gateway security: what happened', () => {
  it('[audit:e2e:count] under load every call is one tool_call line, and the chain verifies', async () => {
    const { dir, keys } = withKeys({ alice: [], bob: [] });
    const g = await gateway(upstreams(['a'], KEYS), [], { dir });
    const sessions = await Promise.all([
      openSession(g.url, bearer(keys.alice!)),
      openSession(g.url, bearer(keys.alice!)),
      openSession(g.url, bearer(keys.bob!)),
      openSession(g.url, bearer(keys.bob!)),
    ]);
    const N = 400;
    const replies = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        sessions[i % 4]!.tool('a__echo', { text: `call ${i}`, password: 'hunter2' }),
      ),
    );
    expect(replies.every((r) => r.status === 200 && !r.body.error)).toBe(true);
    await eventually(() => auditLines(dir).filter((l) => l.event === 'tool_call').length >= N);
    const calls = auditLines(dir).filter((l) => l.event === 'tool_call');
    expect(calls).toHaveLength(N);
    expect(new Set(calls.map((l) => l.client_id))).toEqual(new Set(['alice', 'bob']));
    expect(JSON.stringify(calls)).not.toContain('hunter2');
    const verify = runCli(['audit', 'verify', join(dir, 'home', 'audit.log')], { env: g.env, cwd: dir });
    expect(verify.stdout + verify.stderr).toMatch(/ok/);
    expect(verify.code).toBe(0);
  });

  it('[audit:e2e:sighup-reopen] logrotate: the file moved away, SIGHUP, new lines in a new file, one chain', async () => {
    const { dir, keys } = withKeys({ alice: [] });
    const g = await gateway(upstreams(['a'], KEYS), [], { dir });
    const s = await openSession(g.url, bearer(keys.alice!));
    for (let i = 0; i < 3; i++) await s.tool('a__echo', { text: 'before' });
    await eventually(() => auditLines(dir).filter((l) => l.event === 'tool_call').length === 3);
    renameSync(join(dir, 'home', 'audit.log'), join(dir, 'home', 'audit.log.1'));
    g.proc.kill('SIGHUP');
    await eventually(() => /config reloaded/.test(g.stderr()));
    for (let i = 0; i < 2; i++) await s.tool('a__echo', { text: 'after' });
    await eventually(() => {
      try {
        return auditLines(dir).filter((l) => l.event === 'tool_call').length === 2;
      } catch {
        return false;
      }
    });
    const files = [join(dir, 'home', 'audit.log.1'), join(dir, 'home', 'audit.log')];
    const verify = runCli(['audit', 'verify', ...files], { env: g.env, cwd: dir });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });

  it('[audit:e2e:stdio] the stdio front audits its calls too', async () => {
    const p = project(upstreams(['a'], 'gateway:\n  audit: { file: audit.log }\n'));
    const gw = stdioGateway(p);
    gw.send(callMsg(2, 'a__echo', { text: 'x' }));
    await eventually(() => byId(gw.out()).has(2), 15_000);
    await gw.close();
    const lines = auditLines(p.dir).filter((l) => l.event === 'tool_call');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ client_id: 'stdio', tool: 'a__echo', outcome: 'ok' });
  });

  it('[policy:e2e:stdio] [leak:e2e:stdio] on stdio too: destructive tools denied, secrets redacted', async () => {
    const canary = 'stdio-leak-canary-4c8e2a6f1b';
    const p = project(upstreams(['a']).replace('    args:', '    secrets: [API_TOKEN]\n    args:'));
    expect(runCli(['secret', 'set', 'API_TOKEN'], { env: p.env, cwd: p.dir, input: canary }).code).toBe(0);
    const gw = stdioGateway(p);
    gw.send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
    gw.send(callMsg(3, 'a__drop_table', {}));
    gw.send(callMsg(4, 'a__env', { name: 'API_TOKEN' }));
    await eventually(() => [2, 3, 4].every((id) => byId(gw.out()).has(id)), 15_000);
    await gw.close();
    const m = byId(gw.out());
    const names = (m.get(2)?.result?.tools as { name: string }[]).map((t) => t.name);
    expect(names).not.toContain('a__drop_table');
    expect(m.get(3)?.error?.code).toBe(-32030);
    expect(JSON.stringify(m.get(4)?.result)).toContain('[redacted:API_TOKEN]');
    expect(gw.out()).not.toContain(canary);
  });
});

describe('gateway security: TLS', () => {
  it('[tls:e2e] gateway.http.tls serves HTTPS with the configured certificate', async () => {
    const cert = selfSignedCert();
    const config = upstreams(
      ['a'],
      `gateway:\n  http: { tls: { cert: "${cert.certPath}", key: "${cert.keyPath}" } }\n`,
    );
    const g = await gateway(config);
    expect(g.url).toMatch(/^https:/);
    const { request } = await import('node:https');
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
    });
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        g.url,
        {
          method: 'POST',
          ca: cert.cert,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(status).toBe(200);
  });
});
