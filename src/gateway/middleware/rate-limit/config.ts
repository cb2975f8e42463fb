import type { z as Z } from 'zod';
import { WardenError, describe } from '../../../errors.js';
import { isRef, parseRef } from '../../../refs.js';

/**
 * `gateway.rateLimit`:
 *
 * ```yaml
 * rateLimit:
 *   rpm: 60                  # requests per minute per client (every JSON-RPC request)
 *   concurrent: 3            # tools/call in flight per client, per gateway process
 *   tools:                   # globs over exposed tool names; the first that matches applies
 *     "github__*": { rpm: 10, concurrent: 1 }
 *   redis:                   # share the rpm budgets between replicas
 *     url: redis://redis:6379/0
 *     password: secret://REDIS_PASSWORD   # else $REDIS_PASSWORD; never in the URL
 *     prefix: mcpw:rl
 *     timeoutMs: 500
 *   onStoreError: deny       # Redis unreachable: deny, or allow (limit per process meanwhile)
 * ```
 *
 * A tool's limits apply to each tool the glob matches, for each client, on top of the client's
 * own: a call counts against both, so a tool limit can only be stricter (a looser one is refused
 * here rather than silently meaning nothing).
 */
export interface ToolLimit {
  glob: string;
  rpm?: number;
  concurrent?: number;
}

export interface RedisStoreOptions {
  /** `redis://host:port/db` or `rediss://...`; a user name may be in it, a password never. */
  url: string;
  /**
   * As parsed: a `secret://` reference the caller resolves; when the stage is built: the value.
   * Without it the stage takes `$REDIS_PASSWORD`, if set.
   */
  password?: string;
  /** Key prefix (default `mcpw:rl`). */
  prefix: string;
  /** A Redis command with no answer within this many ms counts as a store failure (default 500). */
  timeoutMs: number;
}

export interface RateLimitOptions {
  rpm?: number;
  concurrent?: number;
  /** In config order; the first glob that matches a tool's exposed name applies. */
  tools: ToolLimit[];
  redis?: RedisStoreOptions;
  /** What a request gets when Redis cannot answer (default `deny`). */
  onStoreError: 'deny' | 'allow';
}

export const DEFAULT_PREFIX = 'mcpw:rl';
export const DEFAULT_TIMEOUT_MS = 500;

const MAX_RPM = 1_000_000;
const MAX_CONCURRENT = 100_000;

function build(z: typeof Z) {
  const count = (max: number) =>
    z
      .number({ error: 'expected a number' })
      .int('expected a whole number')
      .min(1, 'expected at least 1')
      .max(max, `expected at most ${max}`);
  const tool = z
    .object({ rpm: count(MAX_RPM).optional(), concurrent: count(MAX_CONCURRENT).optional() })
    .strict()
    .refine((t) => t.rpm !== undefined || t.concurrent !== undefined, 'give rpm, concurrent or both');
  const redis = z
    .object({
      url: z.string({ error: 'expected a redis:// URL' }),
      password: z.string({ error: 'expected a secret:// reference' }).optional(),
      prefix: z
        .string({ error: 'expected a string' })
        .regex(/^[\x21-\x7e]{1,100}$/, 'expected 1 to 100 printable characters, no spaces')
        .optional(),
      timeoutMs: z
        .number({ error: 'expected a number' })
        .int('expected a whole number')
        .min(10, 'expected at least 10')
        .max(60_000, 'expected at most 60000')
        .optional(),
    })
    .strict();
  return z
    .object({
      rpm: count(MAX_RPM).optional(),
      concurrent: count(MAX_CONCURRENT).optional(),
      // An empty glob is refused by checkRateLimit (zod's message for a bad record key is vague).
      tools: z.record(z.string(), tool).optional(),
      redis: redis.optional(),
      onStoreError: z.enum(['deny', 'allow'], { error: 'expected deny or allow' }).optional(),
    })
    .strict();
}

let schema: ReturnType<typeof build> | undefined;

/** `gateway.rateLimit.tools.github__*.rpm`, from zod's issue path. */
function where(path: readonly PropertyKey[]): string {
  return ['gateway.rateLimit', ...path.map(String)].join('.');
}

/**
 * Parses `gateway.rateLimit` (zod is loaded on first use, as the other config sections do).
 * Throws CONFIG_INVALID naming the offending path. The result's `redis.password`, if any, is a
 * `secret://` reference: resolve it before handing the options to `rateLimit()`.
 */
export async function parseRateLimit(raw: unknown): Promise<RateLimitOptions> {
  if (raw === undefined || raw === null) return { tools: [], onStoreError: 'deny' };
  schema ??= build((await import('zod')).z);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message;
    throw new WardenError('CONFIG_INVALID', `${where(issue.path)}: ${message}`);
  }
  const c = parsed.data;
  const opts: RateLimitOptions = {
    ...(c.rpm !== undefined && { rpm: c.rpm }),
    ...(c.concurrent !== undefined && { concurrent: c.concurrent }),
    tools: Object.entries(c.tools ?? {}).map(([glob, t]) => ({ glob, ...t })),
    onStoreError: c.onStoreError ?? 'deny',
  };
  if (c.redis) {
    if (c.redis.password !== undefined) {
      if (!isRef(c.redis.password))
        throw new WardenError(
          'CONFIG_INVALID',
          'gateway.rateLimit.redis.password: give a secret:// reference (or set REDIS_PASSWORD), never the password itself',
        );
      try {
        parseRef(c.redis.password);
      } catch (err) {
        throw new WardenError('CONFIG_INVALID', `gateway.rateLimit.redis.password: ${describe(err)}`);
      }
    }
    opts.redis = {
      url: c.redis.url,
      ...(c.redis.password !== undefined && { password: c.redis.password }),
      prefix: c.redis.prefix ?? DEFAULT_PREFIX,
      timeoutMs: c.redis.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    };
  }
  checkRateLimit(opts);
  return opts;
}

/**
 * The checks that do not need zod, run by `parseRateLimit` and again by `rateLimit()` (which may be
 * handed options that never went through the parser). Throws CONFIG_INVALID.
 */
export function checkRateLimit(opts: RateLimitOptions): void {
  const fail = (path: string, what: string): never => {
    throw new WardenError('CONFIG_INVALID', `gateway.rateLimit${path}: ${what}`);
  };
  const count = (path: string, v: number | undefined, max: number): void => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 1 && v <= max))
      fail(path, `expected a whole number from 1 to ${max}`);
  };
  count('.rpm', opts.rpm, MAX_RPM);
  count('.concurrent', opts.concurrent, MAX_CONCURRENT);
  if (opts.onStoreError !== 'deny' && opts.onStoreError !== 'allow')
    fail('.onStoreError', 'expected deny or allow');
  const seen = new Set<string>();
  for (const t of opts.tools) {
    const at = `.tools.${t.glob}`;
    if (typeof t.glob !== 'string' || t.glob.length === 0) fail('.tools', 'a glob may not be empty');
    if (seen.has(t.glob)) fail(at, 'listed twice');
    seen.add(t.glob);
    count(`${at}.rpm`, t.rpm, MAX_RPM);
    count(`${at}.concurrent`, t.concurrent, MAX_CONCURRENT);
    if (t.rpm === undefined && t.concurrent === undefined) fail(at, 'give rpm, concurrent or both');
    if (t.rpm !== undefined && opts.rpm !== undefined && t.rpm > opts.rpm)
      fail(
        `${at}.rpm`,
        `${t.rpm} is above the client's ${opts.rpm} (gateway.rateLimit.rpm); a tool limit can only be stricter`,
      );
    if (t.concurrent !== undefined && opts.concurrent !== undefined && t.concurrent > opts.concurrent)
      fail(
        `${at}.concurrent`,
        `${t.concurrent} is above the client's ${opts.concurrent} (gateway.rateLimit.concurrent); a tool limit can only be stricter`,
      );
  }
  if (opts.redis) checkRedis(opts.redis, fail);
}

function checkRedis(r: RedisStoreOptions, fail: (path: string, what: string) => never): void {
  let url: URL;
  try {
    url = new URL(r.url);
  } catch {
    // Not echoed: a malformed URL may still hold a password.
    return fail('.redis.url', 'not a URL; expected redis://host:port/db');
  }
  if (url.password !== '')
    fail(
      '.redis.url',
      'holds a password; remove it and give redis.password: secret://NAME (or set REDIS_PASSWORD)',
    );
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    fail('.redis.url', `expected redis:// or rediss://, not ${url.protocol}//`);
  if (url.hostname === '') fail('.redis.url', 'no host; expected redis://host:port/db');
  if (url.search !== '' || url.hash !== '')
    fail('.redis.url', 'no query or fragment please; expected redis://host:port/db');
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/[0-9]{1,5}$/.test(url.pathname))
    fail('.redis.url', 'the path is the database: expected redis://host:port/NUMBER');
  if (typeof r.prefix !== 'string' || !/^[\x21-\x7e]{1,100}$/.test(r.prefix))
    fail('.redis.prefix', 'expected 1 to 100 printable characters, no spaces');
  if (!(Number.isInteger(r.timeoutMs) && r.timeoutMs >= 10 && r.timeoutMs <= 60_000))
    fail('.redis.timeoutMs', 'expected a whole number of ms from 10 to 60000');
}
