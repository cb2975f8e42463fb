import { WardenError, describe, isWardenError } from '../../../errors.js';

/** Issuer discovery for the OAuth stage (oauth.ts): where the issuer publishes its signing keys (JWKS). */

/**
 * The JWKS location from the issuer's metadata: RFC 8414 (`oauth-authorization-server`), then
 * OpenID Connect Discovery, with the well-known part inserted before an issuer's path (and, for
 * OpenID, appended after it too). The metadata must name the same issuer (RFC 8414 §3.3).
 */
export async function discover(issuer: string, timeoutMs: number): Promise<string> {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/+$/, '');
  const candidates = [
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${u.origin}/.well-known/openid-configuration${path}`,
    ...(path ? [`${u.origin}${path}/.well-known/openid-configuration`] : []),
  ];
  const misses: string[] = [];
  for (const url of candidates) {
    let res: Response;
    try {
      res = await fetch(url, {
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json' },
      });
    } catch (err) {
      throw new WardenError(
        'PROVIDER_UNAVAILABLE',
        `authorization server ${issuer} unreachable at ${url} (${causeOf(err)})`,
        {
          cause: err,
        },
      );
    }
    if (res.status >= 500)
      throw new WardenError(
        'PROVIDER_UNAVAILABLE',
        `authorization server ${issuer} failed: ${url} answered HTTP ${res.status}`,
      );
    let body: unknown;
    if (res.status === 200) body = await res.json().catch(() => undefined);
    else await res.body?.cancel();
    if (typeof body !== 'object' || body === null) {
      misses.push(`${url} (${res.status === 200 ? 'not JSON' : `HTTP ${res.status}`})`);
      continue;
    }
    const meta = body as { issuer?: unknown; jwks_uri?: unknown };
    if (meta.issuer !== issuer)
      throw new WardenError(
        'CONFIG_INVALID',
        `gateway.auth.oauth.issuer: the metadata at ${url} names issuer ${JSON.stringify(meta.issuer)}, not ${issuer}; set issuer to exactly what the authorization server puts in its tokens`,
      );
    const jwks = typeof meta.jwks_uri === 'string' ? safeUrl(meta.jwks_uri) : undefined;
    if (!jwks)
      throw new WardenError(
        'CONFIG_INVALID',
        `gateway.auth.oauth: the metadata at ${url} has no usable jwks_uri (https, or http on loopback); set gateway.auth.oauth.jwksUri`,
      );
    return jwks;
  }
  throw new WardenError(
    'CONFIG_INVALID',
    `gateway.auth.oauth.issuer: no authorization server metadata for ${issuer} at ${misses.join(', ')}; check the issuer URL or set gateway.auth.oauth.jwksUri`,
  );
}

function safeUrl(s: string): string | undefined {
  try {
    const u = new URL(s);
    const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\./.test(u.hostname);
    return u.protocol === 'https:' || (u.protocol === 'http:' && loopback) ? u.href : undefined;
  } catch {
    return undefined;
  }
}

/** fetch's "fetch failed" says nothing; the errno of its cause does. */
export function causeOf(err: unknown): string {
  if (isWardenError(err)) return err.message;
  const cause = err instanceof Error ? err.cause : undefined;
  return cause ? describe(cause) : describe(err);
}
