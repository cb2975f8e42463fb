import { WardenError } from '../../../errors.js';
import { isRef } from '../../../refs.js';
import { RATE_LIMITED, errorResponse, type Response } from '../../jsonrpc.js';
import { callNext, globMatcher, type CallContext, type Client, type Stage } from '../../pipeline.js';
import { checkRateLimit, type RateLimitOptions } from './config.js';
import { RedisWindows, safeUrl } from './redis-store.js';
import { MemoryWindows, type Refused } from './sliding-window.js';

export { parseRateLimit, type RateLimitOptions, type RedisStoreOptions, type ToolLimit } from './config.js';

export interface RateLimitStageOptions extends RateLimitOptions {
  /** One line per store outage and recovery (never a password or a URL's user information). */
  log: (line: string) => void;
  /** The span `rpm` counts over (default 60 000 ms). Shorter ones are for tests. */
  windowMs?: number;
}

export type RateLimitStage = Stage & { close(): Promise<void> };

interface Rule {
  glob: string;
  match: (name: string) => boolean;
  rpm?: number;
  concurrent?: number;
}

const RULE_CACHE = 4096;

/** A name for a message: quoted, control characters escaped, and cut short. */
function show(s: string): string {
  return JSON.stringify(s.length > 100 ? `${s.slice(0, 100)}...` : s);
}

/**
 * Per-client limits on a call level (PRODUCT.md: after authentication, before the policy):
 *  - `rpm`: requests per minute, every JSON-RPC request of the client counts, over a sliding
 *    window (sliding-window.ts), in memory or shared through Redis between replicas;
 *  - `concurrent`: tools/call in flight per client in this process; the slot is released when
 *    the rest of the pipeline settles, answer or throw;
 *  - `tools`: the same two per tool (each tool a glob matches, for each client), on top of the
 *    client's own; the first glob that matches the exposed name applies.
 * Over a limit the request goes no further: a JSON-RPC RATE_LIMITED error with
 * `data.retryAfterSeconds`, and `ctx.denial` (429 and Retry-After) for the HTTP front and the
 * audit. A denied request counts against no budget.
 *
 * When Redis cannot answer (down, or slower than `redis.timeoutMs`), `onStoreError: deny` (the
 * default) refuses with 503: a limit that silently stops holding is a limit an attacker only has
 * to wait out by knocking Redis over. `allow` keeps serving and limits each process on its own
 * (the memory windows) until Redis is back: the budget grows by the number of replicas for the
 * outage, but never becomes unlimited. This is rate-limiter-flexible's insurance limiter idea; it
 * is done here because the windows are ours (sliding-window.ts says why). Either way the outage
 * is logged once when it starts and once when it ends.
 */
export function rateLimit(opts: RateLimitStageOptions): RateLimitStage {
  checkRateLimit(opts);
  if (typeof opts.log !== 'function') throw new TypeError('rateLimit: opts.log must be a function');
  const windowMs = opts.windowMs ?? 60_000;
  if (!(Number.isInteger(windowMs) && windowMs >= 600))
    throw new WardenError(
      'CONFIG_INVALID',
      'gateway.rateLimit.windowMs: expected a whole number of ms, at least 600',
    );
  const { rpm, concurrent, onStoreError, log } = opts;
  const per = windowMs === 60_000 ? 'per minute' : `per ${windowMs} ms`;
  const rules: Rule[] = opts.tools.map((t) => ({ ...t, match: globMatcher([t.glob]) }));
  const ruleOf = new Map<string, Rule | null>();
  const memory = new MemoryWindows(windowMs);
  const inFlight = new Map<string, number>();
  const clientLimits = rpm === undefined ? [] : [rpm];

  let redis: RedisWindows | undefined;
  if (opts.redis) {
    const { url, prefix, timeoutMs } = opts.redis;
    let password = opts.redis.password;
    if (password !== undefined && isRef(password))
      throw new WardenError(
        'CONFIG_INVALID',
        'gateway.rateLimit.redis.password: the secret:// reference was not resolved; resolve it before building the stage',
      );
    if (password === undefined && process.env.REDIS_PASSWORD) password = process.env.REDIS_PASSWORD;
    const where = safeUrl(url);
    redis = new RedisWindows({
      url,
      ...(password !== undefined && { password }),
      prefix,
      timeoutMs,
      windowMs,
      onDown: (detail) =>
        log(
          `rate limit: store ${where} unreachable (${detail}); ` +
            (onStoreError === 'deny'
              ? 'refusing requests until it is back (onStoreError: deny)'
              : 'each gateway process limits on its own until it is back (onStoreError: allow)'),
        ),
      onUp: () => log(`rate limit: store ${where} reachable again; budgets are shared again`),
    });
  }

  const ruleFor = (tool: string): Rule | undefined => {
    let rule = ruleOf.get(tool);
    if (rule === undefined) {
      rule = rules.find((r) => r.match(tool)) ?? null;
      if (ruleOf.size >= RULE_CACHE) ruleOf.clear();
      ruleOf.set(tool, rule);
    }
    return rule ?? undefined;
  };

  const refuse = (ctx: CallContext, status: number, message: string, seconds: number, reason = message) => {
    ctx.denial = {
      event: 'rate_limit_exceeded',
      status,
      headers: { 'retry-after': String(seconds) },
      reason,
    };
    return errorResponse(ctx.request.id, RATE_LIMITED, message, { retryAfterSeconds: seconds });
  };

  const acquire = (key: string): void => {
    inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
  };
  const release = (key: string | undefined): void => {
    if (key === undefined) return;
    const n = (inFlight.get(key) ?? 1) - 1;
    if (n <= 0) inFlight.delete(key);
    else inFlight.set(key, n);
  };

  // An authenticated client is one object for all its requests (auth stages share it): its key
  // is made once, and the maps hash that one string once instead of a new string per call.
  const clientKeys = new WeakMap<Client, string>();
  const keyOf = (client: Client): string => {
    let key = clientKeys.get(client);
    if (key === undefined) {
      key = `c:${client.id}`;
      clientKeys.set(client, key);
    }
    return key;
  };

  /** `next`, with the held concurrency slots given back when its answer settles. */
  const proceed = (
    next: () => Promise<Response>,
    heldClient: string | undefined,
    heldTool: string | undefined,
  ): Promise<Response> => {
    if (heldClient === undefined && heldTool === undefined) return next();
    const done = () => {
      release(heldClient);
      release(heldTool);
    };
    return callNext(next).then(
      (res) => {
        done();
        return res;
      },
      (err: unknown) => {
        done();
        throw err;
      },
    );
  };

  // Not async: with the memory store a call is admitted (or refused) with no promise of our own;
  // only a Redis round trip waits.
  function rateLimit(ctx: CallContext, next: () => Promise<Response>): Promise<Response> {
    const req = ctx.request;
    const isCall = req.method === 'tools/call';
    if (!isCall && rpm === undefined) return next();
    // An anonymous client is one session: keyed by it, a new session would be a new budget. So
    // anonymous callers share their address's budget.
    const anonymous = ctx.client.via === 'anonymous';
    const id = anonymous ? `address ${ctx.clientIp ?? 'unknown'}` : ctx.client.id;
    const clientKey = anonymous ? `c:${id}` : keyOf(ctx.client);
    let tool: string | undefined;
    let rule: Rule | undefined;
    if (isCall && rules.length > 0) {
      const name = req.params?.name;
      if (typeof name === 'string') {
        rule = ruleFor(name);
        if (rule) tool = name;
      }
    }
    const toolKey = tool === undefined ? undefined : `t:${tool.length}:${tool}:${id}`;

    // Concurrency: checked and taken before the (possibly remote) rpm check, so two calls that
    // wait for Redis at the same time cannot both take the last slot.
    let heldClient: string | undefined;
    let heldTool: string | undefined;
    if (isCall && concurrent !== undefined) {
      if ((inFlight.get(clientKey) ?? 0) >= concurrent)
        return Promise.resolve(
          refuse(
            ctx,
            429,
            `rate limit exceeded: ${concurrent} concurrent calls for client ${show(id)}; retry in 1 s`,
            1,
          ),
        );
      heldClient = clientKey;
    }
    if (toolKey !== undefined && rule?.concurrent !== undefined) {
      if ((inFlight.get(toolKey) ?? 0) >= rule.concurrent)
        return Promise.resolve(
          refuse(
            ctx,
            429,
            `rate limit exceeded: ${rule.concurrent} concurrent calls of tool ${show(tool!)} for client ${show(id)}; retry in 1 s`,
            1,
          ),
        );
      heldTool = toolKey;
    }
    if (heldClient !== undefined) acquire(heldClient);
    if (heldTool !== undefined) acquire(heldTool);

    const toolRpm = toolKey !== undefined ? rule?.rpm : undefined;
    if (rpm === undefined && toolRpm === undefined) return proceed(next, heldClient, heldTool);
    let keys = [clientKey];
    let limits = clientLimits;
    if (toolRpm !== undefined) {
      keys = rpm === undefined ? [toolKey!] : [toolKey!, clientKey];
      limits = rpm === undefined ? [toolRpm] : [toolRpm, rpm];
    }
    const decide = (refused: Refused | undefined): Promise<Response> => {
      if (refused === undefined) return proceed(next, heldClient, heldTool);
      release(heldClient);
      release(heldTool);
      const seconds = Math.max(1, Math.ceil(refused.waitMs / 1000));
      const what =
        keys[refused.which] === toolKey
          ? `${limits[refused.which]} requests ${per} of tool ${show(tool!)} for client ${show(id)}`
          : `${rpm} requests ${per} for client ${show(id)}`;
      return Promise.resolve(
        refuse(ctx, 429, `rate limit exceeded: ${what}; retry in ${seconds} s`, seconds),
      );
    };
    if (redis === undefined) return decide(memory.take(keys, limits));
    return redis.take(keys, limits).then(decide, (err: unknown) => {
      if (onStoreError !== 'deny') return decide(memory.take(keys, limits));
      release(heldClient);
      release(heldTool);
      const detail = err instanceof WardenError ? err.message : 'rate limit store failed';
      return refuse(
        ctx,
        503,
        'rate limit unavailable: the rate limit store cannot be reached; retry in 1 s',
        1,
        `${detail}; refused (gateway.rateLimit.onStoreError: deny)`,
      );
    });
  }

  return Object.assign(rateLimit, {
    async close(): Promise<void> {
      await redis?.close();
      memory.clear();
      inFlight.clear();
    },
  });
}
