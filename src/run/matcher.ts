/**
 * Many byte patterns searched in one pass: Aho–Corasick compiled to a dense automaton. The scan
 * costs one table lookup per byte whatever the number of patterns (50 secrets in ~8 spellings
 * each are ~400 patterns, where a per-pattern `indexOf` would read the output 400 times).
 *
 * Bytes that occur in no pattern share one column (class 0, always back to the start), so the
 * table has `states x (distinct pattern bytes + 1)` entries: for 50 secrets ~20,000 x 80, 7 MB,
 * built in ~20 ms (a few secrets: ~1 ms). An entry holds the next state's row offset,
 * bitwise-negated when that state ends a pattern, so the hot loop tests a sign instead of
 * reading a second table. (A table filled lazily, row by row as a scan first needs it, was
 * measured too: no faster to build, because of the trie lookups, and a fifth slower to scan.)
 */
export interface Pattern {
  bytes: Uint8Array;
  /** Reported with each match; for duplicate byte strings the first pattern's label wins. */
  label: number;
}

export class Matcher {
  /** Length of the longest pattern. */
  readonly maxLength: number;
  /** Byte to column. UTF-8 from JavaScript strings never has 0xC0, 0xC1 or 0xF5-0xFF: < 256 columns. */
  private readonly classOf = new Uint8Array(256);
  private readonly width: number;
  private readonly delta: Int32Array;
  private readonly liveDepth: Int32Array;
  private readonly outLength: Int32Array;
  private readonly outLabel: Int32Array;

  constructor(patterns: readonly Pattern[]) {
    let width = 1;
    let size = 1;
    let maxLength = 0;
    for (const p of patterns) {
      size += p.bytes.length;
      maxLength = Math.max(maxLength, p.bytes.length);
      for (let i = 0; i < p.bytes.length; i++) {
        const b = p.bytes[i]!;
        if (this.classOf[b] !== 0) continue;
        if (width === 256) throw new RangeError('the patterns use more than 255 distinct byte values');
        this.classOf[b] = width++;
      }
    }
    this.width = width;
    this.maxLength = maxLength;
    const delta = new Int32Array(size * width);
    const depth = new Int32Array(size);
    const outLength = new Int32Array(size);
    const outLabel = new Int32Array(size);
    const fail = new Int32Array(size);
    const liveDepth = new Int32Array(size);
    // Each state's children as a list (the root is never a child, so 0 ends a list).
    const firstChild = new Int32Array(size);
    const nextSibling = new Int32Array(size);
    const edge = new Uint16Array(size);

    // The trie, one level at a time, so states are numbered breadth first: the shallow states,
    // where a scan of ordinary text spends its time, get the first rows of the table and stay
    // in cache. While the trie is built, delta holds child state ids (0 = none).
    let states = 1;
    const at = new Int32Array(patterns.length);
    for (let d = 0; d < maxLength; d++) {
      for (let i = 0; i < patterns.length; i++) {
        const { bytes, label } = patterns[i]!;
        if (bytes.length <= d) continue;
        const s = at[i]!;
        const c = this.classOf[bytes[d]!]!;
        let t = delta[s * width + c]!;
        if (t === 0) {
          t = states++;
          delta[s * width + c] = t;
          depth[t] = d + 1;
          edge[t] = c;
          nextSibling[t] = firstChild[s]!;
          firstChild[s] = t;
        }
        at[i] = t;
        if (bytes.length === d + 1 && outLength[t] === 0) {
          outLength[t] = bytes.length;
          outLabel[t] = label;
        }
      }
    }

    // Then the automaton, in the same order, each entry final as it is written: the next
    // state's row offset, negated (~) when that state ends a pattern. A state's failure state is
    // shallower, so its row is complete when the state's row starts as a copy of it; the
    // state's own children then replace their entries. A state that ends no pattern reports
    // the longest pattern ending at its failure state (a suffix of its own string); liveDepth
    // is the longest suffix of its string that some pattern continues.
    const enter = (t: number, f: number) => {
      fail[t] = f;
      if (outLength[t] === 0) {
        outLength[t] = outLength[f]!;
        outLabel[t] = outLabel[f]!;
      }
      liveDepth[t] = firstChild[t] !== 0 ? depth[t]! : liveDepth[f]!;
      return outLength[t] !== 0 ? ~(t * width) : t * width;
    };
    for (let t = firstChild[0]!; t !== 0; t = nextSibling[t]!) delta[edge[t]!] = enter(t, 0);
    for (let s = 1; s < states; s++) {
      const base = s * width;
      const fbase = fail[s]! * width;
      delta.copyWithin(base, fbase, fbase + width);
      for (let t = firstChild[s]!; t !== 0; t = nextSibling[t]!) {
        const via = delta[base + edge[t]!]!;
        delta[base + edge[t]!] = enter(t, (via < 0 ? ~via : via) / width);
      }
    }

    // Views, not copies: a copy of a table this size costs more than the unused rows.
    this.delta = delta.subarray(0, states * width);
    this.liveDepth = liveDepth;
    this.outLength = outLength;
    this.outLabel = outLabel;
  }

  /**
   * Feeds `buf` to the automaton in `state` (0 at the start of a stream; the answer of the
   * previous call after that) and answers the state after it. Calls `onMatch` for every position
   * where a pattern ends, with the position just past it (an index into `buf`) and the length
   * and label of the longest pattern ending there; shorter ones ending there lie inside it.
   */
  scan(
    state: number,
    buf: Uint8Array,
    onMatch: (end: number, length: number, label: number) => void,
  ): number {
    const { delta, classOf, width } = this;
    let row = state;
    for (let i = 0; i < buf.length; i++) {
      const next = delta[row + classOf[buf[i]!]!]!;
      if (next >= 0) {
        row = next;
      } else {
        row = ~next;
        const s = row / width;
        onMatch(i + 1, this.outLength[s]!, this.outLabel[s]!);
      }
    }
    return row;
  }

  /**
   * How many of the bytes fed last, in `state`, could still be the start of a match: the length
   * of the longest suffix of the input that is a proper prefix of some pattern. Every byte
   * before those is settled, whatever comes next; so is a match that nothing can extend.
   */
  undecided(state: number): number {
    return this.liveDepth[state / this.width]!;
  }
}
