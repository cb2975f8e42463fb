import { RateLimiterMemory } from 'rate-limiter-flexible';
import { WardenError } from '../../../errors.js';
import { RATE_LIMITED, errorResponse } from '../../jsonrpc.js';
import type { Admission, AdmissionResult, AdmissionStage, MaybePromise, Refusal } from '../../pipeline.js';

export interface AuthFailureOptions {
  /** Failed authentications from one address within the window that get it blocked. */
  maxFailures: number;
  windowSeconds: number;
  /** How long a blocked address is refused without trying to authenticate it. */
  blockSeconds: number;
}

export const AUTH_FAILURE_DEFAULTS: AuthFailureOptions = {
  maxFailures: 10,
  windowSeconds: 60,
  blockSeconds: 300,
};

function positive(name: string, v: unknown, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v)))
    throw new WardenError(
      'CONFIG_INVALID',
      `gateway.auth.failures.${name}: expected a positive ${integer ? 'integer' : 'number'}`,
    );
  return v;
}

/**
 * Blocks an address after repeated failed authentications. It wraps the authentication stages
 * that follow it: each refusal of theirs with the event `auth_failure` counts one failure for the
 * caller's address; `maxFailures` of them within `windowSeconds` block the address for
 * `blockSeconds`, during which its requests are answered 429 with Retry-After without running the
 * authentication at all (a guessing attacker gets no answer about its guesses). A success does
 * not reset the count.
 */
export function authFailureGuard(opts: AuthFailureOptions = AUTH_FAILURE_DEFAULTS): AdmissionStage {
  const max = positive('max', opts.maxFailures, true);
  const window = positive('windowSeconds', opts.windowSeconds, false);
  const block = positive('blockSeconds', opts.blockSeconds, false);
  const limiter = new RateLimiterMemory({ keyPrefix: 'auth-failures', points: max, duration: window });

  const blocked = (retryAfterMs: number): Refusal => {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    return {
      event: 'auth_failure',
      status: 429,
      headers: { 'retry-after': String(seconds) },
      reason: 'too many failed authentications',
      body: errorResponse(
        null,
        RATE_LIMITED,
        `Too many failed authentications from this address; retry after ${seconds} s`,
      ),
    };
  };

  /**
   * Addresses with a failure on record: only their requests ask the limiter first, so a client
   * that never failed costs no lookup (the guard sits in front of every request).
   */
  const suspects = new Set<string>();

  const counted = async (ip: string, refusal: AdmissionResult): Promise<AdmissionResult> => {
    if (refusal?.event === 'auth_failure') {
      suspects.add(ip);
      const res = await limiter.penalty(ip);
      if (res.consumedPoints >= max) await limiter.block(ip, block);
    }
    return refusal;
  };
  const after = (ip: string, r: AdmissionResult): MaybePromise<AdmissionResult> =>
    r?.event === 'auth_failure' ? counted(ip, r) : r;

  // Not async on the common path (an address with no failure on record): no promise of its own.
  return function authFailureGuard(ctx: Admission, next: () => MaybePromise<AdmissionResult>) {
    const ip = ctx.clientIp;
    if (suspects.has(ip)) return suspect(ip, next);
    const r = next();
    return r instanceof Promise ? r.then((x) => after(ip, x)) : after(ip, r);
  };

  async function suspect(ip: string, next: () => MaybePromise<AdmissionResult>): Promise<AdmissionResult> {
    const seen = await limiter.get(ip);
    // block() stores points + 1: more than `max` consumed means blocked until the record expires.
    if (seen && seen.consumedPoints > max && seen.msBeforeNext > 0) return blocked(seen.msBeforeNext);
    // The record expired: the address starts clean (the set stays as small as the live records).
    if (!seen) suspects.delete(ip);
    return after(ip, await next());
  }
}
