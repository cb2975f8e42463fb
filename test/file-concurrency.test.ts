import { spawnSync } from 'node:child_process';
import { readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import file from '../src/providers/file.js';
import { build, tempDir } from './helpers/tmp.js';
import { assertBuilt, startWriter, type Ack } from './helpers/writer-process.js';

/**
 * Eight processes writing at once through the built provider, on a store none of them has seen
 * yet (so they also race to create the key). The per-secret lock must make the version
 * read-modify-write atomic across processes: every write gets its own version, the last one wins.
 */

const PROCESSES = 8;
const WRITES = 50;

/** Starts one writer per plan, waits until all are ready, starts them together; returns all acks. */
async function runTogether(home: string, plans: string[][], writes = WRITES): Promise<Ack[]> {
  const writers = plans.map((plan, p) =>
    startWriter([home, `p${p}`, `--plan=${plan.join(',')}`, '--wait'], { timeoutMs: 60_000 }),
  );
  await Promise.race([
    Promise.all(writers.map((w) => w.ready)),
    // A writer that dies before `ready` (a bad build) would leave the others waiting forever.
    Promise.all(writers.map((w) => w.done)).then(() => {
      throw new Error('a writer exited before it was ready');
    }),
  ]);
  for (const w of writers) w.go();
  const acks: Ack[] = [];
  for (const [p, w] of writers.entries()) {
    const run = await w.done;
    expect({ p, code: run.code, signal: run.signal, stderr: run.stderr, timedOut: run.timedOut }).toEqual({
      p,
      code: 0,
      signal: null,
      stderr: '',
      timedOut: false,
    });
    for (const line of run.lines) if (line.kind === 'ack') acks.push(line);
    expect(acks.length).toBe((p + 1) * writes);
  }
  return acks;
}

/** Versions 1..n each acknowledged once; the file holds the last write; created is the first write's. */
async function checkSecret(home: string, name: string, acks: Ack[]): Promise<void> {
  const { provider } = build(file, {}, { name: 'local', home });
  const mine = acks.filter((a) => a.name === name).sort((a, b) => a.version - b.version);
  expect(
    mine.map((a) => a.version),
    `versions of ${name}`,
  ).toEqual(mine.map((_, i) => i + 1));
  const first = mine[0]!;
  const last = mine[mine.length - 1]!;
  const meta = await provider.inspect!(name);
  expect(meta).toMatchObject({ name, version: mine.length, created: first.updated, updated: last.updated });
  // Every writer kept the created time of the very first write, and it is the earliest time seen.
  expect(new Set(mine.map((a) => a.created))).toEqual(new Set([first.updated]));
  for (const a of mine) expect(a.updated >= first.updated, `${a.value} updated before created`).toBe(true);
  expect(await provider.get(name)).toBe(last.value);
}

/** Every file parses and decrypts (list warns on a corrupt one), and nothing else is left. */
async function checkStore(home: string, names: string[]): Promise<void> {
  const { provider, warnings } = build(file, {}, { name: 'local', home });
  const metas = await provider.list!();
  expect(metas.map((m) => m.name)).toEqual([...names].sort());
  for (const name of names) expect(typeof (await provider.get(name))).toBe('string');
  expect(warnings).toEqual([]);
  expect(readdirSync(join(home, 'secrets')).sort()).toEqual(names.map((n) => `${n}.json`).sort());
  expect(readdirSync(home).sort()).toEqual(['key', 'secrets']);
}

describe(`file store: ${PROCESSES} processes x ${WRITES} writes at once`, () => {
  assertBuilt();

  it('all to one secret: versions 1..400, the last write wins, created is the first', async () => {
    const home = join(tempDir('mcpw-conc-'), 'h');
    const started = performance.now();
    const acks = await runTogether(
      home,
      Array.from({ length: PROCESSES }, () => Array<string>(WRITES).fill('SHARED')),
    );
    const ms = performance.now() - started;
    expect(acks).toHaveLength(PROCESSES * WRITES);
    await checkSecret(home, 'SHARED', acks);
    expect((await build(file, {}, { home }).provider.inspect!('SHARED'))?.version).toBe(400);
    await checkStore(home, ['SHARED']);
    process.stderr.write(`file-concurrency: one secret, ${acks.length} writes in ${ms.toFixed(0)} ms\n`);
  });

  it('to a mix of shared and private secrets: each counts exactly its own writes', async () => {
    const home = join(tempDir('mcpw-conc-'), 'h');
    // Writer p spreads its writes over four secrets everyone writes and one only it writes,
    // in an order that differs per writer.
    const plans = Array.from({ length: PROCESSES }, (_, p) =>
      Array.from({ length: WRITES }, (_, j) => ((j * 3 + p) % 5 === 4 ? `OWN${p}` : `MIX${(j + p) % 4}`)),
    );
    const names = [...new Set(plans.flat())];
    expect(names).toHaveLength(4 + PROCESSES);
    const started = performance.now();
    const acks = await runTogether(home, plans);
    const ms = performance.now() - started;
    for (const name of names) {
      const expected = plans.flat().filter((n) => n === name).length;
      expect((await build(file, {}, { home }).provider.inspect!(name))?.version, name).toBe(expected);
      await checkSecret(home, name, acks);
    }
    await checkStore(home, names);
    process.stderr.write(
      `file-concurrency: ${names.length} secrets, ${acks.length} writes in ${ms.toFixed(0)} ms\n`,
    );
  });

  it('after a crash left a stale lock, writers arriving at once still take turns', async () => {
    // A killed writer leaves its lock behind: one naming its dead pid, or (a kill between creating
    // the lock and writing the pid into it, possible before locks were published by link) an empty
    // one. The waiting writers all find it stale at the same instant; exactly one may take over.
    const trials = 10;
    const writes = 2;
    const deadPid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    }).stdout;
    expect(Number(deadPid)).toBeGreaterThan(0);
    const started = performance.now();
    for (let t = 0; t < trials; t++) {
      const home = join(tempDir('mcpw-conc-'), 'h');
      await build(file, {}, { home }).provider.set!('X', 'before the crash');
      const lock = join(home, 'secrets', '.X.lock');
      writeFileSync(lock, t % 2 === 0 ? deadPid : '', { mode: 0o600 });
      const old = new Date(Date.now() - 5000);
      utimesSync(lock, old, old);
      const acks = await runTogether(
        home,
        Array.from({ length: PROCESSES }, () => Array<string>(writes).fill('X')),
        writes,
      );
      expect(
        acks.map((a) => a.version).sort((a, b) => a - b),
        `trial ${t} (${t % 2 === 0 ? 'dead pid' : 'empty'} lock): every write its own version`,
      ).toEqual(Array.from({ length: PROCESSES * writes }, (_, i) => i + 2));
      await checkStore(home, ['X']);
    }
    process.stderr.write(
      `file-concurrency: ${trials} stale-lock trials in ${(performance.now() - started).toFixed(0)} ms\n`,
    );
  });
});
