import { hash as digest } from 'node:crypto';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { WardenError, isWardenError } from '../../../errors.js';
import { FORBIDDEN, SERVER_UNAVAILABLE, UNAUTHENTICATED, errorResponse } from '../../jsonrpc.js';
import type { Admission, AdmissionStage, Client, Refusal } from '../../pipeline.js';
import {
  grantOf,
  metadataUrl,
  protectedResourceMetadata,
  type OAuthOptions,
  type ProtectedResourceMetadata,
} from './oauth-config.js';
import { causeOf, discover } from './oauth-discovery.js';

/**
 * OAuth 2.1 resource-server authentication (MCP authorization 2025-06-18 and later): a JWT access
 * token from the configured issuer, checked against the issuer's JWKS for signature, issuer,
 * audience (this gateway, RFC 8707), expiry and scopes. The client's token stays here: the
 * client the stage admits carries only its hash, and the Authorization header is cleared so no
 * later code can forward it to an upstream.
 *
 * Per call, a token seen before costs one SHA-256 and a map lookup: verified tokens are cached by
 * their hash until they expire, for at most a minute, up to `cacheSize` tokens, least recently
 * used out first. The JWKS is fetched again when older than `jwksMaxAgeMs` (10 minutes) or when a
 * token names a kid it lacks (at most once per `jwksCooldownMs`, 30 s), so a key the issuer
 * withdraws stops working within 11 minutes.
 */
export interface OAuthStageOptions extends OAuthOptions {
  /** One line per event worth an operator's attention (issuer unreachable, back); never a token. */
  log: (line: string) => void;
  /** Milliseconds since the epoch; for tests. */
  now?: () => number;
  /** Unknown key id: the JWKS is fetched again at most this often (jose's cooldown). */
  jwksCooldownMs?: number;
  /** The JWKS is fetched again when it is older than this. */
  jwksMaxAgeMs?: number;
  /** After the issuer failed to answer, no new attempt before this long. */
  retryMs?: number;
  /** One request to the issuer. */
  timeoutMs?: number;
  cacheSize?: number;
}

export interface OAuthStage extends AdmissionStage {
  /** The RFC 9728 document the front serves, unauthenticated, at `metadataPaths`. */
  metadata(): ProtectedResourceMetadata;
  /** Where the 401 challenge sends clients: `<origin>/.well-known/oauth-protected-resource<path>`. */
  readonly metadataUrl: string;
  /** Paths the front serves `metadata()` at: the RFC 9728 one for the resource, and the bare one. */
  readonly metadataPaths: readonly string[];
  /**
   * Discovers the JWKS and loads it once; rejects with CONFIG_INVALID (the issuer's metadata is
   * wrong or missing) or PROVIDER_UNAVAILABLE (the issuer cannot be reached). The stage works
   * without it (it answers 503 until the issuer answers); call it at start-up to report early.
   */
  ready(): Promise<void>;
}

/** Asymmetric only: an HMAC token would be checked with a key anyone could read (the JWKS). */
const ALGORITHMS = 'RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA Ed25519'.split(' ');
const CACHE_MS = 60_000;
/** Longer than any access token an issuer mints (they run to a few KiB): not hashed, not parsed. */
const MAX_TOKEN = 16 * 1024;

interface Verified {
  /** Epoch ms after which the entry is no longer used. */
  until: number;
  client?: Client;
  /** A valid token that lacks a scope: the 403 it gets, every time. */
  refusal?: Refusal;
}

/** The issuer (or its JWKS) did not answer: a 503, never "invalid token". */
class IssuerUnavailable extends Error {
  constructor() {
    super('the authorization server did not answer; the gateway tries again shortly');
  }
}

export function oauthAuth(opts: OAuthStageOptions): OAuthStage {
  const clock = opts.now ?? Date.now;
  const retryMs = opts.retryMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const cacheSize = opts.cacheSize ?? 10_000;
  const tolerance = opts.clockToleranceSeconds;
  const { scopes, requiredScopes, issuer, log } = opts;
  const audience = [...opts.audience];
  const prmUrl = metadataUrl(opts.resource);
  const prmPath = new URL(prmUrl).pathname;
  const document = protectedResourceMetadata(opts);

  // Challenges are fixed per reason: built once, never from request data.
  const rm = `resource_metadata="${prmUrl}"`;
  const required = requiredScopes.join(' ');
  const askScope = required ? `, scope="${required}"` : '';
  const grantable = [...(scopes?.keys() ?? [])].join(' ');

  const refuse = (
    status: number,
    reason: string,
    code: number,
    message: string,
    headers: Record<string, string>,
  ): Refusal => ({
    event: 'auth_failure',
    status,
    headers,
    reason,
    body: errorResponse(null, code, message),
  });
  const challenge = () =>
    refuse(
      401,
      'oauth: no bearer token',
      UNAUTHENTICATED,
      'Unauthorized: a bearer access token is required',
      {
        'www-authenticate': `Bearer ${rm}${askScope}`,
      },
    );
  // `what` goes into a quoted header parameter: fixed text without `"` or `\`.
  const invalid = (what: string, status = 401, error = 'invalid_token') =>
    refuse(status, `oauth: ${what}`, UNAUTHENTICATED, `Unauthorized: ${what}`, {
      'www-authenticate': `Bearer error="${error}", error_description="${what}", ${rm}${askScope}`,
    });
  const insufficient = (needed: string, what: string) =>
    refuse(403, `oauth: ${what}`, FORBIDDEN, `Forbidden: ${what}`, {
      'www-authenticate': `Bearer error="insufficient_scope", scope="${needed}", error_description="${what}", ${rm}`,
    });
  const unavailable = () =>
    refuse(
      503,
      'oauth: authorization server unreachable',
      SERVER_UNAVAILABLE,
      'Service unavailable: the authorization server cannot be reached to check the token; retry later',
      { 'retry-after': String(Math.ceil(retryMs / 1000)) },
    );

  // --- keys: discovered once, fetched by jose (cache, cooldown), last good set kept for outages
  let remote: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  let failedUntil = 0;
  let down = false;
  let stale: ReturnType<typeof createLocalJWKSet> | undefined;

  const failed = (err: unknown): void => {
    failedUntil = Date.now() + retryMs;
    if (!down)
      log(
        `oauth: cannot check tokens with ${issuer} (${causeOf(err)}); ${stale ? 'using the keys it last published' : 'answering 503'} until it answers`,
      );
    down = true;
  };
  const answered = (): void => {
    if (down) log(`oauth: authorization server ${issuer} answers again`);
    down = false;
  };

  const keySet = (): Promise<ReturnType<typeof createRemoteJWKSet>> => {
    if (remote) return Promise.resolve(remote);
    if (Date.now() < failedUntil) return Promise.reject(new IssuerUnavailable());
    discovering ??= (
      opts.jwksUri !== undefined ? Promise.resolve(opts.jwksUri) : discover(issuer, timeoutMs)
    ).then(
      (uri) =>
        (remote = createRemoteJWKSet(new URL(uri), {
          timeoutDuration: timeoutMs,
          cooldownDuration: opts.jwksCooldownMs ?? 30_000,
          cacheMaxAge: opts.jwksMaxAgeMs ?? 600_000,
        })),
      (err: unknown) => {
        discovering = undefined;
        failed(err);
        throw err;
      },
    );
    return discovering;
  };

  const fromStale: JWTVerifyGetKey = async (header, token) => {
    if (!stale) throw new IssuerUnavailable();
    try {
      return await stale(header, token);
    } catch (err) {
      // A key we do not have may be one the issuer published while we could not ask.
      if (err instanceof errors.JWKSNoMatchingKey) throw new IssuerUnavailable();
      throw err;
    }
  };

  const getKey: JWTVerifyGetKey = async (header, token) => {
    let set;
    try {
      set = await keySet();
    } catch {
      throw new IssuerUnavailable();
    }
    if (Date.now() < failedUntil) return fromStale(header, token);
    try {
      const key = await set(header, token);
      answered();
      return key;
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
        throw err;
      const last = set.jwks();
      if (last) stale = createLocalJWKSet(last);
      failed(err);
      return fromStale(header, token);
    }
  };

  // --- verification, cached by the token's hash
  const cache = new Map<string, Verified>();
  const inFlight = new Map<string, Promise<Verified | Refusal>>();

  const verify = async (token: string, keyHash: string, now: number): Promise<Verified | Refusal> => {
    let payload: JWTPayload;
    let typ: string | undefined;
    try {
      const r = await jwtVerify(token, getKey, {
        issuer,
        audience,
        algorithms: ALGORITHMS,
        clockTolerance: tolerance,
        requiredClaims: ['exp'],
        currentDate: new Date(now),
      });
      payload = r.payload;
      typ = r.protectedHeader.typ;
    } catch (err) {
      if (err instanceof IssuerUnavailable) return unavailable();
      return invalid(whatIsWrong(err));
    }
    if (typ === undefined || !ACCESS_TOKEN_TYPES.has(typ.toLowerCase()))
      return invalid('the token is not an access token (typ)');
    const subject = [payload.sub, payload.client_id, payload.azp].find(
      (s): s is string => typeof s === 'string' && s.length > 0 && s.length <= 255,
    );
    if (subject === undefined) return invalid('the access token names no subject');
    const until = Math.min((payload.exp! + tolerance) * 1000, now + CACHE_MS);
    const held = scopesOf(payload);
    if (required && !requiredScopes.every((s) => held.includes(s)))
      return { until, refusal: insufficient(required, 'the access token lacks a required scope') };
    const client: Client = { id: `oauth:${subject}`, via: 'oauth', keyHash: keyHash.slice(0, 16) };
    if (scopes) {
      const grant = grantOf(scopes, held);
      if (!grant)
        return {
          until,
          refusal: insufficient(grantable, 'the access token holds no scope this gateway grants'),
        };
      if (grant.servers) client.servers = grant.servers;
      if (grant.tools) client.tools = grant.tools;
      if (grant.allowDestructive) client.allowDestructive = true;
    }
    return { until, client };
  };

  const remember = (hash: string, v: Verified): void => {
    if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
    cache.set(hash, v);
  };

  const admit = (ctx: Admission, v: Verified, next: () => Promise<Refusal | undefined>) => {
    if (v.refusal) return Promise.resolve({ ...v.refusal });
    // Shared by every request of this token: the stages after this one read it, never change it.
    ctx.client = v.client;
    ctx.headers.authorization = undefined;
    return next();
  };

  const stage = async function oauth(ctx: Admission, next: () => Promise<Refusal | undefined>) {
    if (ctx.client) return next();
    const header = ctx.headers.authorization;
    if (header === undefined || header === '') return challenge();
    if (typeof header !== 'string')
      return invalid('more than one Authorization header', 400, 'invalid_request');
    // RFC 6750: another scheme is no bearer token at all.
    if (!header.startsWith('Bearer ') && header.slice(0, 7).toLowerCase() !== 'bearer ') return challenge();
    const token = header.slice(7).trim();
    if (token === '') return invalid('empty bearer token', 400, 'invalid_request');
    if (token.length > MAX_TOKEN) return invalid('the access token is malformed');
    const hash = digest('sha256', token, 'hex');
    const now = clock();
    const hit = cache.get(hash);
    if (hit !== undefined) {
      cache.delete(hash);
      if (now < hit.until) {
        cache.set(hash, hit);
        return admit(ctx, hit, next);
      }
    }
    // Parallel requests with a token not yet seen share one verification.
    let pending = inFlight.get(hash);
    if (pending === undefined) {
      pending = verify(token, hash, now)
        .then((v) => {
          if (!('event' in v)) remember(hash, v);
          return v;
        })
        .finally(() => inFlight.delete(hash));
      inFlight.set(hash, pending);
    }
    const v = await pending;
    return 'event' in v ? { ...v } : admit(ctx, v, next);
  } as OAuthStage;

  return Object.assign(stage, {
    metadata: () => structuredClone(document),
    metadataUrl: prmUrl,
    metadataPaths: [...new Set([prmPath, '/.well-known/oauth-protected-resource'])],
    ready: async () => {
      let set;
      try {
        set = await keySet();
      } catch (err) {
        if (isWardenError(err)) throw err;
        throw new WardenError('PROVIDER_UNAVAILABLE', `authorization server ${issuer}: ${causeOf(err)}`);
      }
      try {
        await set.reload();
        answered();
      } catch (err) {
        failed(err);
        throw new WardenError(
          'PROVIDER_UNAVAILABLE',
          `cannot load the signing keys of ${issuer} (${causeOf(err)}); the gateway answers 503 to OAuth clients until it can`,
          { cause: err },
        );
      }
    },
  });
}

const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt', 'jwt']);

/** `scope` (space-separated, RFC 9068) or `scp` (an array, or a string as some issuers send). */
function scopesOf(p: JWTPayload): string[] {
  const raw = typeof p.scope === 'string' ? p.scope : p.scp;
  if (typeof raw === 'string') return raw.split(' ').filter(Boolean);
  if (Array.isArray(raw)) return raw.filter((s): s is string => typeof s === 'string');
  return [];
}

/** What is wrong with a token, in words that carry none of its content (claims go unquoted). */
function whatIsWrong(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the access token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'aud':
        return 'the access token was not issued for this resource';
      case 'iss':
        return 'the access token was issued by another authorization server';
      case 'nbf':
        return 'the access token is not valid yet';
      case 'iat':
        return 'the access token was issued in the future';
      default:
        return `the access token's ${err.claim} claim is missing or invalid`;
    }
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return 'the access token signature does not verify';
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return 'the access token is signed with an algorithm this gateway does not accept';
  if (err instanceof errors.JWKSNoMatchingKey)
    return 'the access token is signed with a key the issuer does not publish';
  if (err instanceof errors.JWKSMultipleMatchingKeys)
    return 'the access token names no key id and the issuer has several keys';
  return 'the access token is malformed';
}
