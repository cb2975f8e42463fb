import { WardenError } from '../../../errors.js';
import { UNAUTHENTICATED, errorResponse } from '../../jsonrpc.js';
import type {
  Admission,
  AdmissionResult,
  AdmissionStage,
  Client,
  MaybePromise,
  Refusal,
} from '../../pipeline.js';
import type { KeyEntry } from './key-file.js';
import { KEY_PREFIX } from './key-format.js';
import type { KeyRing, RefusedBecause } from './keys.js';

export interface ApiKeyAuthOptions {
  ring: KeyRing;
  /** The realm in WWW-Authenticate (default `mcp-warden`). */
  realm?: string;
  /**
   * A bearer token that is not an mcp-warden key (a JWT) goes on to the next stage with no client
   * set, for an OAuth stage after this one; without this it is refused as a malformed key.
   */
  passThroughNonKeys?: boolean;
}

const REASONS: Record<RefusedBecause, string> = {
  unknown: 'unknown key',
  expired: 'expired key',
  revoked: 'revoked key',
  malformed: 'malformed key',
};

/** The first value of a header that may repeat; `null` when it does (ambiguous). */
function single(v: string | string[] | undefined): string | undefined | null {
  if (v === undefined || typeof v === 'string') return v;
  return v.length === 1 ? v[0] : null;
}

/**
 * Client API keys, presented as `Authorization: Bearer KEY` or `X-MCP-API-Key: KEY`. A valid key
 * makes the request's client its key's client (with the key's server and tool scope); a missing
 * or invalid one is refused with 401 and a WWW-Authenticate challenge (RFC 6750), two different
 * keys in the two headers with 400. Refusals carry the event `auth_failure` and never the key.
 */
export function apiKeyAuth(opts: ApiKeyAuthOptions): AdmissionStage {
  const realm = opts.realm ?? 'mcp-warden';
  if (typeof realm !== 'string' || realm.length === 0 || !/^[\x20-\x7e]+$/.test(realm) || /["\\]/.test(realm))
    throw new WardenError(
      'CONFIG_INVALID',
      'gateway.auth.realm: printable ASCII without quotes or backslashes',
    );
  if (!opts.ring || typeof opts.ring.verify !== 'function')
    throw new WardenError('CONFIG_INVALID', 'gateway.auth.keys: no key ring to verify against');
  const { ring } = opts;
  const passThrough = opts.passThroughNonKeys === true;
  const challenge = `Bearer realm="${realm}"`;

  // Built once: refusals are values, the same for every request.
  const refusal = (status: number, reason: string, message: string, header = challenge): Refusal => ({
    event: 'auth_failure',
    status,
    headers: { 'www-authenticate': header },
    reason,
    body: errorResponse(null, UNAUTHENTICATED, message),
  });
  const MISSING = refusal(
    401,
    'missing key',
    'Unauthorized: send an API key as Authorization: Bearer KEY or X-MCP-API-Key: KEY',
  );
  const AMBIGUOUS = refusal(
    400,
    'conflicting Authorization and X-MCP-API-Key headers',
    'Bad request: Authorization and X-MCP-API-Key carry different credentials; send one',
    `${challenge}, error="invalid_request"`,
  );
  const invalid = (why: RefusedBecause) =>
    refusal(
      401,
      REASONS[why],
      `Unauthorized: ${REASONS[why]}`,
      `${challenge}, error="invalid_token", error_description="${REASONS[why]}"`,
    );
  const INVALID: Record<RefusedBecause, Refusal> = {
    unknown: invalid('unknown'),
    expired: invalid('expired'),
    revoked: invalid('revoked'),
    malformed: invalid('malformed'),
  };

  // One Client per key entry, shared by every request made with the key: the stages after this
  // one read it and never change it, and those that keep what they derive from a client (the
  // policy's compiled rules) find it again. A reload makes new entries, hence new clients.
  const clients = new WeakMap<KeyEntry, Client>();
  const clientOf = (e: KeyEntry): Client => {
    let client = clients.get(e);
    if (client === undefined) {
      client = { id: e.clientId, via: 'api-key', keyHash: e.hash.slice(0, 16) };
      if (e.servers) client.servers = e.servers;
      if (e.tools) client.tools = e.tools;
      if (e.allowDestructive !== undefined) client.allowDestructive = e.allowDestructive;
      clients.set(e, client);
    }
    return client;
  };

  // Not async: verifying a key needs no wait, so an admitted request costs no promise here.
  return function apiKeyAuth(ctx: Admission, next: () => MaybePromise<AdmissionResult>) {
    const auth = single(ctx.headers.authorization);
    const header = single(ctx.headers['x-mcp-api-key']);
    if (auth === null || header === null) return AMBIGUOUS;
    let bearer: string | undefined;
    if (auth !== undefined && (auth.startsWith('Bearer ') || /^bearer /i.test(auth)))
      bearer = auth.slice(7).trim() || undefined;
    const apiKey = header?.trim() || undefined;
    if (bearer !== undefined && apiKey !== undefined && bearer !== apiKey) return AMBIGUOUS;
    const presented = bearer ?? apiKey;
    // With OAuth after us, a request with no credentials is the OAuth stage's to answer: its
    // challenge names the resource metadata a client needs to find the authorization server.
    if (!presented) return passThrough ? next() : MISSING;
    const verdict = ring.verify(presented, ctx.connection);
    if (!verdict.ok) {
      if (verdict.reason === 'malformed' && passThrough && !presented.startsWith(KEY_PREFIX)) return next();
      const known = verdict.entry;
      // The audit learns which key (its id, not secret) and whose; the caller only the reason.
      return known
        ? {
            ...INVALID[verdict.reason],
            reason: `${REASONS[verdict.reason]} ${known.id} of client ${known.clientId}`,
          }
        : INVALID[verdict.reason];
    }
    ctx.client = clientOf(verdict.entry);
    return next();
  };
}
