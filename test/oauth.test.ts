import { createHash } from 'node:crypto';
import { SignJWT, base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { isWardenError } from '../src/errors.js';
import { FORBIDDEN, SERVER_UNAVAILABLE, UNAUTHENTICATED, type Response } from '../src/gateway/jsonrpc.js';
import { oauthAuth, type OAuthStage, type OAuthStageOptions } from '../src/gateway/middleware/auth/oauth.js';
import { parseOAuth } from '../src/gateway/middleware/auth/oauth-config.js';
import type { Admission, Client, Refusal } from '../src/gateway/pipeline.js';
import { localIssuer, type LocalIssuer } from './helpers/oauth-issuer.js';

const RESOURCE = 'http://127.0.0.1:8811/mcp';
const PRM_URL = 'http://127.0.0.1:8811/.well-known/oauth-protected-resource/mcp';

interface Built {
  stage: OAuthStage;
  logs: string[];
}

function build(
  iss: LocalIssuer,
  raw: Record<string, unknown> = {},
  knobs: Partial<OAuthStageOptions> = {},
): Built {
  const logs: string[] = [];
  const stage = oauthAuth({
    ...parseOAuth({ issuer: iss.issuer, resource: RESOURCE, ...raw }),
    log: (l) => logs.push(l),
    ...knobs,
  });
  return { stage, logs };
}

function admission(authorization?: string | string[]): Admission {
  return {
    method: 'POST',
    path: '/mcp',
    headers: authorization === undefined ? {} : { authorization },
    peerIp: '127.0.0.1',
    clientIp: '127.0.0.1',
  };
}

interface Outcome {
  refusal: Refusal | undefined;
  admitted: boolean;
  ctx: Admission;
}

async function call(stage: OAuthStage, auth?: string | string[], ctx = admission(auth)): Promise<Outcome> {
  let admitted = false;
  const refusal = await stage(ctx, () => {
    admitted = true;
    return Promise.resolve(undefined);
  });
  return { refusal, admitted, ctx };
}

const bearer = (t: string) => `Bearer ${t}`;
const hash16 = (t: string) => createHash('sha256').update(t).digest('hex').slice(0, 16);
const challengeOf = (r: Refusal | undefined) => r?.headers?.['www-authenticate'] ?? '';
const rpcError = (r: Refusal | undefined) => (r?.body as Response).error!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 401 invalid_token that says nothing of the token. */
function expectInvalid(o: Outcome, token: string, description: RegExp): void {
  expect(o.admitted).toBe(false);
  expect(o.refusal?.status).toBe(401);
  expect(o.refusal?.event).toBe('auth_failure');
  const h = challengeOf(o.refusal);
  expect(h).toMatch(/^Bearer error="invalid_token", error_description="[^"\\]+", /);
  expect(h).toContain(`resource_metadata="${PRM_URL}"`);
  expect(h).toMatch(description);
  expect(rpcError(o.refusal).code).toBe(UNAUTHENTICATED);
  expect(JSON.stringify(o.refusal)).not.toContain(token);
  expect(o.ctx.client).toBeUndefined();
}

describe('OAuth resource server, against a local authorization-server stand-in (no real authorization server runs here)', () => {
  describe('valid tokens', () => {
    it('[auth:oauth:valid] a token from the issuer, for this resource, is admitted as an oauth client', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const token = await iss.mint({ scope: 'anything' });
      const o = await call(stage, bearer(token));
      expect(o.refusal).toBeUndefined();
      expect(o.admitted).toBe(true);
      expect(o.ctx.client).toEqual<Client>({ id: 'oauth:user-1', via: 'oauth', keyHash: hash16(token) });
    });

    it('[auth:oauth:subject] the client id is the subject, else client_id or azp; a token naming none is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const byClient = await call(stage, bearer(await iss.mint({ sub: undefined, client_id: 'svc-7' })));
      expect(byClient.ctx.client?.id).toBe('oauth:svc-7');
      const byAzp = await call(stage, bearer(await iss.mint({ sub: undefined, azp: 'app-3' })));
      expect(byAzp.ctx.client?.id).toBe('oauth:app-3');
      const none = await iss.mint({ sub: undefined });
      expectInvalid(await call(stage, bearer(none), admission(bearer(none))), none, /names no subject/);
    });

    it('[auth:oauth:typ] typ at+jwt and JWT are accepted; another typ, or none, is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      for (const typ of ['at+jwt', 'application/at+jwt', 'JWT']) {
        const o = await call(stage, bearer(await iss.mint({}, { header: { typ } })));
        expect(o.admitted, typ).toBe(true);
      }
      for (const typ of ['dpop+jwt', undefined]) {
        const t = await iss.mint({}, { header: { typ } });
        expectInvalid(await call(stage, bearer(t)), t, /not an access token/);
      }
    });

    it('[auth:oauth:no-scope-map] without a scope map, a valid token reaches every server and tool', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const o = await call(stage, bearer(await iss.mint({ scope: 'whatever' })));
      expect(o.ctx.client?.servers).toBeUndefined();
      expect(o.ctx.client?.tools).toBeUndefined();
      expect(o.ctx.client?.allowDestructive).toBeUndefined();
    });

    it('[auth:oauth:scope-map] the client gets the union of what its scopes map to; an unmapped scope grants nothing', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss, {
        scopes: {
          'mcp:github': { servers: ['github'] },
          'mcp:slack': { servers: ['slack'] },
          'mcp:admin': { allowDestructive: true },
        },
      });
      const two = await call(stage, bearer(await iss.mint({ scope: 'mcp:github mcp:slack mcp:unknown' })));
      expect(two.ctx.client).toMatchObject({ servers: ['github', 'slack'] });
      expect(two.ctx.client?.tools).toBeUndefined();
      expect(two.ctx.client?.allowDestructive).toBeUndefined();
      const one = await call(stage, bearer(await iss.mint({ scp: ['mcp:github'] })));
      expect(one.ctx.client?.servers).toEqual(['github']);
      const admin = await call(stage, bearer(await iss.mint({ scp: 'mcp:admin mcp:github' })));
      expect(admin.ctx.client?.servers).toBeUndefined();
      expect(admin.ctx.client?.allowDestructive).toBe(true);

      const tools = build(iss, {
        scopes: {
          'files:read': { tools: ['files__read_*'] },
          'files:write': { tools: ['files__*'], allowDestructive: true },
        },
      }).stage;
      const read = await call(tools, bearer(await iss.mint({ scope: 'files:read' })));
      expect(read.ctx.client?.tools).toEqual(['files__read_*']);
      expect(read.ctx.client?.servers).toBeUndefined();
      const both = await call(tools, bearer(await iss.mint({ scope: 'files:read files:write' })));
      expect(both.ctx.client?.tools).toEqual(['files__read_*', 'files__*']);
      expect(both.ctx.client?.allowDestructive).toBe(true);
    });

    it('[auth:oauth:no-passthrough] the admitted client carries no token and the Authorization header is cleared', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const token = await iss.mint();
      const o = await call(stage, bearer(token));
      expect(o.admitted).toBe(true);
      expect(o.ctx.headers.authorization).toBeUndefined();
      expect(JSON.stringify(o.ctx)).not.toContain(token);
      expect(JSON.stringify(o.ctx)).not.toContain(token.split('.')[2]);
    });

    it('[auth:oauth:api-key-first] a request an earlier stage already admitted passes without a look at the issuer', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const ctx = admission('Bearer mcpw_some_api_key');
      const client: Client = { id: 'ci', via: 'api-key', keyHash: '0123456789abcdef' };
      ctx.client = client;
      const o = await call(stage, undefined, ctx);
      expect(o.admitted).toBe(true);
      expect(o.refusal).toBeUndefined();
      expect(o.ctx.client).toBe(client);
      expect(iss.hits.size).toBe(0);
    });
  });

  describe('refused tokens', () => {
    it('[auth:oauth:challenge] a request without a bearer token gets 401 with the resource_metadata challenge', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      for (const auth of [undefined, '', 'Basic dXNlcjpwYXNz']) {
        const o = await call(stage, auth);
        expect(o.admitted).toBe(false);
        expect(o.refusal).toMatchObject({ status: 401, event: 'auth_failure' });
        expect(challengeOf(o.refusal)).toBe(`Bearer resource_metadata="${PRM_URL}"`);
        expect(rpcError(o.refusal).code).toBe(UNAUTHENTICATED);
        expect((o.refusal?.body as Response).id).toBeNull();
      }
      const scoped = build(iss, { requiredScopes: ['mcp', 'mcp:tools'] }).stage;
      expect(challengeOf((await call(scoped)).refusal)).toBe(
        `Bearer resource_metadata="${PRM_URL}", scope="mcp mcp:tools"`,
      );
    });

    it('[auth:oauth:bad-request:400] two Authorization headers, or an empty bearer token, is a 400 invalid_request', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const t = await iss.mint();
      for (const auth of [[bearer(t), bearer(t)], 'Bearer    ']) {
        const o = await call(stage, auth);
        expect(o.refusal?.status).toBe(400);
        expect(challengeOf(o.refusal)).toMatch(/^Bearer error="invalid_request"/);
        expect(JSON.stringify(o.refusal)).not.toContain(t);
      }
    });

    it('[auth:oauth:audience:401] a token for another resource is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const t = await iss.mint({ aud: 'https://other.example.com/mcp' });
      expectInvalid(await call(stage, bearer(t)), t, /not issued for this resource/);
      const none = await iss.mint({ aud: undefined });
      expectInvalid(await call(stage, bearer(none)), none, /not issued for this resource|aud claim/);
      const among = await call(stage, bearer(await iss.mint({ aud: ['https://x.example', `${RESOURCE}/`] })));
      expect(among.admitted).toBe(true);
    });

    it('[auth:oauth:issuer:401] a token whose iss is another server, signed with the right key, is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const t = await iss.mint({ iss: 'https://evil.example.com' });
      expectInvalid(await call(stage, bearer(t)), t, /another authorization server/);
    });

    it('[auth:oauth:expired:401] an expired token is refused, within the clock tolerance it is not', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const now = Math.floor(Date.now() / 1000);
      const t = await iss.mint({ iat: now - 7200, exp: now - 120 });
      expectInvalid(await call(stage, bearer(t)), t, /has expired/);
      const lenient = await call(stage, bearer(await iss.mint({ iat: now - 7200, exp: now - 10 })));
      expect(lenient.admitted).toBe(true);
      const noExp = await iss.mint({ exp: undefined });
      expectInvalid(await call(stage, bearer(noExp)), noExp, /exp claim/);
    });

    it('[auth:oauth:nbf:401] a token that is not valid yet is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const t = await iss.mint({ nbf: Math.floor(Date.now() / 1000) + 600 });
      expectInvalid(await call(stage, bearer(t)), t, /not valid yet/);
    });

    it('[auth:oauth:signature:401] a token whose payload was changed after signing is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss, { scopes: { admin: { allowDestructive: true } } });
      const t = await iss.mint({ scope: 'user' });
      const [h, p, s] = t.split('.') as [string, string, string];
      const claims = JSON.parse(new TextDecoder().decode(base64url.decode(p))) as Record<string, unknown>;
      const forged = `${h}.${base64url.encode(JSON.stringify({ ...claims, scope: 'admin' }))}.${s}`;
      expectInvalid(await call(stage, bearer(forged)), forged, /signature does not verify/);
    });

    it('[auth:oauth:alg-none:401] an unsecured token (alg none) is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const valid = await iss.mint();
      const enc = (o: unknown) => base64url.encode(JSON.stringify(o));
      const payload = valid.split('.')[1]!;
      for (const alg of ['none', 'None', 'NONE']) {
        const t = `${enc({ alg, typ: 'at+jwt' })}.${payload}.`;
        expectInvalid(await call(stage, bearer(t)), t, /algorithm this gateway does not accept|malformed/);
      }
      expect(iss.hits.size).toBe(0);
    });

    it('[auth:oauth:alg-confusion:401] an HS256 token keyed with the issuer public key is refused', async () => {
      const iss = await localIssuer({ alg: 'RS256' });
      const { stage } = build(iss);
      const jwk = iss.publicJwk();
      const now = Math.floor(Date.now() / 1000);
      const claims = { iss: iss.issuer, sub: 'user-1', aud: RESOURCE, iat: now, exp: now + 600 };
      for (const secret of [JSON.stringify(jwk), jwk.n!]) {
        const t = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: jwk.kid })
          .sign(new TextEncoder().encode(secret));
        expectInvalid(await call(stage, bearer(t)), t, /algorithm this gateway does not accept/);
      }
    });

    it('[auth:oauth:unknown-key:401] a token signed by a key the JWKS does not publish is refused', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const stranger = await iss.strangerKey();
      const t = await iss.mint({}, { key: stranger });
      expectInvalid(await call(stage, bearer(t)), t, /key the issuer does not publish/);
      // The same kid as the issuer's key, another key: the signature does not verify.
      const t2 = await iss.mint({}, { key: { ...stranger, kid: iss.publicJwk().kid! } });
      expectInvalid(await call(stage, bearer(t2)), t2, /signature does not verify/);
    });

    it('[auth:oauth:malformed:401] text that is not a JWT is refused as invalid_token', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      for (const t of ['abc', 'a.b.c', 'mcpw_not_a_jwt_at_all', `${'a'.repeat(20_000)}.b.c`])
        expectInvalid(await call(stage, bearer(t)), t, /malformed/);
    });

    it('[auth:oauth:scope:403] a token without a required scope gets 403 insufficient_scope naming the scope', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss, { requiredScopes: ['mcp'] });
      const t = await iss.mint({ scope: 'other' });
      for (let i = 0; i < 2; i++) {
        const o = await call(stage, bearer(t));
        expect(o.admitted).toBe(false);
        expect(o.refusal).toMatchObject({ status: 403, event: 'auth_failure' });
        expect(challengeOf(o.refusal)).toMatch(/^Bearer error="insufficient_scope", scope="mcp", /);
        expect(challengeOf(o.refusal)).toContain(`resource_metadata="${PRM_URL}"`);
        expect(rpcError(o.refusal).code).toBe(FORBIDDEN);
      }
      expect((await call(stage, bearer(await iss.mint({ scope: 'other mcp' })))).admitted).toBe(true);
    });

    it('[auth:oauth:no-grant:403] with a scope map, a token holding none of its scopes gets 403', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss, {
        scopes: { 'mcp:github': { servers: ['github'] }, 'mcp:slack': { servers: ['slack'] } },
      });
      const o = await call(stage, bearer(await iss.mint({ scope: 'openid profile' })));
      expect(o.refusal?.status).toBe(403);
      expect(challengeOf(o.refusal)).toMatch(/error="insufficient_scope", scope="mcp:github mcp:slack"/);
      const none = await call(stage, bearer(await iss.mint()));
      expect(none.refusal?.status).toBe(403);
    });
  });

  describe('keys and the issuer', () => {
    it('[auth:oauth:discovery] the JWKS is found through RFC 8414 metadata, path-inserted for an issuer with a path', async () => {
      const iss = await localIssuer({ path: '/tenant1' });
      const { stage } = build(iss);
      await stage.ready();
      expect((await call(stage, bearer(await iss.mint()))).admitted).toBe(true);
      expect(iss.hits.get('/.well-known/oauth-authorization-server/tenant1')).toBe(1);
      expect(iss.hits.get('/tenant1/jwks')).toBe(1);
    });

    it('[auth:oauth:discovery:openid] OpenID Connect discovery is tried when RFC 8414 metadata is absent', async () => {
      const iss = await localIssuer({ discovery: 'openid' });
      const { stage } = build(iss);
      expect((await call(stage, bearer(await iss.mint()))).admitted).toBe(true);
      expect(iss.hits.get('/.well-known/oauth-authorization-server')).toBe(1);
      expect(iss.hits.get('/.well-known/openid-configuration')).toBe(1);
    });

    it('[auth:oauth:jwks-uri] a configured jwksUri is used without discovery', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss, { jwksUri: iss.jwksUri });
      expect((await call(stage, bearer(await iss.mint()))).admitted).toBe(true);
      expect([...iss.hits.keys()]).toEqual(['/jwks']);
    });

    it('[auth:oauth:discovery:config] metadata naming another issuer, or none at all, is a CONFIG_INVALID at ready() and a 503 per request', async () => {
      const liar = await localIssuer({ claimedIssuer: 'https://someone-else.example.com' });
      const a = build(liar, {}, { retryMs: 60_000 });
      const err: unknown = await a.stage.ready().catch((e: unknown) => e);
      expect(isWardenError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(
        /gateway\.auth\.oauth\.issuer: .*names issuer "https:\/\/someone-else/,
      );
      const o = await call(a.stage, bearer(await liar.mint()));
      expect(o.refusal?.status).toBe(503);

      const bare = await localIssuer({ path: '/nothing-here' });
      const b = build(bare, { issuer: `${bare.issuer}/x` });
      const err2: unknown = await b.stage.ready().catch((e: unknown) => e);
      expect(isWardenError(err2, 'CONFIG_INVALID')).toBe(true);
      expect((err2 as Error).message).toMatch(
        /no authorization server metadata .*HTTP 404.*set gateway\.auth\.oauth\.jwksUri/,
      );
    });

    it('[auth:oauth:jwks-rotation] a new signing key (new kid) in the JWKS is picked up; a withdrawn one stops working', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss, {}, { jwksCooldownMs: 0 });
      const oldKey = iss.currentKey();
      expect((await call(stage, bearer(await iss.mint({ jti: 'a' })))).admitted).toBe(true);
      await iss.rotate();
      expect((await call(stage, bearer(await iss.mint({ jti: 'b' })))).admitted).toBe(true);
      expect(iss.hits.get('/jwks')).toBe(2);
      const withdrawn = await iss.mint({ jti: 'c' }, { key: oldKey });
      expectInvalid(await call(stage, bearer(withdrawn)), withdrawn, /key the issuer does not publish/);
    });

    it('[auth:oauth:jwks-cooldown] an unknown kid does not refetch the JWKS within the cooldown', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      expect((await call(stage, bearer(await iss.mint()))).admitted).toBe(true);
      const stranger = await iss.strangerKey();
      for (let i = 0; i < 5; i++) {
        const t = await iss.mint({ jti: String(i) }, { key: stranger });
        expectInvalid(await call(stage, bearer(t)), t, /key the issuer does not publish/);
      }
      expect(iss.hits.get('/jwks')).toBe(1);
    });

    it('[auth:oauth:issuer-down:503] an unreachable issuer is a 503 with Retry-After, never invalid_token, and is logged without the token', async () => {
      const iss = await localIssuer();
      const { stage, logs } = build(iss, {}, { retryMs: 200 });
      iss.failing = true;
      const t = await iss.mint();
      for (let i = 0; i < 3; i++) {
        const o = await call(stage, bearer(t));
        expect(o.admitted).toBe(false);
        expect(o.refusal).toMatchObject({
          status: 503,
          event: 'auth_failure',
          headers: { 'retry-after': '1' },
        });
        expect(challengeOf(o.refusal)).toBe('');
        expect(rpcError(o.refusal).code).toBe(SERVER_UNAVAILABLE);
        expect(JSON.stringify(o.refusal)).not.toContain(t);
      }
      expect(logs).toHaveLength(1);
      expect(logs[0]).toContain(`cannot check tokens with ${iss.issuer}`);
      const err: unknown = await stage.ready().catch((e: unknown) => e);
      expect(isWardenError(err, 'PROVIDER_UNAVAILABLE')).toBe(true);
      expect((err as Error).message).toContain(iss.issuer);

      iss.failing = false;
      await sleep(250);
      expect((await call(stage, bearer(t))).admitted).toBe(true);
      expect(logs.at(-1)).toContain('answers again');
      for (const l of logs) expect(l).not.toContain(t.split('.')[2]);
    });

    it('[auth:oauth:issuer-down:stale-keys] with the issuer down, tokens signed by a key it last published still verify; an unknown kid is 503', async () => {
      const iss = await localIssuer();
      const { stage, logs } = build(iss, {}, { jwksMaxAgeMs: 1, jwksCooldownMs: 0, retryMs: 60_000 });
      expect((await call(stage, bearer(await iss.mint({ jti: '1' })))).admitted).toBe(true);
      iss.failing = true;
      await sleep(5);
      expect((await call(stage, bearer(await iss.mint({ jti: '2' })))).admitted).toBe(true);
      expect(logs.join('\n')).toContain('using the keys it last published');
      const lastKey = iss.currentKey();
      await iss.rotate(true);
      const rotated = await iss.mint({ jti: '3' });
      expect((await call(stage, bearer(rotated))).refusal?.status).toBe(503);
      const bad = await iss.mint({ jti: '4', aud: 'https://other.example' }, { key: lastKey });
      expectInvalid(await call(stage, bearer(bad)), bad, /not issued for this resource/);
    });

    it('[auth:oauth:ready] ready() loads the keys once, so the first request does not wait for them', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      await stage.ready();
      expect(iss.hits.get('/jwks')).toBe(1);
      expect((await call(stage, bearer(await iss.mint()))).admitted).toBe(true);
      expect(iss.hits.get('/jwks')).toBe(1);
    });
  });

  describe('verification cache', () => {
    it('[auth:oauth:cache] a verified token is not verified again for a minute, then it is', async () => {
      const iss = await localIssuer();
      let now = Date.now();
      const { stage } = build(iss, {}, { now: () => now, jwksCooldownMs: 0, jwksMaxAgeMs: 1 });
      const t = await iss.mint({}, { now: Math.floor(now / 1000) });
      expect((await call(stage, bearer(t))).admitted).toBe(true);
      await iss.rotate(); // the key that signed t is withdrawn
      now += 30_000;
      const hit = await call(stage, bearer(t));
      expect(hit.admitted).toBe(true);
      expect(hit.ctx.client?.keyHash).toBe(hash16(t));
      expect(iss.hits.get('/jwks')).toBe(1);
      now += 31_000;
      await sleep(5); // past jwksMaxAgeMs in real time: the next verification refetches the JWKS
      expectInvalid(await call(stage, bearer(t)), t, /key the issuer does not publish/);
    });

    it('[auth:oauth:cache:exp] a cached token is refused once it expires', async () => {
      const iss = await localIssuer();
      let now = Date.now();
      const { stage } = build(iss, { clockToleranceSeconds: 0 }, { now: () => now });
      const s = Math.floor(now / 1000);
      const t = await iss.mint({ exp: s + 10 }, { now: s });
      expect((await call(stage, bearer(t))).admitted).toBe(true);
      now += 5_000;
      expect((await call(stage, bearer(t))).admitted).toBe(true);
      now += 6_000;
      expectInvalid(await call(stage, bearer(t)), t, /has expired/);
    });

    it('[auth:oauth:cache:in-flight] parallel requests with a new token share one verification and one client', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss);
      const t = await iss.mint();
      const all = await Promise.all(Array.from({ length: 20 }, () => call(stage, bearer(t))));
      expect(all.every((o) => o.admitted)).toBe(true);
      expect(new Set(all.map((o) => o.ctx.client)).size).toBe(1);
      expect(iss.hits.get('/jwks')).toBe(1);
    });

    it('[auth:oauth:cache:bounded] the cache holds at most cacheSize tokens, the least recently used out first', async () => {
      const iss = await localIssuer();
      let now = Date.now();
      const { stage } = build(iss, {}, { now: () => now, cacheSize: 2, jwksCooldownMs: 0, jwksMaxAgeMs: 1 });
      const s = Math.floor(now / 1000);
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((jti) => iss.mint({ jti }, { now: s })));
      for (const t of [a!, b!, a!, c!]) expect((await call(stage, bearer(t))).admitted).toBe(true);
      await iss.rotate(); // now only cached tokens pass
      await sleep(5);
      now += 1_000;
      expect((await call(stage, bearer(a!))).admitted).toBe(true);
      expect((await call(stage, bearer(c!))).admitted).toBe(true);
      expect((await call(stage, bearer(b!))).refusal?.status).toBe(401);
    });
  });

  describe('Protected Resource Metadata', () => {
    it('[auth:oauth:prm] the RFC 9728 document names the resource, the issuer, the scopes and header bearer use', async () => {
      const iss = await localIssuer();
      const { stage } = build(iss, {
        requiredScopes: ['mcp'],
        scopes: { 'mcp:github': { servers: ['github'] }, 'mcp:slack': { servers: ['slack'] } },
      });
      expect(stage.metadata()).toEqual({
        resource: RESOURCE,
        authorization_servers: [iss.issuer],
        scopes_supported: ['mcp', 'mcp:github', 'mcp:slack'],
        bearer_methods_supported: ['header'],
        resource_name: 'mcp-warden gateway',
      });
      expect(stage.metadataUrl).toBe(PRM_URL);
      expect(stage.metadataPaths).toEqual([
        '/.well-known/oauth-protected-resource/mcp',
        '/.well-known/oauth-protected-resource',
      ]);
      const plain = build(iss, { resource: 'https://mcp.example.com', scopesSupported: ['a'] }).stage;
      expect(plain.metadata()).toMatchObject({
        resource: 'https://mcp.example.com',
        scopes_supported: ['a'],
      });
      expect(plain.metadataUrl).toBe('https://mcp.example.com/.well-known/oauth-protected-resource');
      expect(plain.metadataPaths).toEqual(['/.well-known/oauth-protected-resource']);
      expect(build(iss).stage.metadata()).not.toHaveProperty('scopes_supported');
    });
  });

  describe('config (gateway.auth.oauth)', () => {
    const bad = (raw: unknown, fallback?: { resource?: string }) => {
      try {
        parseOAuth(raw, fallback);
      } catch (e) {
        expect(isWardenError(e, 'CONFIG_INVALID')).toBe(true);
        return (e as Error).message;
      }
      throw new Error('accepted');
    };

    it('[auth:oauth:config:defaults] audience defaults to the resource (with or without its trailing slash), tolerance to 30 s', () => {
      const o = parseOAuth({ issuer: 'https://auth.example.com', resource: 'https://mcp.example.com/mcp' });
      expect(o.audience).toEqual(['https://mcp.example.com/mcp', 'https://mcp.example.com/mcp/']);
      expect(o.clockToleranceSeconds).toBe(30);
      expect(o.requiredScopes).toEqual([]);
      expect(o.scopes).toBeUndefined();
      const f = parseOAuth(
        { issuer: 'https://auth.example.com', audience: 'api://mcp' },
        { resource: RESOURCE },
      );
      expect(f.resource).toBe(RESOURCE);
      expect(f.audience).toEqual(['api://mcp']);
    });

    it('[auth:oauth:config:invalid] a bad section is CONFIG_INVALID naming gateway.auth.oauth.<field>', () => {
      expect(bad({})).toMatch(/^gateway\.auth\.oauth\.issuer: /);
      expect(bad({ issuer: 'http://auth.example.com', resource: RESOURCE })).toMatch(
        /^gateway\.auth\.oauth\.issuer: must be an https URL/,
      );
      expect(bad({ issuer: 'https://u:p@auth.example.com', resource: RESOURCE })).toMatch(
        /without credentials/,
      );
      expect(bad({ issuer: 'https://auth.example.com' })).toMatch(
        /^gateway\.auth\.oauth\.resource: required/,
      );
      expect(bad({ issuer: 'https://a.example', resource: RESOURCE, jwksUri: 'ftp://x' })).toMatch(
        /^gateway\.auth\.oauth\.jwksUri: /,
      );
      expect(bad({ issuer: 'https://a.example', resource: RESOURCE, requiredScopes: ['a b'] })).toMatch(
        /^gateway\.auth\.oauth\.requiredScopes\.0: a scope/,
      );
      expect(bad({ issuer: 'https://a.example', resource: RESOURCE, scopes: { 'x"y': {} } })).toMatch(
        /^gateway\.auth\.oauth\.scopes/,
      );
      expect(
        bad({ issuer: 'https://a.example', resource: RESOURCE, scopes: { s: { servers: [], bogus: 1 } } }),
      ).toMatch(/^gateway\.auth\.oauth\.scopes\.s/);
      expect(bad({ issuer: 'https://a.example', resource: RESOURCE, introspection: true })).toMatch(
        /^gateway\.auth\.oauth/,
      );
    });

    it('[auth:oauth:config:over-grant] a scope map whose union would grant more than its scopes is refused', () => {
      const msg = bad({
        issuer: 'https://a.example',
        resource: RESOURCE,
        scopes: { 'mcp:github': { servers: ['github'] }, 'mcp:read': { tools: ['*__list_*'] } },
      });
      expect(msg).toMatch(/^gateway\.auth\.oauth\.scopes: "mcp:github" and "mcp:read"/);
      expect(
        bad({
          issuer: 'https://a.example',
          resource: RESOURCE,
          scopes: { a: { servers: ['github'], allowDestructive: true }, b: { servers: ['slack'] } },
        }),
      ).toMatch(/"a" and "b"/);
      // Nested, or differing in one field only: exact, accepted.
      const ok = parseOAuth({
        issuer: 'https://a.example',
        resource: RESOURCE,
        scopes: {
          read: { tools: ['files__read_*'] },
          write: { tools: ['files__*'], allowDestructive: true },
          all: { tools: ['*'], allowDestructive: true },
        },
      });
      expect(ok.scopes?.get('all')).toEqual({ allowDestructive: true });
    });
  });
});
