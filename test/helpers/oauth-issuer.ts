import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll } from 'vitest';

/**
 * A stand-in for an OAuth authorization server, on 127.0.0.1: it publishes RFC 8414 metadata
 * (or only OpenID Connect discovery) and a JWKS, and mints access tokens with keys from
 * `jose.generateKeyPair`. No real authorization server runs on this machine; this one implements
 * only what a resource server reads from one (the metadata and the keys) and signs as they do.
 */
export interface LocalIssuer {
  /** The issuer identifier (`iss`), with `path` when one was given. */
  issuer: string;
  jwksUri: string;
  /** Requests answered, by path. */
  hits: Map<string, number>;
  /** A signed access token; `claims` override the defaults (iss, sub, aud, iat, exp). */
  mint(claims?: JWTPayload, opts?: MintOptions): Promise<string>;
  /** A new signing key with a new kid; `keepOld` leaves the previous one in the JWKS. */
  rotate(keepOld?: boolean): Promise<void>;
  /** A key pair that the JWKS never publishes, for tokens signed by a stranger. */
  strangerKey(): Promise<SigningKey>;
  /** The current public key as a JWK (what the JWKS serves). */
  publicJwk(): JWK;
  /** The current signing key, to sign with it after a rotation withdrew it. */
  currentKey(): SigningKey;
  /** Every connection is dropped while true: the issuer as a network failure sees it. */
  failing: boolean;
  close(): Promise<void>;
}

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export interface MintOptions {
  key?: SigningKey;
  /** Protected header overrides (typ, kid, alg...). */
  header?: Record<string, unknown>;
  /** Now, in epoch seconds, for iat and the default exp (one hour on). */
  now?: number;
}

export interface IssuerOptions {
  /** A path after the origin (`/tenant1`): metadata at the RFC 8414 path-inserted location. */
  path?: string;
  /** Which metadata document it serves. */
  discovery?: 'oauth' | 'openid';
  /** The `issuer` its metadata claims, when it should lie. */
  claimedIssuer?: string;
  /** Default `aud` of minted tokens. */
  audience?: string;
  alg?: 'ES256' | 'RS256' | 'EdDSA';
}

async function signingKey(alg: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

export async function localIssuer(opts: IssuerOptions = {}): Promise<LocalIssuer> {
  const alg = opts.alg ?? 'ES256';
  let current = await signingKey(alg);
  let published: SigningKey[] = [current];
  const hits = new Map<string, number>();
  const path = opts.path ?? '';
  let origin = '';
  const state = { failing: false };

  const http: Server = createServer((req, res) => {
    if (state.failing) {
      req.socket.destroy();
      return;
    }
    const p = req.url ?? '/';
    hits.set(p, (hits.get(p) ?? 0) + 1);
    const send = (status: number, body: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const metadataPath =
      opts.discovery === 'openid'
        ? `/.well-known/openid-configuration${path}`
        : `/.well-known/oauth-authorization-server${path}`;
    if (p === metadataPath)
      return send(200, {
        issuer: opts.claimedIssuer ?? origin + path,
        jwks_uri: `${origin}${path}/jwks`,
        authorization_endpoint: `${origin}${path}/authorize`,
        token_endpoint: `${origin}${path}/token`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
      });
    if (p === `${path}/jwks`) return send(200, { keys: published.map((k) => k.publicJwk) });
    send(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const issuer = origin + path;
  const close = () =>
    new Promise<void>((resolve) => {
      http.closeAllConnections();
      http.close(() => resolve());
    });
  afterAll(close);

  const result: LocalIssuer = {
    issuer,
    jwksUri: `${issuer}/jwks`,
    hits,
    async mint(claims = {}, m = {}) {
      const key = m.key ?? current;
      const now = m.now ?? Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: issuer,
        sub: 'user-1',
        aud: opts.audience ?? 'http://127.0.0.1:8811/mcp',
        iat: now,
        exp: now + 3600,
        ...claims,
      })
        .setProtectedHeader({ alg: key.alg, typ: 'at+jwt', kid: key.kid, ...m.header })
        .sign(key.privateKey);
    },
    async rotate(keepOld = false) {
      current = await signingKey(alg);
      published = keepOld ? [...published, current] : [current];
    },
    strangerKey: () => signingKey(alg),
    publicJwk: () => current.publicJwk,
    currentKey: () => current,
    get failing() {
      return state.failing;
    },
    set failing(v: boolean) {
      state.failing = v;
      if (v) http.closeAllConnections();
    },
    close,
  };
  return result;
}
