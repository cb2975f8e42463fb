import { dirname } from 'node:path';
import { WardenError } from '../errors.js';
import { UNAUTHENTICATED, errorResponse } from './jsonrpc.js';
import type { AuditLog } from './middleware/audit/index.js';
import type { KeyRing } from './middleware/auth/keys.js';
import type { OAuthStage } from './middleware/auth/oauth.js';
import type { RateLimitStage } from './middleware/rate-limit/index.js';
import {
  composeAdmission,
  type Admission,
  type AdmissionHandler,
  type AdmissionStage,
  type Refusal,
  type SecretSource,
  type Stage,
} from './pipeline.js';
import type { GatewaySettings } from './settings.js';

/**
 * The gateway's security, built from the config's `gateway` section: the admission stages (IP
 * allowlist and trusted proxies, repeated-failure blocking, API keys, OAuth) and the call stages
 * (audit, rate limit, safety policy, leak guard), in the order PRODUCT.md gives. Each section is
 * parsed by its own stage's parser and every stage is built here, once; a mistake anywhere stops
 * the gateway before it listens.
 *
 * Secure defaults with no section at all: destructive tools are denied and results are scanned
 * for secrets (redacted); no authentication, which `gateway --http` accepts on loopback only.
 */
export interface Security {
  /** Undefined when nothing is checked per HTTP request (no allowlist, proxies or auth). */
  admission?: AdmissionHandler;
  stages: Stage[];
  audit?: AuditLog;
  /** Clients must authenticate (keys or OAuth). */
  authenticated: boolean;
  /** Documents served at /.well-known paths without admission. */
  wellKnown?: (path: string) => object | undefined;
  /** One line per part, for the start-up log. */
  summary: string[];
  /** SIGHUP: the audit file is opened again (logrotate), keys are read again. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

export interface SecurityDeps {
  /** The config file (relative paths in the section are taken from its directory). */
  configPath: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** The secret values the gateway holds (replaced on reload). */
  secrets: SecretSource;
  /** Where clients reach the gateway (for OAuth's default resource), when it is known. */
  publicUrl?: string;
  /** The stdio front: no HTTP admission is built. */
  stdio: boolean;
  /** Resolves a `secret://` reference (the Redis password). */
  resolve: (ref: string) => Promise<string>;
}

type Raw = Record<string, unknown>;

const UNAUTHENTICATED_REFUSAL: Refusal = {
  event: 'auth_failure',
  status: 401,
  headers: { 'www-authenticate': 'Bearer realm="mcp-warden"' },
  reason: 'no credentials',
  body: errorResponse(null, UNAUTHENTICATED, 'Unauthorized: credentials required'),
};

function section(gateway: Raw, key: string): unknown {
  const v = gateway[key];
  return v === null ? undefined : v;
}

const AUTH_KEYS = new Set(['keys', 'oauth', 'failures', 'realm']);

type Step = () => Promise<void> | void;

export async function buildSecurity(doc: Raw, deps: SecurityDeps): Promise<Security> {
  const closers: Step[] = [];
  const reopeners: Step[] = [];
  const close = async () => {
    for (const c of [...closers].reverse()) await c();
  };
  try {
    const parts = await assemble(doc, deps, closers, reopeners);
    return {
      ...parts,
      async reopen() {
        for (const r of reopeners) await r();
      },
      close,
    };
  } catch (err) {
    // A later section was refused: what earlier ones opened (the audit file, a Redis connection,
    // the key file's watcher) is closed, so the error is all that is left.
    await close().catch(() => undefined);
    throw err;
  }
}

async function assemble(
  doc: Raw,
  deps: SecurityDeps,
  closers: Step[],
  reopeners: Step[],
): Promise<Omit<Security, 'reopen' | 'close'>> {
  const gateway = (doc.gateway ?? {}) as Raw;
  const log = deps.log;
  const summary: string[] = [];

  // -- call stages, outermost first: audit, rate limit, policy, leak guard --------------------
  const stages: Stage[] = [];
  let auditLog: AuditLog | undefined;
  const auditRaw = section(gateway, 'audit');
  if (auditRaw !== undefined) {
    const { parseAudit, openAudit, audit } = await import('./middleware/audit/index.js');
    const { dataHome } = await import('../paths.js');
    const opts = await parseAudit(auditRaw, dataHome(deps.env));
    auditLog = await openAudit({
      file: opts.file,
      keyFile: opts.keyFile,
      maxArgumentBytes: opts.maxArgumentBytes,
      secrets: deps.secrets,
      log,
    });
    stages.push(audit({ log: auditLog }));
    const written = auditLog;
    closers.push(() => written.close());
    reopeners.push(() => written.reopen());
    summary.push(`audit: ${opts.file}`);
  }

  const rateRaw = section(gateway, 'rateLimit');
  if (rateRaw !== undefined) {
    const { parseRateLimit, rateLimit } = await import('./middleware/rate-limit/index.js');
    const opts = await parseRateLimit(rateRaw);
    if (opts.redis?.password !== undefined)
      opts.redis = { ...opts.redis, password: await deps.resolve(opts.redis.password) };
    const stage: RateLimitStage = rateLimit({ ...opts, log });
    stages.push(stage);
    closers.push(() => stage.close());
    summary.push(
      `rate limit: ${opts.rpm ?? 'no'} requests/min, ${opts.concurrent ?? 'no'} concurrent calls per client` +
        `${opts.tools.length ? `, ${opts.tools.length} tool rules` : ''}${opts.redis ? ', shared through Redis' : ''}`,
    );
  }

  // `safety: false` and `leakGuard: false` take a stage out entirely (for measuring what it costs;
  // not something to run with).
  if (gateway.safety === false)
    summary.push('safety: OFF (gateway.safety: false): destructive tools are allowed');
  else {
    const { parseSafety } = await import('./middleware/policy/config.js');
    const { policy } = await import('./middleware/policy/index.js');
    const opts = await parseSafety(section(gateway, 'safety'));
    stages.push(policy(opts));
    summary.push(
      `safety: destructive tools ${opts.allowDestructive ? 'allowed' : `denied${opts.allowDestructiveFor.length ? ` (except for ${opts.allowDestructiveFor.join(', ')})` : ''}`}` +
        `${opts.deny.length ? `, ${opts.deny.length} tools denied to everyone` : ''}`,
    );
  }

  if (gateway.leakGuard === false) summary.push('leak guard: OFF (gateway.leakGuard: false)');
  else {
    const { parseLeakGuard } = await import('./middleware/leak-guard/config.js');
    const { leakGuard } = await import('./middleware/leak-guard/index.js');
    const opts = await parseLeakGuard(section(gateway, 'leakGuard'));
    if (opts.enabled) {
      const sink = auditLog;
      stages.push(
        leakGuard({
          ...opts,
          secrets: deps.secrets,
          ...(sink && {
            onLeak: (info) =>
              sink.record({
                event: 'secret_leak',
                server: info.server,
                tool: info.tool,
                outcome: 'redacted',
                reason: `${info.detector} in the ${info.direction} at ${info.path}: redacted`,
              }),
          }),
        }),
      );
    }
    summary.push(
      opts.enabled
        ? `leak guard: ${opts.mode}${opts.shapes ? ', token shapes on' : ''}`
        : 'leak guard: off (gateway.leakGuard.enabled: false)',
    );
  }

  // -- admission: IP allowlist (and the address behind trusted proxies), then authentication --
  const authRaw = section(gateway, 'auth');
  if (authRaw !== undefined && (typeof authRaw !== 'object' || Array.isArray(authRaw)))
    throw new WardenError('CONFIG_INVALID', 'gateway.auth: expected a mapping with keys and/or oauth');
  const auth = (authRaw ?? {}) as Raw;
  for (const k of Object.keys(auth))
    if (!AUTH_KEYS.has(k))
      throw new WardenError(
        'CONFIG_INVALID',
        `gateway.auth.${k}: unknown setting (known: ${[...AUTH_KEYS].join(', ')})`,
      );
  const admission: AdmissionStage[] = [];
  const ipRaw = {
    allowIps: section(gateway, 'allowIps'),
    trustedProxies: section(gateway, 'trustedProxies'),
  };
  let wellKnown: Security['wellKnown'];
  let authenticated = false;
  if (!deps.stdio) {
    const { parseIpAllow, ipAllow } = await import('./middleware/ip-allow/index.js');
    const ip = await parseIpAllow(ipRaw);
    if ((ip.allowIps?.length ?? 0) + (ip.trustedProxies?.length ?? 0) > 0) {
      admission.push(ipAllow(ip));
      summary.push(
        `addresses: ${ip.allowIps?.length ? ip.allowIps.join(', ') : 'any'}` +
          `${ip.trustedProxies?.length ? `; X-Forwarded-For believed from ${ip.trustedProxies.join(', ')}` : ''}`,
      );
    }
    const keysRaw = section(auth, 'keys');
    const oauthRaw = section(auth, 'oauth');
    if (keysRaw !== undefined || oauthRaw !== undefined) {
      authenticated = true;
      const { parseAuthFailures } = await import('./middleware/auth/config.js');
      const { authFailureGuard } = await import('./middleware/auth/failures.js');
      const failures = parseAuthFailures(section(auth, 'failures'));
      admission.push(authFailureGuard(failures));
      summary.push(
        `auth failures: an address is blocked for ${failures.blockSeconds}s after ${failures.maxFailures} in ${failures.windowSeconds}s`,
      );
    }
    if (keysRaw !== undefined) {
      const { parseAuthKeys } = await import('./middleware/auth/config.js');
      const { KeyRing } = await import('./middleware/auth/keys.js');
      const { apiKeyAuth } = await import('./middleware/auth/api-key.js');
      const opts = parseAuthKeys(keysRaw, { env: deps.env, baseDir: dirname(deps.configPath) });
      const ring: KeyRing = await KeyRing.open({ file: opts.file, warn: (l) => log(l) });
      closers.push(() => ring.close());
      reopeners.push(() => ring.reload());
      const realm = section(auth, 'realm');
      admission.push(
        apiKeyAuth({
          ring,
          ...(typeof realm === 'string' && { realm }),
          passThroughNonKeys: oauthRaw !== undefined,
        }),
      );
      summary.push(`auth: API keys from ${opts.file} (${ring.size} loaded; changes apply without a restart)`);
    }
    if (oauthRaw !== undefined) {
      const { parseOAuth } = await import('./middleware/auth/oauth-config.js');
      const { oauthAuth } = await import('./middleware/auth/oauth.js');
      const opts = parseOAuth(oauthRaw, deps.publicUrl ? { resource: deps.publicUrl } : {});
      const stage: OAuthStage = oauthAuth({ ...opts, log });
      admission.push(stage);
      const paths = new Set(stage.metadataPaths);
      wellKnown = (path) => (paths.has(path) ? stage.metadata() : undefined);
      await stage
        .ready()
        .catch((err: unknown) =>
          log(
            `oauth: ${err instanceof Error ? err.message : String(err)}; requests are answered 503 until the issuer answers`,
          ),
        );
      summary.push(`auth: OAuth access tokens from ${opts.issuer} for ${opts.resource}`);
    }
  } else if (section(auth, 'keys') !== undefined || section(auth, 'oauth') !== undefined) {
    summary.push('auth: not used on stdio (the client is the local user that started the gateway)');
  }

  // The last step: with authentication on, no request gets through without a client (a stage
  // that passed a request on unauthenticated must have had one after it that decided).
  const last = authenticated
    ? (ctx: Admission) => (ctx.client ? undefined : UNAUTHENTICATED_REFUSAL)
    : () => undefined;
  return {
    ...(admission.length > 0 && {
      admission: composeAdmission(admission, last),
    }),
    stages,
    ...(auditLog && { audit: auditLog }),
    authenticated,
    ...(wellKnown && { wellKnown }),
    summary,
  };
}

/** The URL clients reach an HTTP gateway at, when the bind address says it (not a wildcard). */
export function publicUrlOf(settings: GatewaySettings): string | undefined {
  const h = settings.host;
  if (h === '0.0.0.0' || h === '::' || h === '') return undefined;
  const host = h.includes(':') ? `[${h}]` : h;
  return `${settings.tls ? 'https' : 'http'}://${host}:${settings.port}/mcp`;
}
