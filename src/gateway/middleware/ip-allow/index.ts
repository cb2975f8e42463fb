import { FORBIDDEN, errorResponse } from '../../jsonrpc.js';
import type { Admission, AdmissionStage, Refusal } from '../../pipeline.js';
import { addressSet, forwardedIp, plainIp, type AddressSet } from './address.js';
import type { IpAllowOptions } from './config.js';

export { addressSet, plainIp, type AddressSet } from './address.js';
export { parseIpAllow, type IpAllowOptions } from './config.js';

/**
 * The caller's address: the TCP peer, or, when the peer is a trusted proxy, the client it
 * forwarded for. X-Forwarded-For (every occurrence of the header, in order, each a comma list) is
 * read from the right, since each proxy appends the address it took the request from and only
 * the entries our own proxies wrote can be believed: trusted proxies are skipped, and the first
 * address that is not one is the client. Whatever stands left of it was written by the client
 * and is ignored.
 *
 * - No header, or a peer that is not a trusted proxy: the peer (a client's header is ignored).
 * - A malformed entry (`unknown`, a name, garbage): the walk stops and the last good hop, a
 *   trusted proxy, is the client. Who stands behind the garbage cannot be known, and the proxy's
 *   own address is rarely allowed, so this fails closed.
 * - Every entry a trusted proxy: the leftmost.
 * - Empty elements (`a, , b`) are skipped, as HTTP list syntax allows.
 *
 * RFC 7239 `Forwarded` is not read: honouring both headers would let a client spoof its address
 * through whichever of the two our proxy passes on untouched.
 *
 * The walk is bounded by the header limit, and it goes past an entry only when that entry is a
 * trusted proxy, which only our proxies write on the right.
 */
export function clientAddress(peerIp: string, headers: Admission['headers'], trusted?: AddressSet): string {
  const peer = plainIp(peerIp);
  if (trusted === undefined || !trusted.has(peer)) return peer;
  const xff = headers['x-forwarded-for'];
  if (xff === undefined) return peer;
  let hop = peer;
  const values = typeof xff === 'string' ? [xff] : xff;
  for (let v = values.length - 1; v >= 0; v--) {
    const value = values[v]!;
    for (let end = value.length; ;) {
      const comma = end > 0 ? value.lastIndexOf(',', end - 1) : -1;
      const entry = value.slice(comma + 1, end).trim();
      if (entry !== '') {
        const ip = forwardedIp(entry);
        if (ip === undefined) return hop;
        if (!trusted.has(ip)) return ip;
        hop = ip;
      }
      if (comma < 0) break;
      end = comma;
    }
  }
  return hop;
}

/**
 * The admission stage of `gateway.allowIps` and `gateway.trustedProxies`: sets `ctx.clientIp`
 * (see clientAddress), then refuses with a 403 an address outside the allowlist. Without
 * `allowIps` everyone is admitted and the stage only resolves the address. The lists are
 * checked here, when the stage is built (CONFIG_INVALID naming the entry).
 */
export function ipAllow(opts: IpAllowOptions): AdmissionStage {
  const allow = addressSet(opts.allowIps ?? [], 'gateway.allowIps');
  const trusted = addressSet(opts.trustedProxies ?? [], 'gateway.trustedProxies');
  const proxies = trusted.size === 0 ? undefined : trusted;
  const everyone = allow.size === 0;
  // Not async: an admitted request costs no promise of its own.
  return function ipAllow(ctx, next) {
    const ip = clientAddress(ctx.peerIp, ctx.headers, proxies);
    ctx.clientIp = ip;
    if (everyone || allow.has(ip)) return next();
    const refusal: Refusal = {
      event: 'policy_denied',
      status: 403,
      reason: `address ${ip} is not in gateway.allowIps`,
      body: errorResponse(null, FORBIDDEN, 'Forbidden: your address is not allowed'),
    };
    return refusal;
  };
}
