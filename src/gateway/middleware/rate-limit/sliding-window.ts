/**
 * The request-rate algorithm: a sliding window counted in slots, shared by the memory store (this
 * file) and the Redis store (the same steps in Lua, redis-store.ts).
 *
 * Why not the two-fixed-windows approximation (Cloudflare's: the previous window's count weighted
 * by its remaining overlap, plus the current one)? It assumes the previous window's requests were
 * spread evenly. A client that spends its whole budget L at once and then keeps asking gets L
 * more during the next window (the weight of the burst falls as fast as new requests are
 * admitted), so some 60 s span holds 1.5L to 2L requests: e.g. L at 0:30, then about L/2 more
 * before 1:30. rate-limiter-flexible has fixed windows only (each key's window starts at its first
 * hit), so a sliding count on top of it would need one read per slot, or cached slot counts that
 * go stale between replicas. Hence this: the window is cut into `SLOTS` slots (one second each
 * for a minute), each slot counts the requests admitted in it, and a request is admitted while
 * the slots that overlap the last window (the current one and the `SLOTS` before it, the oldest
 * counted whole although only part of it is in the window) hold fewer than the limit.
 *
 * Counting the oldest slot whole makes the bound exact: every request admitted in any window-long
 * span lies in the slots counted for the last of them, so no span ever holds more than the limit.
 * The price is that a request can wait up to one slot (1/60 of the window) longer than a perfect
 * sliding log would make it, about 1 % of the budget under constant pressure. State per key is
 * SLOTS + 1 counters, and each request touches one of them (plus, once per slot, the ones that left
 * the window), so a check costs the same at 10 requests per minute as at 10,000.
 */
export const SLOTS = 60;

/** A refusal: which of the keys of a `take` is over its limit, and when it would admit again. */
export interface Refused {
  /** Index into the `keys` of the `take` (the one that frees up last when several are over). */
  which: number;
  /** Milliseconds until one more request would be admitted under that key's limit. */
  waitMs: number;
}

interface Ring {
  /** The slot index the ring was last advanced to. */
  last: number;
  /** Requests counted over the ring (the last SLOTS + 1 slots). */
  sum: number;
  /** counts[slot % (SLOTS + 1)]. */
  counts: Uint32Array;
}

/** Sliding windows held in this process, one ring per key. */
export class MemoryWindows {
  readonly #slotMs: number;
  readonly #rings = new Map<string, Ring>();
  /** Reused by take() for several keys (it never awaits, so no two calls share it). */
  readonly #scratch: Ring[] = [];
  #sweepAt = 0;

  constructor(windowMs: number) {
    this.#slotMs = windowMs / SLOTS;
  }

  /** How many keys hold a ring now (for tests and metrics). */
  get size(): number {
    return this.#rings.size;
  }

  /**
   * Admits one request under every key (each with its limit) or under none: answers undefined when
   * admitted (counted under all keys), or which key refused and for how long.
   */
  take(keys: readonly string[], limits: readonly number[], now = Date.now()): Refused | undefined {
    const slot = Math.floor(now / this.#slotMs);
    if (now >= this.#sweepAt) this.#sweep(slot, now);
    // One key is the common case (the client's budget): no array of rings to build.
    if (keys.length === 1) {
      const ring = this.#ring(keys[0]!, slot);
      if (ring.sum >= limits[0]!) return { which: 0, waitMs: this.#wait(ring, limits[0]!, now) };
      ring.counts[ring.last % (SLOTS + 1)]!++;
      ring.sum++;
      return undefined;
    }
    const rings = this.#scratch;
    rings.length = keys.length;
    for (let i = 0; i < keys.length; i++) rings[i] = this.#ring(keys[i]!, slot);
    let refused: Refused | undefined;
    for (let i = 0; i < rings.length; i++) {
      if (rings[i]!.sum < limits[i]!) continue;
      const waitMs = this.#wait(rings[i]!, limits[i]!, now);
      if (!refused || waitMs > refused.waitMs) refused = { which: i, waitMs };
    }
    if (refused) return refused;
    for (let i = 0; i < rings.length; i++) {
      const ring = rings[i]!;
      ring.counts[ring.last % (SLOTS + 1)]!++;
      ring.sum++;
    }
    return undefined;
  }

  clear(): void {
    this.#rings.clear();
  }

  /** The key's ring, advanced to `slot`: slots that left the window are emptied. */
  #ring(key: string, slot: number): Ring {
    let ring = this.#rings.get(key);
    if (ring === undefined) {
      ring = { last: slot, sum: 0, counts: new Uint32Array(SLOTS + 1) };
      this.#rings.set(key, ring);
    } else if (slot > ring.last) {
      if (slot - ring.last > SLOTS) {
        ring.counts.fill(0);
        ring.sum = 0;
      } else {
        // Slot q takes the place of slot q - (SLOTS + 1), which is out of the window now.
        for (let q = ring.last + 1; q <= slot; q++) {
          const i = q % (SLOTS + 1);
          ring.sum -= ring.counts[i]!;
          ring.counts[i] = 0;
        }
      }
      ring.last = slot;
    }
    // A clock that went back counts into the newest slot seen (ring.last).
    return ring;
  }

  /** When enough of the oldest slots will have left the window for one more request to fit. */
  #wait(ring: Ring, limit: number, now: number): number {
    const need = ring.sum - limit + 1;
    let freed = 0;
    for (let k = 0; k <= SLOTS; k++) {
      freed += ring.counts[(ring.last + 1 + k) % (SLOTS + 1)]!;
      // Slot last - SLOTS + k leaves the counted range when slot last + 1 + k begins.
      if (freed >= need) return Math.max(1, Math.ceil((ring.last + 1 + k) * this.#slotMs - now));
    }
    // Unreachable with limit >= 1 (the whole ring frees up by then).
    return Math.max(1, Math.ceil((ring.last + 1 + SLOTS) * this.#slotMs - now));
  }

  /** Once a window: drops the rings of keys with no request in the last window. */
  #sweep(slot: number, now: number): void {
    this.#sweepAt = now + this.#slotMs * (SLOTS + 1);
    for (const [key, ring] of this.#rings) if (slot - ring.last > SLOTS) this.#rings.delete(key);
  }
}
