import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isWardenError } from '../src/errors.js';
import { RATE_LIMITED, type Response } from '../src/gateway/jsonrpc.js';
import { parseRateLimit } from '../src/gateway/middleware/rate-limit/config.js';
import {
  rateLimit,
  type RateLimitStage,
  type RateLimitStageOptions,
} from '../src/gateway/middleware/rate-limit/index.js';
import { MemoryWindows } from '../src/gateway/middleware/rate-limit/sliding-window.js';
import type { CallContext } from '../src/gateway/pipeline.js';
import type { Session } from '../src/gateway/session.js';
import { freePort, startRedis, type RedisServer } from './helpers/redis.js';

const REPLICA = fileURLToPath(new URL('./fixtures/rate-limit-replica.mjs', import.meta.url));

let nextId = 0;
function ctxFor(client: string, method = 'tools/call', tool = 'echo__say'): CallContext {
  return {
    session: {} as Session,
    front: 'http',
    client: { id: client, via: 'api-key' },
    request: {
      jsonrpc: '2.0',
      id: ++nextId,
      method,
      ...(method === 'tools/call' && { params: { name: tool } }),
    },
  };
}

const answer = (ctx: CallContext): Promise<Response> =>
  Promise.resolve({ jsonrpc: '2.0', id: ctx.request.id, result: { ok: true } });

/** Builds a stage, closed after the test; its log lines land in `logs`. */
const stages: RateLimitStage[] = [];
afterEach(async () => {
  await Promise.all(stages.splice(0).map((s) => s.close()));
});
function build(opts: Partial<RateLimitStageOptions>, logs: string[] = []): RateLimitStage {
  const stage = rateLimit({ tools: [], onStoreError: 'deny', log: (l) => logs.push(l), ...opts });
  stages.push(stage);
  return stage;
}

/** Runs one request through the stage; `called` says whether it reached the next stage. */
async function send(stage: RateLimitStage, ctx: CallContext): Promise<{ res: Response; called: boolean }> {
  let called = false;
  const res = await stage(ctx, () => {
    called = true;
    return answer(ctx);
  });
  return { res, called };
}

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Fires requests one after another (a pause between) for `forMs`; for each admitted one, when it
 * was sent and when it was answered.
 */
async function hammer(
  stage: RateLimitStage,
  client: string,
  forMs: number,
): Promise<{ admitted: { before: number; after: number }[]; denied: number }> {
  const admitted: { before: number; after: number }[] = [];
  let denied = 0;
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    const before = Date.now();
    const { res } = await send(stage, ctxFor(client, 'tools/list'));
    const after = Date.now();
    if (res.error) denied++;
    else admitted.push({ before, after });
    await sleep(4);
  }
  return { admitted, denied };
}

/**
 * The most admitted requests that certainly fell within one window-long span: for each admitted
 * request a, those sent after it and answered before a's send time plus the window (each was
 * counted between its send and its answer, so all of them were counted within [a, a + window)).
 */
function mostInOneWindow(admitted: { before: number; after: number }[], windowMs: number): number {
  let most = 0;
  for (let a = 0; a < admitted.length; a++) {
    let n = 0;
    for (let j = a; j < admitted.length && admitted[j]!.after < admitted[a]!.before + windowMs; j++) n++;
    most = Math.max(most, n);
  }
  return most;
}

describe('rate limit, in memory', () => {
  it('[ratelimit:rpm:429] over rpm the request is refused with 429, Retry-After and a JSON-RPC error, and goes no further', async () => {
    const stage = build({ rpm: 3 });
    for (let i = 0; i < 3; i++) expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    const ctx = ctxFor('alice', 'tools/list');
    const { res, called } = await send(stage, ctx);
    expect(called).toBe(false);
    expect(res.id).toBe(ctx.request.id);
    expect(res.error?.code).toBe(RATE_LIMITED);
    expect(res.error?.message).toMatch(
      /^rate limit exceeded: 3 requests per minute for client "alice"; retry in \d+ s$/,
    );
    const seconds = (res.error?.data as { retryAfterSeconds: number }).retryAfterSeconds;
    expect(seconds).toBeGreaterThanOrEqual(60);
    expect(seconds).toBeLessThanOrEqual(61);
    expect(ctx.denial).toEqual({
      event: 'rate_limit_exceeded',
      status: 429,
      headers: { 'retry-after': String(seconds) },
      reason: res.error?.message,
    });
    // Every JSON-RPC request counts, tools/call or not; the stage never touches the answer.
    const other = build({ rpm: 2 });
    expect((await send(other, ctxFor('bob', 'initialize'))).called).toBe(true);
    expect((await send(other, ctxFor('bob', 'resources/list'))).res).toMatchObject({ result: { ok: true } });
    expect((await send(other, ctxFor('bob', 'ping'))).res.error?.code).toBe(RATE_LIMITED);
  });

  it('[ratelimit:rpm:429] without any limit set, requests pass untouched', async () => {
    const stage = build({});
    for (let i = 0; i < 50; i++) {
      const ctx = ctxFor('alice', i % 2 ? 'tools/call' : 'tools/list');
      const { res, called } = await send(stage, ctx);
      expect(called).toBe(true);
      expect(res.result).toEqual({ ok: true });
      expect(ctx.denial).toBeUndefined();
    }
  });

  it('[ratelimit:per-client] one client spending its budget leaves the others theirs', async () => {
    const stage = build({ rpm: 5 });
    for (let i = 0; i < 5; i++) expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    expect((await send(stage, ctxFor('alice'))).called).toBe(false);
    for (let i = 0; i < 5; i++) expect((await send(stage, ctxFor('bob'))).called).toBe(true);
    expect((await send(stage, ctxFor('bob'))).called).toBe(false);
    expect((await send(stage, ctxFor('carol'))).called).toBe(true);
    expect((await send(stage, ctxFor('alice'))).res.error?.message).toContain('client "alice"');
  });

  it('[ratelimit:tool-override] a tool glob sets a stricter budget per tool, the first matching glob applies, on top of the client budget', async () => {
    const stage = build({
      rpm: 10,
      tools: [
        { glob: 'github__delete_*', rpm: 1 },
        { glob: 'github__*', rpm: 2 },
      ],
    });
    const call = (tool: string) => send(stage, ctxFor('alice', 'tools/call', tool));
    expect((await call('github__search')).called).toBe(true);
    expect((await call('github__search')).called).toBe(true);
    const denied = await call('github__search');
    expect(denied.called).toBe(false);
    expect(denied.res.error?.message).toBe(
      'rate limit exceeded: 2 requests per minute of tool "github__search" for client "alice"; retry in 61 s',
    );
    // Each tool the glob matches has its own budget; the first matching glob wins.
    expect((await call('github__issues')).called).toBe(true);
    expect((await call('github__delete_repo')).called).toBe(true);
    expect((await call('github__delete_repo')).res.error?.message).toContain(
      '1 requests per minute of tool "github__delete_repo"',
    );
    // Tools no glob matches, and other clients, are not touched by it.
    expect((await call('fs__read')).called).toBe(true);
    expect((await send(stage, ctxFor('bob', 'tools/call', 'github__search'))).called).toBe(true);
    // Five admitted for alice so far; refused calls took nothing from her budget of 10.
    for (let i = 0; i < 5; i++) expect((await send(stage, ctxFor('alice', 'tools/list'))).called).toBe(true);
    const over = await send(stage, ctxFor('alice', 'tools/call', 'fs__read'));
    expect(over.res.error?.message).toMatch(
      /^rate limit exceeded: 10 requests per minute for client "alice"/,
    );
  });

  it('[ratelimit:tool-override] a tool glob sets a stricter concurrency per tool', async () => {
    const stage = build({ concurrent: 3, tools: [{ glob: 'slow__*', concurrent: 1 }] });
    const gate = deferred();
    const first = stage(ctxFor('alice', 'tools/call', 'slow__x'), () =>
      gate.promise.then(() => answer(ctxFor('a'))),
    );
    const ctx = ctxFor('alice', 'tools/call', 'slow__x');
    const second = await send(stage, ctx);
    expect(second.called).toBe(false);
    expect(second.res.error?.message).toBe(
      'rate limit exceeded: 1 concurrent calls of tool "slow__x" for client "alice"; retry in 1 s',
    );
    expect(ctx.denial?.headers).toEqual({ 'retry-after': '1' });
    expect((await send(stage, ctxFor('alice', 'tools/call', 'slow__y'))).called).toBe(true);
    gate.resolve();
    await first;
    expect((await send(stage, ctxFor('alice', 'tools/call', 'slow__x'))).called).toBe(true);
  });

  it('[ratelimit:concurrent:429] calls in flight over the limit are refused; other methods are not counted', async () => {
    const stage = build({ concurrent: 2 });
    const gates = [deferred(), deferred()];
    const running = gates.map((g) => {
      const ctx = ctxFor('alice');
      return stage(ctx, () => g.promise.then(() => answer(ctx)));
    });
    const ctx = ctxFor('alice');
    const { res, called } = await send(stage, ctx);
    expect(called).toBe(false);
    expect(res.error?.code).toBe(RATE_LIMITED);
    expect(res.error?.message).toBe(
      'rate limit exceeded: 2 concurrent calls for client "alice"; retry in 1 s',
    );
    expect(res.error?.data).toEqual({ retryAfterSeconds: 1 });
    expect(ctx.denial).toMatchObject({ status: 429, headers: { 'retry-after': '1' } });
    // Not a tools/call: not limited by concurrency. Another client: its own slots.
    expect((await send(stage, ctxFor('alice', 'tools/list'))).called).toBe(true);
    expect((await send(stage, ctxFor('bob'))).called).toBe(true);
    gates[0]!.resolve();
    await running[0];
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    gates[1]!.resolve();
    expect((await running[1])!.result).toEqual({ ok: true });
  });

  it('[ratelimit:concurrent:release] the slot is released when the call throws, and when a later limit refuses', async () => {
    const stage = build({ concurrent: 1, tools: [{ glob: 'once', rpm: 1 }] });
    const boom = new Error('upstream failed');
    await expect(stage(ctxFor('alice'), () => Promise.reject(boom))).rejects.toBe(boom);
    await expect(
      stage(ctxFor('alice'), () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    expect((await send(stage, ctxFor('alice', 'tools/call', 'once'))).called).toBe(true);
    // Refused by the tool's rpm after the concurrency slot was taken: the slot goes back.
    expect((await send(stage, ctxFor('alice', 'tools/call', 'once'))).res.error?.message).toContain(
      'of tool "once"',
    );
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
  });

  it('[ratelimit:retry-after] Retry-After says when the next request is admitted, to the slot', () => {
    const w = new MemoryWindows(60_000);
    const t0 = 1_000_000 * 60_000; // a window boundary
    expect(w.take(['k'], [2], t0 + 500)).toBeUndefined();
    expect(w.take(['k'], [2], t0 + 10_000)).toBeUndefined();
    // The request of second 0 leaves the window once second 61 begins (its slot is counted whole).
    expect(w.take(['k'], [2], t0 + 20_000)).toEqual({ which: 0, waitMs: 41_000 });
    expect(w.take(['k'], [2], t0 + 60_999)).toEqual({ which: 0, waitMs: 1 });
    expect(w.take(['k'], [2], t0 + 61_000)).toBeUndefined();
    expect(w.take(['k'], [2], t0 + 61_001)).toEqual({ which: 0, waitMs: 9_999 });
    // Two budgets: the one that frees up last names the wait.
    expect(w.take(['a', 'b'], [1, 5], t0)).toBeUndefined();
    expect(w.take(['a', 'b'], [1, 5], t0 + 1000)).toEqual({ which: 0, waitMs: 60_000 });
  });

  it('[ratelimit:retry-after] a client that waits as long as Retry-After says is admitted again', async () => {
    const stage = build({ rpm: 2, windowMs: 1200 });
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    const ctx = ctxFor('alice');
    const { res } = await send(stage, ctx);
    const seconds = (res.error?.data as { retryAfterSeconds: number }).retryAfterSeconds;
    expect(seconds).toBe(2);
    expect(ctx.denial?.headers?.['retry-after']).toBe('2');
    expect(res.error?.message).toBe(
      'rate limit exceeded: 2 requests per 1200 ms for client "alice"; retry in 2 s',
    );
    await sleep(500);
    expect((await send(stage, ctxFor('alice'))).called).toBe(false);
    await sleep(seconds * 1000 - 500);
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
  });

  it('[ratelimit:sliding-window] no window-long span ever holds more than the limit, wherever it starts (simulated clock)', () => {
    const limit = 10;
    const windowMs = 1000;
    const w = new MemoryWindows(windowMs);
    const base = 5_000_000 * windowMs;
    const admitted: number[] = [];
    // A client that asks every millisecond from the middle of a window for 6 windows. Fixed
    // windows would admit 20 around each boundary; the weighted two-window estimate 15.
    for (let t = base + 500; t < base + 6500; t++)
      if (w.take(['k'], [limit], t) === undefined) admitted.push(t);
    let most = 0;
    for (let a = 0; a < admitted.length; a++) {
      let n = 0;
      while (a + n < admitted.length && admitted[a + n]! < admitted[a]! + windowMs) n++;
      most = Math.max(most, n);
    }
    expect(most).toBe(limit);
    // And the budget is really given: at least 95 % of 10 per second over the 6 s.
    expect(admitted.length).toBeGreaterThanOrEqual(57);
    // A burst at the end of one window cannot be followed by another at the start of the next.
    const b = new MemoryWindows(windowMs);
    let burst = 0;
    for (let i = 0; i < 20; i++) if (b.take(['k'], [limit], base + 990 + i) === undefined) burst++;
    expect(burst).toBe(limit);
  });

  it('[ratelimit:sliding-window] through the stage, in real time: at most rpm in any window-long span', async () => {
    const stage = build({ rpm: 5, windowMs: 1000 });
    const { admitted, denied } = await hammer(stage, 'alice', 2600);
    expect(denied).toBeGreaterThan(50);
    expect(mostInOneWindow(admitted, 1000)).toBeLessThanOrEqual(5);
    expect(admitted.length).toBeGreaterThanOrEqual(10);
  });

  it('[ratelimit:sliding-window] keys with no request for a window are dropped', () => {
    const w = new MemoryWindows(1000);
    const base = 7_000_000 * 1000;
    for (let i = 0; i < 100; i++) w.take([`k${i}`], [1], base);
    expect(w.size).toBe(100);
    w.take(['other'], [1], base + 2100);
    expect(w.size).toBe(1);
  });
});

describe('rate limit, shared through Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });
  const prefix = () => `t${randomBytes(4).toString('hex')}`;
  const store = (p = prefix()) => ({ url: redis.url, prefix: p, timeoutMs: 2000 });

  it('[ratelimit:redis:shared-budget] two gateway processes on one Redis share one budget: rpm 20, 20 each, 20 admitted in all', async () => {
    const p = prefix();
    const spec = JSON.stringify({ url: redis.url, prefix: p, rpm: 20, count: 20, client: 'alice' });
    const replicas = [0, 1].map(() => {
      const child = spawn(process.execPath, [REPLICA, spec], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const lines = createInterface({ input: child.stdout });
      const out: string[] = [];
      const ready = new Promise<void>((resolve, reject) => {
        lines.on('line', (l) => {
          out.push(l);
          if (l === 'ready') resolve();
        });
        child.once('exit', (code) => reject(new Error(`replica exited ${code} before ready: ${stderr}`)));
      });
      const done = new Promise<{ admitted: number; denied: number; reasons: string[] }>((resolve, reject) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`replica timed out: ${stderr}`));
        }, 30_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          const last = out.at(-1);
          if (code === 0 && last?.startsWith('{')) resolve(JSON.parse(last) as never);
          else reject(new Error(`replica exited ${code}: ${stderr}`));
        });
      });
      return { child, ready, done };
    });
    await Promise.all(replicas.map((r) => r.ready));
    for (const r of replicas) r.child.stdin.end('go\n');
    const results = await Promise.all(replicas.map((r) => r.done));
    expect(results.map((r) => r.admitted + r.denied)).toEqual([20, 20]);
    expect(results[0]!.admitted + results[1]!.admitted).toBe(20);
    for (const r of results)
      for (const reason of r.reasons)
        expect(reason).toMatch(/^rate limit exceeded: 20 requests per minute for client "alice"/);
    // A third party (this process) sees the budget spent too.
    const stage = build({ rpm: 20, redis: store(p) });
    const { res } = await send(stage, ctxFor('alice'));
    expect(res.error?.code).toBe(RATE_LIMITED);
    expect((await send(stage, ctxFor('bob'))).called).toBe(true);
  });

  it('[ratelimit:redis:shared-budget] tool and client budgets are checked and counted together in Redis', async () => {
    const p = prefix();
    const a = build({ rpm: 4, tools: [{ glob: 'gh__*', rpm: 2 }], redis: store(p) });
    const b = build({ rpm: 4, tools: [{ glob: 'gh__*', rpm: 2 }], redis: store(p) });
    expect((await send(a, ctxFor('alice', 'tools/call', 'gh__x'))).called).toBe(true);
    expect((await send(b, ctxFor('alice', 'tools/call', 'gh__x'))).called).toBe(true);
    const refused = await send(a, ctxFor('alice', 'tools/call', 'gh__x'));
    expect(refused.res.error?.message).toMatch(
      /^rate limit exceeded: 2 requests per minute of tool "gh__x" for client "alice"; retry in 6[01] s$/,
    );
    // The refusal took nothing: two left of alice's 4.
    expect((await send(b, ctxFor('alice', 'tools/list'))).called).toBe(true);
    expect((await send(a, ctxFor('alice', 'tools/call', 'gh__y'))).called).toBe(true);
    expect((await send(b, ctxFor('alice', 'tools/list'))).res.error?.message).toMatch(
      /4 requests per minute for client "alice"/,
    );
  });

  it('[ratelimit:sliding-window] in Redis too: at most rpm in any window-long span, in real time', async () => {
    const stage = build({ rpm: 5, windowMs: 1000, redis: store() });
    const { admitted, denied } = await hammer(stage, 'alice', 2600);
    expect(denied).toBeGreaterThan(20);
    expect(mostInOneWindow(admitted, 1000)).toBeLessThanOrEqual(5);
    expect(admitted.length).toBeGreaterThanOrEqual(10);
  });

  it('[ratelimit:redis:password] the password comes from the options or REDIS_PASSWORD and never shows in a log or a refusal', async () => {
    const password = `pw-${randomBytes(8).toString('hex')}`;
    const guarded = await startRedis({ password });
    try {
      const logs: string[] = [];
      const good = build(
        { rpm: 5, redis: { url: guarded.url, prefix: prefix(), timeoutMs: 2000, password } },
        logs,
      );
      expect((await send(good, ctxFor('alice'))).called).toBe(true);
      const saved = process.env.REDIS_PASSWORD;
      process.env.REDIS_PASSWORD = password;
      try {
        const fromEnv = build(
          { rpm: 5, redis: { url: guarded.url, prefix: prefix(), timeoutMs: 2000 } },
          logs,
        );
        expect((await send(fromEnv, ctxFor('alice'))).called).toBe(true);
        process.env.REDIS_PASSWORD = '';
        const wrong = build(
          {
            rpm: 5,
            redis: { url: guarded.url, prefix: prefix(), timeoutMs: 2000, password: `${password}x` },
          },
          logs,
        );
        const ctx = ctxFor('alice');
        const { res, called } = await send(wrong, ctx);
        expect(called).toBe(false);
        expect(ctx.denial?.status).toBe(503);
        for (const text of [...logs, res.error?.message, ctx.denial?.reason])
          expect(text).not.toContain(password);
        expect(logs.length).toBeGreaterThanOrEqual(1);
      } finally {
        if (saved === undefined) delete process.env.REDIS_PASSWORD;
        else process.env.REDIS_PASSWORD = saved;
      }
    } finally {
      await guarded.stop();
    }
  });
});

describe('rate limit, Redis unreachable', () => {
  it('[ratelimit:redis:down] with onStoreError deny (the default) requests are refused with 503 and a clear reason, logged once', async () => {
    const port = await freePort();
    const logs: string[] = [];
    const stage = build(
      { rpm: 100, redis: { url: `redis://127.0.0.1:${port}/0`, prefix: 'x', timeoutMs: 300 } },
      logs,
    );
    for (let i = 0; i < 5; i++) {
      const ctx = ctxFor('alice');
      const { res, called } = await send(stage, ctx);
      expect(called).toBe(false);
      expect(res.error?.code).toBe(RATE_LIMITED);
      expect(res.error?.message).toBe(
        'rate limit unavailable: the rate limit store cannot be reached; retry in 1 s',
      );
      expect(ctx.denial).toMatchObject({
        event: 'rate_limit_exceeded',
        status: 503,
        headers: { 'retry-after': '1' },
      });
      expect(ctx.denial?.reason).toMatch(
        new RegExp(
          `^rate limit store redis://127\\.0\\.0\\.1:${port}/0: .+; refused \\(gateway\\.rateLimit\\.onStoreError: deny\\)$`,
        ),
      );
    }
    await sleep(600); // reconnection attempts fail meanwhile
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(
      new RegExp(
        `^rate limit: store redis://127\\.0\\.0\\.1:${port}/0 unreachable \\(.*ECONNREFUSED.*\\); refusing requests until it is back`,
      ),
    );
  });

  it('[ratelimit:redis:down] a Redis that goes away mid-way refuses calls, and admits again once it is back', async () => {
    const server = await startRedis();
    let restarted: RedisServer | undefined;
    try {
      const logs: string[] = [];
      const stage = build({ rpm: 100, redis: { url: server.url, prefix: 'y', timeoutMs: 500 } }, logs);
      expect((await send(stage, ctxFor('alice'))).called).toBe(true);
      await server.stop();
      const down = ctxFor('alice');
      expect((await send(stage, down)).called).toBe(false);
      expect(down.denial?.status).toBe(503);
      for (let i = 0; i < 3; i++) expect((await send(stage, ctxFor('alice'))).called).toBe(false);
      expect(logs.filter((l) => l.includes('unreachable'))).toHaveLength(1);
      restarted = await startRedis({ port: server.port });
      let admitted = false;
      for (let i = 0; i < 100 && !admitted; i++) {
        admitted = (await send(stage, ctxFor('alice'))).called;
        if (!admitted) await sleep(100);
      }
      expect(admitted).toBe(true);
      expect(logs.filter((l) => l.includes('reachable again'))).toHaveLength(1);
      expect(logs).toHaveLength(2);
    } finally {
      await restarted?.stop();
    }
  });

  it('[ratelimit:redis:allow] with onStoreError allow each process limits on its own while Redis is away', async () => {
    const port = await freePort();
    const logs: string[] = [];
    const stage = build(
      {
        rpm: 2,
        onStoreError: 'allow',
        redis: { url: `redis://127.0.0.1:${port}/0`, prefix: 'x', timeoutMs: 300 },
      },
      logs,
    );
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    expect((await send(stage, ctxFor('alice'))).called).toBe(true);
    const ctx = ctxFor('alice');
    expect((await send(stage, ctx)).called).toBe(false);
    expect(ctx.denial?.status).toBe(429);
    expect((await send(stage, ctxFor('bob'))).called).toBe(true);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain(
      'each gateway process limits on its own until it is back (onStoreError: allow)',
    );
  });
});

describe('rate limit config', () => {
  const invalid = async (raw: unknown): Promise<string> => {
    try {
      await parseRateLimit(raw);
    } catch (err) {
      if (isWardenError(err, 'CONFIG_INVALID')) return err.message;
      throw err;
    }
    throw new Error(`accepted ${JSON.stringify(raw)}`);
  };

  it('[ratelimit:config:invalid] a valid section parses, with its defaults and the tools in order', async () => {
    expect(await parseRateLimit(undefined)).toEqual({ tools: [], onStoreError: 'deny' });
    expect(
      await parseRateLimit({
        rpm: 60,
        concurrent: 3,
        tools: { 'github__delete_*': { rpm: 1 }, 'github__*': { rpm: 10, concurrent: 1 } },
        redis: { url: 'redis://user@redis:6379/2', password: 'secret://REDIS_PASSWORD' },
      }),
    ).toEqual({
      rpm: 60,
      concurrent: 3,
      tools: [
        { glob: 'github__delete_*', rpm: 1 },
        { glob: 'github__*', rpm: 10, concurrent: 1 },
      ],
      redis: {
        url: 'redis://user@redis:6379/2',
        password: 'secret://REDIS_PASSWORD',
        prefix: 'mcpw:rl',
        timeoutMs: 500,
      },
      onStoreError: 'deny',
    });
  });

  it('[ratelimit:config:invalid] mistakes are refused with CONFIG_INVALID naming the path', async () => {
    expect(await invalid({ rpm: 0 })).toBe('gateway.rateLimit.rpm: expected at least 1');
    expect(await invalid({ rpm: '60' })).toBe('gateway.rateLimit.rpm: expected a number');
    expect(await invalid({ rpm: 1.5 })).toBe('gateway.rateLimit.rpm: expected a whole number');
    expect(await invalid({ rmp: 60 })).toBe('gateway.rateLimit: unknown key "rmp"');
    expect(await invalid({ concurrent: -1 })).toBe('gateway.rateLimit.concurrent: expected at least 1');
    expect(await invalid({ tools: { 'x*': {} } })).toBe(
      'gateway.rateLimit.tools.x*: give rpm, concurrent or both',
    );
    expect(await invalid({ tools: { 'x*': { rpm: 1, burst: 2 } } })).toBe(
      'gateway.rateLimit.tools.x*: unknown key "burst"',
    );
    expect(await invalid({ tools: { '': { rpm: 1 } } })).toMatch(
      /^gateway\.rateLimit\.tools: a glob may not be empty$/,
    );
    expect(await invalid({ rpm: 10, tools: { 'x*': { rpm: 20 } } })).toBe(
      "gateway.rateLimit.tools.x*.rpm: 20 is above the client's 10 (gateway.rateLimit.rpm); a tool limit can only be stricter",
    );
    expect(await invalid({ concurrent: 2, tools: { 'x*': { concurrent: 3 } } })).toMatch(
      /^gateway\.rateLimit\.tools\.x\*\.concurrent: 3 is above/,
    );
    expect(await invalid({ onStoreError: 'ignore' })).toBe(
      'gateway.rateLimit.onStoreError: expected deny or allow',
    );
    expect(await invalid({ redis: { url: 'http://redis:6379' } })).toBe(
      'gateway.rateLimit.redis.url: expected redis:// or rediss://, not http://',
    );
    expect(await invalid({ redis: { url: 'redis://redis:6379/0?password=x' } })).toBe(
      'gateway.rateLimit.redis.url: no query or fragment please; expected redis://host:port/db',
    );
    expect(await invalid({ redis: { url: 'redis://redis:6379/zero' } })).toBe(
      'gateway.rateLimit.redis.url: the path is the database: expected redis://host:port/NUMBER',
    );
    expect(await invalid({ redis: { url: 'redis://redis:6379', prefix: 'has space' } })).toBe(
      'gateway.rateLimit.redis.prefix: expected 1 to 100 printable characters, no spaces',
    );
    expect(await invalid({ redis: { url: 'redis://redis:6379', timeoutMs: 5 } })).toBe(
      'gateway.rateLimit.redis.timeoutMs: expected at least 10',
    );
    expect(await invalid({ redis: {} })).toBe('gateway.rateLimit.redis.url: expected a redis:// URL');
  });

  it('[ratelimit:config:invalid] a password in the URL or in the config is refused without being echoed', async () => {
    const pw = 'hunter2-s3cr3t';
    for (const raw of [
      { redis: { url: `redis://:${pw}@redis:6379/0` } },
      { redis: { url: `redis://default:${pw}@redis:6379/0` } },
      { redis: { url: 'redis://redis:6379', password: pw } },
    ]) {
      const message = await invalid(raw);
      expect(message).toMatch(/^gateway\.rateLimit\.redis\.(url|password): /);
      expect(message).toMatch(/secret:\/\/|REDIS_PASSWORD/);
      expect(message).not.toContain(pw);
    }
    expect(await invalid({ redis: { url: 'redis://redis:6379', password: 'secret://' } })).toMatch(
      /^gateway\.rateLimit\.redis\.password: /,
    );
  });

  it('[ratelimit:config:invalid] the stage checks its options when it is built', () => {
    const log = () => {};
    const built = (o: Partial<RateLimitStageOptions>) => () =>
      rateLimit({ tools: [], onStoreError: 'deny', log, ...o });
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        return isWardenError(err) ? `${err.code} ${err.message}` : String(err);
      }
      return undefined;
    };
    expect(code(built({ rpm: 0 }))).toBe(
      'CONFIG_INVALID gateway.rateLimit.rpm: expected a whole number from 1 to 1000000',
    );
    expect(code(built({ rpm: 5, windowMs: 10 }))).toMatch(/^CONFIG_INVALID gateway\.rateLimit\.windowMs: /);
    expect(code(built({ tools: [{ glob: 'a*' }] }))).toBe(
      'CONFIG_INVALID gateway.rateLimit.tools.a*: give rpm, concurrent or both',
    );
    expect(
      code(
        built({
          redis: { url: 'redis://127.0.0.1:1/0', prefix: 'p', timeoutMs: 100, password: 'secret://REDIS_PW' },
        }),
      ),
    ).toMatch(
      /^CONFIG_INVALID gateway\.rateLimit\.redis\.password: the secret:\/\/ reference was not resolved/,
    );
    expect(code(built({ redis: { url: 'redis://:pw@127.0.0.1:1/0', prefix: 'p', timeoutMs: 100 } }))).toMatch(
      /^CONFIG_INVALID gateway\.rateLimit\.redis\.url: holds a password/,
    );
  });
});
