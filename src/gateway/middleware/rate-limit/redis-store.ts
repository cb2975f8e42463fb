import type { Redis as RedisClient } from 'ioredis';
import { WardenError, describe } from '../../../errors.js';
import { SLOTS, type Refused } from './sliding-window.js';

/**
 * The sliding windows of sliding-window.ts kept in Redis, so that several gateway replicas share
 * one budget per client. Each key is a hash: `l` the slot it was last advanced to, `s` the count
 * over the ring, and one field per ring position. One script does the whole check and the count,
 * so a request costs one round trip, two replicas can never both take the last unit of a budget,
 * and the slot comes from Redis's own clock (TIME), so replicas whose clocks differ still agree on
 * the window. A request that touches two budgets (the client's and a tool's) checks both and
 * counts under both, or under neither, in the same script.
 *
 * ioredis is imported on first construction, so a gateway without Redis never loads it.
 */
const SCRIPT = `
-- Writes after TIME need effects replication: the default since Redis 5, a no-op call since 7.
if redis.replicate_commands then redis.replicate_commands() end
local d = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local r = n + 1
local ttl = math.ceil((n + 2) * d)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local slot = math.floor(now / d)
local lasts, sums, moved = {}, {}, {}
local refused, wait = 0, 0
for k = 1, #KEYS do
  local key = KEYS[k]
  local st = redis.call('HMGET', key, 'l', 's')
  local last, sum = tonumber(st[1]), tonumber(st[2]) or 0
  if last == nil or slot - last > n then
    if last ~= nil then redis.call('DEL', key) end
    last, sum, moved[k] = slot, 0, true
  elseif slot > last then
    for q = last + 1, slot do
      local i = q % r
      local c = tonumber(redis.call('HGET', key, i))
      if c then
        sum = sum - c
        redis.call('HDEL', key, i)
      end
    end
    last, moved[k] = slot, true
  end
  lasts[k], sums[k] = last, sum
  local limit = tonumber(ARGV[2 + k])
  if sum >= limit then
    local need, freed = sum - limit + 1, 0
    for j = 0, n do
      freed = freed + (tonumber(redis.call('HGET', key, (last + 1 + j) % r)) or 0)
      if freed >= need then
        local w = math.max(1, math.ceil((last + 1 + j) * d - now))
        if refused == 0 or w > wait then refused, wait = k, w end
        break
      end
    end
  end
end
for k = 1, #KEYS do
  -- Once per slot: the new position and sum, and the expiry (a key outlives its last request by
  -- more than a window, after which nothing in it counts any more).
  if moved[k] then
    redis.call('HSET', KEYS[k], 'l', lasts[k], 's', sums[k])
    redis.call('PEXPIRE', KEYS[k], ttl)
  end
  if refused == 0 then
    redis.call('HINCRBY', KEYS[k], lasts[k] % r, 1)
    redis.call('HINCRBY', KEYS[k], 's', 1)
  end
end
return {refused - 1, wait}
`;

interface WithScript {
  mcpwWindow(...args: (string | number)[]): Promise<[number, number]>;
}

export interface RedisWindowsOptions {
  /** `redis://host:port/db` or `rediss://...`, with no password in it. */
  url: string;
  password?: string;
  /** Key prefix, e.g. `mcpw:rl`. */
  prefix: string;
  windowMs: number;
  /** A command with no answer within this is a store failure. */
  timeoutMs: number;
  /** Called when the store becomes unreachable (once per outage) and when it is back. */
  onDown(detail: string): void;
  onUp(): void;
}

export class RedisWindows {
  readonly #opts: RedisWindowsOptions;
  readonly #slotMs: string;
  #client: (RedisClient & WithScript) | undefined;
  /** Why no client could be made (ioredis failed to load), if so. */
  #failure: string | undefined;
  /** The first connection attempt has ended (ready, failed or timed out). */
  #settled = false;
  readonly #ready: Promise<void>;
  #down = false;
  #closing = false;
  /**
   * Keys Redis refused, until when: nothing can be admitted under them before that (only time
   * frees a budget), so a client that keeps knocking costs no round trip.
   */
  readonly #blocked = new Map<string, number>();
  #sweepAt = 0;

  constructor(opts: RedisWindowsOptions) {
    this.#opts = opts;
    this.#slotMs = String(opts.windowMs / SLOTS);
    this.#ready = this.#open().catch((err: unknown) => {
      this.#failure = `cannot load the Redis client (${describe(err)})`;
      this.#markDown(this.#failure);
    });
  }

  async #open(): Promise<void> {
    const { Redis } = await import('ioredis');
    if (this.#closing) return;
    const client = new Redis(this.#opts.url, {
      ...(this.#opts.password !== undefined && { password: this.#opts.password }),
      connectionName: 'mcp-warden-rate-limit',
      // Fail fast instead of queueing: a call waits for the store at most timeoutMs.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: this.#opts.timeoutMs,
      connectTimeout: Math.max(1000, this.#opts.timeoutMs * 4),
      retryStrategy: (times) => Math.min(100 * times, 2000),
    }) as RedisClient & WithScript;
    client.defineCommand('mcpwWindow', { lua: SCRIPT });
    client.on('error', (err: unknown) => this.#markDown(describe(err)));
    client.on('close', () => {
      if (!this.#closing) this.#markDown('connection closed');
    });
    client.on('ready', () => this.#markUp());
    this.#client = client;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        client.off('ready', done);
        client.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1000, this.#opts.timeoutMs * 4));
      client.once('ready', done);
      client.once('error', done);
    });
    this.#settled = true;
  }

  /**
   * Admits one request under every key or under none (see MemoryWindows.take). Rejects with a
   * RATE_LIMIT_STORE error when Redis cannot answer.
   */
  async take(keys: readonly string[], limits: readonly number[]): Promise<Refused | undefined> {
    const now = Date.now();
    const full = keys.map((k) => `${this.#opts.prefix}:${k}`);
    if (now >= this.#sweepAt) this.#sweep(now);
    for (let i = 0; i < full.length; i++) {
      const until = this.#blocked.get(full[i]!);
      if (until === undefined) continue;
      if (now < until) return { which: i, waitMs: until - now };
      this.#blocked.delete(full[i]!);
    }
    if (!this.#settled) await this.#ready;
    const client = this.#client;
    if (client === undefined) throw this.#error(this.#failure ?? 'closed');
    if (client.status !== 'ready') throw this.#error(`not connected (${client.status})`);
    let answer: [number, number];
    try {
      answer = await client.mcpwWindow(full.length, ...full, this.#slotMs, SLOTS, ...limits);
    } catch (err) {
      this.#markDown(describe(err));
      throw this.#error(describe(err));
    }
    if (this.#down) this.#markUp();
    const [which, waitMs] = answer;
    if (which < 0) return undefined;
    this.#blocked.set(full[which]!, Date.now() + waitMs);
    return { which, waitMs };
  }

  async close(): Promise<void> {
    this.#closing = true;
    await this.#ready;
    this.#client?.disconnect();
    this.#client = undefined;
    this.#blocked.clear();
  }

  #error(detail: string): WardenError {
    return new WardenError('RATE_LIMIT_STORE', `rate limit store ${safeUrl(this.#opts.url)}: ${detail}`);
  }

  #markDown(detail: string): void {
    if (this.#down || this.#closing) return;
    this.#down = true;
    this.#opts.onDown(detail);
  }

  #markUp(): void {
    if (!this.#down || this.#closing) return;
    this.#down = false;
    this.#opts.onUp();
  }

  #sweep(now: number): void {
    this.#sweepAt = now + this.#opts.windowMs;
    for (const [key, until] of this.#blocked) if (until <= now) this.#blocked.delete(key);
  }
}

/** The URL without user information (for messages and logs). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}
