import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import file from '../src/providers/file.js';
import { isAlive } from '../src/fsutil.js';
import { build, tempDir } from './helpers/tmp.js';
import { assertBuilt, startWriter, type Finished } from './helpers/writer-process.js';

/**
 * A writer SIGKILLed at random points inside `set`, round after round, on one store. After every
 * round each secret must decrypt to the value of its last acknowledged write, or to the one write
 * that was in flight when the kill landed (its rename may have happened), with a version that
 * counts exactly the writes that reached the disk. Every few rounds a fresh writer must get through
 * whatever lock the dead ones left, and `list` must sweep their temporary files.
 */

const ROUNDS = 200;
const CHECK_EVERY = 25;
const NAMES = ['S0', 'S1', 'S2', 'S3', 'S4'];
const seed = Number(process.env.CRASH_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: reproducible kill delays; a failure prints the seed (rerun with CRASH_SEED). */
function random(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

interface Known {
  value: string | undefined;
  version: number;
}

it(`file store: ${ROUNDS} writers SIGKILLed mid-set leave every secret readable and acknowledged`, async () => {
  assertBuilt();
  const home = join(tempDir('mcpw-crash-'), 'h');
  const secrets = join(home, 'secrets');
  const { provider, warnings } = build(file, {}, { name: 'local', home });
  const rand = random(seed);
  const known = new Map<string, Known>(NAMES.map((n) => [n, { value: undefined, version: 0 }]));
  const stats = { acks: 0, inFlightLanded: 0, sweeps: 0 };
  const slowest = { crashRound: 0, freshWriter: 0 };
  const started = performance.now();
  const where = (round: number) => `round ${round}, seed ${seed}`;

  /** Checks the store against what the writer printed, then records what is now on disk. */
  async function verify(run: Finished, round: number): Promise<void> {
    const acked = new Map<string, { value: string; count: number }>();
    let pending: { name: string; value: string } | undefined;
    for (const line of run.lines) {
      if (line.kind === 'try') {
        expect(pending, `${where(round)}: a try while another is open`).toBeUndefined();
        pending = { name: line.name, value: line.value };
        continue;
      }
      expect(pending, `${where(round)}: an ack without its try`).toEqual({
        name: line.name,
        value: line.value,
      });
      pending = undefined;
      const a = acked.get(line.name) ?? { value: '', count: 0 };
      a.value = line.value;
      a.count++;
      acked.set(line.name, a);
      stats.acks++;
      // The version read-modify-write saw every write that reached the disk before it.
      expect(line.version, `${where(round)}: version of ${line.name}`).toBe(
        known.get(line.name)!.version + a.count,
      );
    }
    for (const name of NAMES) {
      const before = known.get(name)!;
      const a = acked.get(name);
      const settled: Known = { value: a ? a.value : before.value, version: before.version + (a?.count ?? 0) };
      const allowed = [settled];
      if (pending?.name === name) allowed.push({ value: pending.value, version: settled.version + 1 });
      // get throws SECRET_CORRUPT on a torn or half-written file; inspect reads the same file.
      const now: Known = {
        value: await provider.get(name),
        version: (await provider.inspect!(name))?.version ?? 0,
      };
      expect(allowed, `${where(round)}: ${name} holds an unacknowledged value`).toContainEqual(now);
      if (now.version > settled.version) stats.inFlightLanded++;
      known.set(name, now);
    }
  }

  /**
   * What a killed writer leaves: temporary files, and a lock naming its dead pid. Never an empty
   * lock (locks are published whole with link(2)), which the next writer could only break after
   * it aged a second.
   */
  const seen = { temp: new Set<string>(), locks: new Set<string>(), guards: new Set<string>() };
  function lookAtLeftovers(round: number): void {
    let entries: string[];
    try {
      entries = readdirSync(secrets);
    } catch {
      return; // killed before the secrets directory existed
    }
    for (const e of entries) {
      if (e.startsWith('.tmp.')) seen.temp.add(e);
      else if (/^\.S\d\.lock(\.break)?$/.test(e)) {
        const owner = readFileSync(join(secrets, e), 'utf8');
        expect(owner, `${where(round)}: ${e} names no pid`).toMatch(/^[1-9]\d*$/);
        expect(isAlive(Number(owner)), `${where(round)}: ${e} names a live process`).toBe(false);
        (e.endsWith('.break') ? seen.guards : seen.locks).add(`${e} ${owner}`);
      } else expect(e, `${where(round)}: unexpected file`).toMatch(/^S\d\.json$/);
    }
  }

  /** A fresh writer that is left alone must get through the dead writers' locks and finish. */
  async function freshWriter(round: number): Promise<void> {
    const plan = [...NAMES, ...NAMES];
    const run = await startWriter([home, `fresh${round}`, `--plan=${plan.join(',')}`], { timeoutMs: 5_000 })
      .done;
    expect(run.stderr, `${where(round)}: fresh writer stderr`).toBe('');
    expect({ code: run.code, timedOut: run.timedOut }, `${where(round)}: fresh writer`).toEqual({
      code: 0,
      timedOut: false,
    });
    expect(run.lines.filter((l) => l.kind === 'ack')).toHaveLength(plan.length);
    slowest.freshWriter = Math.max(slowest.freshWriter, run.ms);
    await verify(run, round);
  }

  /** `list` sweeps the temporary files of dead writers and lists exactly the secrets. */
  async function sweep(round: number): Promise<void> {
    const metas = await provider.list!();
    stats.sweeps++;
    expect(
      metas.map((m) => ({ name: m.name, version: m.version })),
      where(round),
    ).toEqual(
      NAMES.filter((n) => known.get(n)!.version > 0).map((n) => ({
        name: n,
        version: known.get(n)!.version,
      })),
    );
    const left = readdirSync(secrets).filter((e) => e.startsWith('.tmp.'));
    expect(left, `${where(round)}: temporary files after list`).toEqual([]);
  }

  for (let round = 1; round <= ROUNDS; round++) {
    const killAfter = 5 + Math.floor(rand() * 56);
    const run = await startWriter([home, `r${round}`], { killAfterFirstLineMs: killAfter, timeoutMs: 10_000 })
      .done;
    // Killed by us, not dead of an error of its own; and it got as far as its first try.
    expect(
      { signal: run.signal, stderr: run.stderr, timedOut: run.timedOut },
      `${where(round)}: the writer should die by our SIGKILL`,
    ).toEqual({ signal: 'SIGKILL', stderr: '', timedOut: false });
    expect(run.lines[0]?.kind, where(round)).toBe('try');
    slowest.crashRound = Math.max(slowest.crashRound, run.ms);
    lookAtLeftovers(round);
    await verify(run, round);
    if (round % CHECK_EVERY === 0) {
      await freshWriter(round);
      await sweep(round);
    }
  }

  expect(warnings, 'list warned about a corrupt secret').toEqual([]);
  // The run exercised what it claims to: kills inside set that left temporary files behind and
  // writes whose rename landed just before the kill, among many acknowledged writes.
  expect(stats.acks).toBeGreaterThan(ROUNDS);
  expect(seen.temp.size).toBeGreaterThan(0);
  expect(seen.locks.size).toBeGreaterThan(0);
  expect(stats.inFlightLanded).toBeGreaterThan(0);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    `file-crash: seed ${seed}, ${ROUNDS} rounds in ${seconds} s, ${JSON.stringify(stats)}, ` +
      `left behind: ${seen.temp.size} temp files, ${seen.locks.size} dead locks, ${seen.guards.size} break guards; slowest ` +
      `crash round ${slowest.crashRound.toFixed(0)} ms, slowest fresh writer ${slowest.freshWriter.toFixed(0)} ms\n`,
  );
}, 110_000);
