import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuth } from '../src/gateway/middleware/auth/api-key.js';
import { parseAuthFailures, parseAuthKeys } from '../src/gateway/middleware/auth/config.js';
import { authFailureGuard } from '../src/gateway/middleware/auth/failures.js';
import { updateKeyFile, type KeyEntry } from '../src/gateway/middleware/auth/key-file.js';
import { generateKey, hashKey, keyIdOf } from '../src/gateway/middleware/auth/key-format.js';
import { KeyRing } from '../src/gateway/middleware/auth/keys.js';
import { UNAUTHENTICATED, RATE_LIMITED } from '../src/gateway/jsonrpc.js';
import { admitted, composeAdmission, type Admission, type AdmissionStage } from '../src/gateway/pipeline.js';
import { isWardenError } from '../src/errors.js';
import { tempDir } from './helpers/tmp.js';

const keys = {
  ci: generateKey(),
  scoped: generateKey(),
  revoked: generateKey(),
  expired: generateKey(),
};

function entry(key: string, clientId: string, extra: Partial<KeyEntry> = {}): KeyEntry {
  const hash = hashKey(key);
  return { id: keyIdOf(hash), clientId, hash, created: new Date().toISOString(), ...extra };
}

let ring: KeyRing;
beforeAll(async () => {
  const file = join(tempDir('mcpw-apikey-'), 'home', 'gateway-keys.json');
  await updateKeyFile(file, (entries) => {
    entries.push(
      entry(keys.ci, 'ci'),
      entry(keys.scoped, 'bot', { servers: ['github'], tools: ['github__*'], allowDestructive: true }),
      entry(keys.revoked, 'gone', { revokedAt: new Date(Date.now() - 1000).toISOString() }),
      entry(keys.expired, 'old', { expires: new Date(Date.now() - 1000).toISOString() }),
    );
  });
  ring = await KeyRing.open({ file, watch: false });
});
afterAll(() => ring.close());

function adm(headers: Admission['headers'], clientIp = '127.0.0.1'): Admission {
  return { method: 'POST', path: '/mcp', headers, peerIp: clientIp, clientIp };
}

/** Runs one admission stage; `reached` tells whether it called next. */
async function admit(stage: AdmissionStage, a: Admission) {
  let reached = false;
  const refusal = await stage(a, () => {
    reached = true;
    return admitted();
  });
  return { refusal, reached, client: a.client };
}

describe('apiKeyAuth', () => {
  let auth: AdmissionStage;
  beforeAll(() => {
    auth = apiKeyAuth({ ring });
  });

  it('[auth:bearer-header] a valid key as Authorization: Bearer admits the key’s client', async () => {
    const r = await admit(auth, adm({ authorization: `Bearer ${keys.ci}` }));
    expect(r.refusal).toBeUndefined();
    expect(r.reached).toBe(true);
    expect(r.client).toEqual({ id: 'ci', via: 'api-key', keyHash: hashKey(keys.ci).slice(0, 16) });
    // The scheme is case-insensitive (RFC 7235).
    expect((await admit(auth, adm({ authorization: `bearer ${keys.ci}` }))).client?.id).toBe('ci');
  });

  it('[auth:x-mcp-api-key-header] a valid key as X-MCP-API-Key admits too, with the key’s scope', async () => {
    const r = await admit(auth, adm({ 'x-mcp-api-key': keys.scoped }));
    expect(r.refusal).toBeUndefined();
    expect(r.client).toEqual({
      id: 'bot',
      via: 'api-key',
      keyHash: hashKey(keys.scoped).slice(0, 16),
      servers: ['github'],
      tools: ['github__*'],
      allowDestructive: true,
    });
    // The same key in both headers is fine.
    const both = await admit(auth, adm({ authorization: `Bearer ${keys.ci}`, 'x-mcp-api-key': keys.ci }));
    expect(both.client?.id).toBe('ci');
    // An empty Bearer beside a key is no second credential.
    const empty = await admit(auth, adm({ authorization: 'Bearer ', 'x-mcp-api-key': keys.ci }));
    expect(empty.client?.id).toBe('ci');
  });

  it('[auth:missing-key:401] a request without a key is refused 401 with a Bearer challenge', async () => {
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { 'x-mcp-api-key': '  ' }]) {
      const r = await admit(auth, adm(headers));
      expect(r.reached).toBe(false);
      expect(r.client).toBeUndefined();
      expect(r.refusal).toEqual({
        event: 'auth_failure',
        status: 401,
        headers: { 'www-authenticate': 'Bearer realm="mcp-warden"' },
        reason: 'missing key',
        body: {
          jsonrpc: '2.0',
          id: null,
          error: {
            code: UNAUTHENTICATED,
            message: expect.stringMatching(/^Unauthorized: send an API key/) as string,
          },
        },
      });
    }
  });

  it('[auth:bad-key:401] an unknown or malformed key is refused 401 invalid_token, naming no key', async () => {
    const unknown = generateKey();
    for (const [presented, reason] of [
      [unknown, 'unknown key'],
      ['mcpw_short', 'malformed key'],
      ['eyJhbGciOiJSUzI1NiJ9.e30.c2ln', 'malformed key'],
    ] as const) {
      const r = await admit(auth, adm({ authorization: `Bearer ${presented}` }));
      expect(r.reached).toBe(false);
      expect(r.refusal).toMatchObject({
        status: 401,
        event: 'auth_failure',
        reason,
        headers: {
          'www-authenticate': `Bearer realm="mcp-warden", error="invalid_token", error_description="${reason}"`,
        },
      });
      expect(JSON.stringify(r.refusal)).not.toContain(presented);
    }
  });

  it('[auth:revoked-key:401] a revoked key is refused 401; the reason names its id and client, never the key', async () => {
    const r = await admit(auth, adm({ 'x-mcp-api-key': keys.revoked }));
    expect(r.refusal).toMatchObject({
      status: 401,
      reason: `revoked key ${keyIdOf(hashKey(keys.revoked))} of client gone`,
      body: { error: { code: UNAUTHENTICATED, message: 'Unauthorized: revoked key' } },
    });
    expect(JSON.stringify(r.refusal)).not.toContain(keys.revoked);
    expect(r.client).toBeUndefined();
  });

  it('[auth:expired-key:401] an expired key is refused 401 with error="invalid_token"', async () => {
    const r = await admit(auth, adm({ authorization: `Bearer ${keys.expired}` }));
    expect(r.refusal).toMatchObject({
      status: 401,
      reason: `expired key ${keyIdOf(hashKey(keys.expired))} of client old`,
      headers: { 'www-authenticate': expect.stringContaining('error="invalid_token"') as string },
    });
  });

  it('[auth:conflicting-headers:400] two different credentials in the two headers, or a repeated header, are refused 400', async () => {
    for (const headers of [
      { authorization: `Bearer ${keys.ci}`, 'x-mcp-api-key': keys.scoped },
      { authorization: [`Bearer ${keys.ci}`, `Bearer ${keys.scoped}`] },
    ]) {
      const r = await admit(auth, adm(headers));
      expect(r.reached).toBe(false);
      expect(r.client).toBeUndefined();
      expect(r.refusal).toMatchObject({
        status: 400,
        event: 'auth_failure',
        reason: 'conflicting Authorization and X-MCP-API-Key headers',
      });
    }
  });

  it('[auth:pass-through-non-keys] with passThroughNonKeys a token that is no key goes on unauthenticated', async () => {
    const chained = apiKeyAuth({ ring, passThroughNonKeys: true, realm: 'team' });
    const jwt = await admit(chained, adm({ authorization: 'Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln' }));
    expect(jwt).toMatchObject({ refusal: undefined, reached: true, client: undefined });
    // A broken key is still ours to refuse; a missing one is the next stage's (OAuth answers it
    // with the challenge that names its resource metadata).
    const broken = await admit(chained, adm({ authorization: 'Bearer mcpw_short' }));
    expect(broken).toMatchObject({ reached: false, refusal: { status: 401, reason: 'malformed key' } });
    const missing = await admit(chained, adm({}));
    expect(missing).toMatchObject({ refusal: undefined, reached: true, client: undefined });
  });

  it('[auth:options:checked-at-build] a bad realm or a missing ring fails when the stage is built', () => {
    expect(() => apiKeyAuth({ ring, realm: 'a"b' })).toThrow(/gateway\.auth\.realm/);
    expect(() => apiKeyAuth({ ring: undefined as unknown as KeyRing })).toThrow(/gateway\.auth\.keys/);
  });
});

describe('authFailureGuard', () => {
  const guarded = (opts: Parameters<typeof authFailureGuard>[0]) =>
    composeAdmission([authFailureGuard(opts), apiKeyAuth({ ring })], admitted);

  it('[auth:failures:block:429] after max failures from one address it answers 429 with Retry-After, without trying the key', async () => {
    const run = guarded({ maxFailures: 3, windowSeconds: 60, blockSeconds: 120 });
    const bad = () => adm({ authorization: `Bearer ${generateKey()}` }, '10.0.0.1');
    for (let i = 0; i < 3; i++) expect((await run(bad()))?.status).toBe(401);
    const blocked = await run(bad());
    expect(blocked).toMatchObject({
      status: 429,
      event: 'auth_failure',
      reason: 'too many failed authentications',
      headers: { 'retry-after': '120' },
      body: { error: { code: RATE_LIMITED } },
    });
    // Even the right key is not tried while blocked.
    const good = adm({ authorization: `Bearer ${keys.ci}` }, '10.0.0.1');
    expect((await run(good))?.status).toBe(429);
    expect(good.client).toBeUndefined();
    // Another address is not affected.
    const other = adm({ authorization: `Bearer ${keys.ci}` }, '10.0.0.2');
    expect(await run(other)).toBeUndefined();
    expect(other.client?.id).toBe('ci');
  });

  it('[auth:failures:unblock] once the block ends the address is let through again', async () => {
    const run = guarded({ maxFailures: 2, windowSeconds: 60, blockSeconds: 1 });
    const ip = '10.0.0.3';
    await run(adm({}, ip));
    await run(adm({}, ip));
    expect((await run(adm({ authorization: `Bearer ${keys.ci}` }, ip)))?.status).toBe(429);
    await new Promise((r) => setTimeout(r, 1100));
    const good = adm({ authorization: `Bearer ${keys.ci}` }, ip);
    expect(await run(good)).toBeUndefined();
    expect(good.client?.id).toBe('ci');
  });

  it('[auth:failures:successes-pass] successes neither count nor block', async () => {
    const run = guarded({ maxFailures: 2, windowSeconds: 60, blockSeconds: 60 });
    for (let i = 0; i < 20; i++)
      expect(await run(adm({ authorization: `Bearer ${keys.ci}` }, '10.0.0.4'))).toBeUndefined();
  });

  it('[auth:failures:options-checked] bad options fail when the guard is built', () => {
    expect(() => authFailureGuard({ maxFailures: 0, windowSeconds: 60, blockSeconds: 60 })).toThrow(
      /gateway\.auth\.failures\.max: expected a positive integer/,
    );
    expect(() => authFailureGuard({ maxFailures: 2, windowSeconds: -1, blockSeconds: 60 })).toThrow(
      /gateway\.auth\.failures\.windowSeconds/,
    );
  });
});

describe('config', () => {
  it('[config:auth-keys] gateway.auth.keys is "default" or a path, a relative one from the config directory', () => {
    expect(parseAuthKeys('default', { env: { MCP_WARDEN_HOME: '/data' } })).toEqual({
      file: '/data/gateway-keys.json',
      isDefault: true,
    });
    expect(parseAuthKeys('keys.json', { baseDir: '/etc/mcp' })).toEqual({
      file: '/etc/mcp/keys.json',
      isDefault: false,
    });
    expect(parseAuthKeys('/abs/k.json').file).toBe('/abs/k.json');
    for (const bad of [42, '', { file: 'x' }]) {
      let err: unknown;
      try {
        parseAuthKeys(bad);
      } catch (e) {
        err = e;
      }
      expect(isWardenError(err, 'CONFIG_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(
        /^gateway\.auth\.keys: expected "default" or the path of a key file/,
      );
    }
  });

  it('[config:auth-failures] gateway.auth.failures has defaults 10 per 60 s, blocked 300 s, and names a bad field', () => {
    expect(parseAuthFailures(undefined)).toEqual({ maxFailures: 10, windowSeconds: 60, blockSeconds: 300 });
    expect(parseAuthFailures({ max: 5, blockSeconds: 30 })).toEqual({
      maxFailures: 5,
      windowSeconds: 60,
      blockSeconds: 30,
    });
    expect(() => parseAuthFailures({ max: 0 })).toThrow(/^gateway\.auth\.failures\.max: /);
    expect(() => parseAuthFailures({ windowSeconds: 'soon' })).toThrow(
      /^gateway\.auth\.failures\.windowSeconds: /,
    );
    expect(() => parseAuthFailures({ blok: 3 })).toThrow(/^gateway\.auth\.failures: .*blok/);
  });
});
