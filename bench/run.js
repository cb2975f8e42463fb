#!/usr/bin/env node
/**
 * mcp-warden benchmark: `npm run bench` (builds dist/ first). Plain ESM, no dependencies beyond
 * the repo's own (dotenvx is a devDependency and serves as the peer). Helpers shared with
 * bench/run-cmd.js (timed runs, round-robin rounds, statistics, summary table) are in bench/lib.js.
 *
 * What is measured, and how:
 *  1. `secret get NAME` as a whole process (`node <package.json bin>`, the shipped bundle;
 *     BENCH_CLI=dist/cli/run.js measures the unbundled tsc output instead), against `node -e 0`
 *     (the floor: Node's own start-up) and `dotenvx get NAME` on an encrypted .env (the peer,
 *     run with the same node binary; it finds .env.keys in its cwd). Each command is
 *     spawned with spawnSync and timed with process.hrtime, one at a time, round-robin across the
 *     three (so drift on a noisy machine hits all alike): WARMUP rounds discarded, RUNS measured,
 *     median reported. Every run's stdout is checked (the value must come back).
 *  2. Library `provider.set` throughput with the provider's durability on (fsync of file and
 *     directory per write): sequential distinct names for SET_SECONDS or SET_MAX sets, then 8
 *     concurrent writers; against a raw loop doing the same atomic write (tmp file, fsync,
 *     rename, fsync dir) with nothing else, the floor the disk allows. Runs before step 3 so the
 *     writeback of 10,000 files does not disturb it.
 *  3. `secret ls --provider local` (table and --json) with 10,000 secrets in the file store,
 *     written through the library's provider.set (16 writers). Median of LS_RUNS runs after one
 *     warm-up each; the output must hold all 10,000 secrets.
 *  4. Which modules `secret get` and `secret ls` load, recorded by bench/trace-loads.mjs
 *     (module.registerHooks); none of yaml, zod, @napi-rs/keyring, dotenv, @dotenvx may appear.
 *
 * Every child runs with MCP_WARDEN_HOME set to a temp store, an empty temp dir as cwd and as
 * XDG_CONFIG_HOME (so no config is found), and DBUS_SESSION_BUS_ADDRESS / XDG_RUNTIME_DIR removed
 * (so the default chain has no keychain). Exit status is 1 when a correctness check fails; a
 * missed performance target prints FAIL but exits 0, since timings on a shared machine are noisy.
 */
import { openSync, closeSync, fsyncSync, readFileSync, renameSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHILDREN_NOTE, CLI, DOTENVX, HEAVY, NODE, ROOT, benchDirs, fileProvider } from './lib.js';
import { runner, interleave, traceLoads, finish } from './lib.js';
import { log, progress, check, rows, median, ms, spread, cpu } from './lib.js';

const WARMUP = 5,
  RUNS = 30,
  LS_RUNS = 5,
  LS_COUNT = 10_000,
  SET_SECONDS = 3,
  SET_MAX = 1000;
const NAME = 'BENCH_API_KEY',
  VALUE = 'sk-bench-0123456789abcdef';

const { tmp, dir, cwd, baseEnv } = benchDirs('mcp-warden-bench-');
const run = runner({ cwd, env: baseEnv });

/** Runs `op(i)` with `width` workers until `seconds` pass or `max` ops start; answers ops/second. */
async function throughput(width, seconds, max, op) {
  let next = 0;
  const t0 = performance.now(),
    deadline = t0 + seconds * 1000;
  const worker = async () => {
    while (next < max && performance.now() < deadline) await op(next++);
  };
  await Promise.all(Array.from({ length: width }, worker));
  return { n: next, perSec: next / ((performance.now() - t0) / 1000) };
}

function fsName(path) {
  const magic = {
    0xef53: 'ext2/3/4',
    0x01021994: 'tmpfs',
    0x794c7630: 'overlayfs',
    0x9123683e: 'btrfs',
    0x58465342: 'xfs',
    0x2fc12fc1: 'zfs',
  };
  const t = statfsSync(path).type;
  return magic[t] ?? `0x${t.toString(16)}`;
}

async function main() {
  log(`# mcp-warden bench\n`);
  log(
    `CLI ${CLI.slice(ROOT.length)}; node ${process.version} (${NODE}), ${process.platform}/${process.arch}; temp dir ${tmp} on ${fsName(tmp)}`,
  );
  log(CHILDREN_NOTE);

  // --- 1. secret get vs node -e 0 vs dotenvx get --------------------------------------------
  const getHome = dir('store-get');
  await (await fileProvider(getHome)).set(NAME, VALUE);
  const getEnv = { ...baseEnv, MCP_WARDEN_HOME: getHome };
  const dxDir = dir('dotenvx');
  run({
    label: 'dotenvx set',
    argv: [NODE, DOTENVX, 'set', NAME, VALUE, '-f', '.env'],
    cwd: dxDir,
    ok: () => true,
  });
  check(
    readFileSync(join(dxDir, '.env'), 'utf8').includes(`${NAME}="encrypted:`),
    'dotenvx set did not encrypt the value',
  );
  const isValue = (out) => out === VALUE + '\n';
  const cmds = [
    { label: 'mcp-warden secret get', argv: [NODE, CLI, 'secret', 'get', NAME], env: getEnv, ok: isValue },
    { label: 'node -e 0', argv: [NODE, '-e', '0'], ok: (out) => out === '' },
    { label: 'dotenvx get', argv: [NODE, DOTENVX, 'get', NAME], cwd: dxDir, ok: isValue },
  ];
  log(
    `## 1. whole-process \`secret get\` (${WARMUP} warm-up + ${RUNS} timed rounds, round-robin, spawnSync + hrtime)`,
  );
  const [getT, nodeT, dxT] = interleave(run, cmds, WARMUP, RUNS);
  cmds.forEach((c, i) => log(`  ${c.label.padEnd(22)} ${spread([getT, nodeT, dxT][i])}${cpu(c)}`));
  const [g, n, d] = [median(getT), median(nodeT), median(dxT)];
  rows.push([
    '`secret get` wall time',
    ms(g),
    `\`node -e 0\` ${ms(n)}`,
    `${(g / n).toFixed(2)}x`,
    '<= 2x',
    g <= 2 * n ? 'PASS' : 'FAIL',
  ]);
  if (!Number.isNaN(cmds[0].cpu)) {
    const [gc, nc] = [cmds[0].cpu, cmds[1].cpu];
    rows.push([
      '`secret get` CPU (user+sys)',
      ms(gc),
      `\`node -e 0\` ${ms(nc)}`,
      `${(gc / nc).toFixed(2)}x`,
      '(context: load-proof)',
      '-',
    ]);
  }
  rows.push([
    '`secret get` vs peer',
    ms(g),
    `\`dotenvx get\` ${ms(d)}`,
    `${(g / d).toFixed(2)}x`,
    '< 1x',
    g < d ? 'PASS' : 'FAIL',
  ]);

  // --- 2. library set throughput (before the 10,000-secret store, so the disk is quiet) -------
  log(
    `\n## 2. library \`provider.set\`, durable (fsync file + dir), distinct names, ${SET_SECONDS} s or ${SET_MAX} sets`,
  );
  const seq = await fileProvider(dir('store-set-seq'));
  await seq.set('WARM', 'x'); // creates the key file; not timed
  const s1 = await throughput(1, SET_SECONDS, SET_MAX, (i) => seq.set(`SEQ_${i}`, `value-${i}`));
  const par = await fileProvider(dir('store-set-par'));
  await par.set('WARM', 'x');
  const s8 = await throughput(8, SET_SECONDS, SET_MAX, (i) => par.set(`PAR_${i}`, `value-${i}`));
  const rawDir = dir('raw-fsync');
  const s0 = await throughput(1, SET_SECONDS, SET_MAX, async (i) => {
    const tmpFile = join(rawDir, `.tmp.${i}`),
      fd = openSync(tmpFile, 'wx', 0o600);
    writeFileSync(fd, `{"value":"${i}"}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmpFile, join(rawDir, `R_${i}.json`));
    const dfd = openSync(rawDir, 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  });
  const rate = (s) => `${s.perSec.toFixed(0)}/s (${s.n} sets)`;
  log(`  mcp-warden, sequential     ${rate(s1)}`);
  log(`  mcp-warden, 8 concurrent   ${rate(s8)}`);
  log(`  raw atomic write + 2 fsync ${rate(s0)}  (floor: same syscalls, no lock, no crypto)`);
  rows.push([
    '`set` sequential, durable',
    `${s1.perSec.toFixed(0)}/s`,
    `raw fsync loop ${s0.perSec.toFixed(0)}/s`,
    `${(s1.perSec / s0.perSec).toFixed(2)}x`,
    '>= 200/s',
    s1.perSec >= 200 ? 'PASS' : 'FAIL',
  ]);
  rows.push([
    '`set` 8 concurrent writers',
    `${s8.perSec.toFixed(0)}/s`,
    `sequential ${s1.perSec.toFixed(0)}/s`,
    `${(s8.perSec / s1.perSec).toFixed(2)}x`,
    '(context)',
    '-',
  ]);

  // --- 3. secret ls with 10,000 secrets -----------------------------------------------------
  log(
    `\n## 3. whole-process \`secret ls --provider local\` with ${LS_COUNT.toLocaleString('en')} secrets (1 warm-up + ${LS_RUNS} timed, round-robin)`,
  );
  const lsHome = dir('store-ls');
  const lsStore = await fileProvider(lsHome);
  const t0 = performance.now();
  await throughput(16, Infinity, LS_COUNT, async (i) => {
    await lsStore.set(`SECRET_${String(i).padStart(5, '0')}`, `value-${i}`);
    if (i % 250 === 0) progress(`  populating: ${i}/${LS_COUNT}`, i % 2000 === 0);
  });
  progress('');
  log(`  populated with provider.set, 16 writers, in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const lsEnv = { ...baseEnv, MCP_WARDEN_HOME: lsHome };
  const lsCmds = [
    {
      label: 'secret ls --provider local',
      argv: [NODE, CLI, 'secret', 'ls', '--provider', 'local'],
      env: lsEnv,
      ok: (out) => out.split('\n').filter(Boolean).length === LS_COUNT + 1,
    },
    {
      label: 'secret ls --provider local --json',
      argv: [NODE, CLI, 'secret', 'ls', '--provider', 'local', '--json'],
      env: lsEnv,
      ok: (out) => {
        const a = JSON.parse(out);
        return a.length === LS_COUNT && a.every((s) => s.provider === 'local' && s.version === 1);
      },
    },
  ];
  const lsT = interleave(run, lsCmds, 1, LS_RUNS);
  lsCmds.forEach((c, i) =>
    log(`  ${c.label.padEnd(34)} ${spread(lsT[i])}${cpu(c)}  (output checked: ${LS_COUNT} secrets)`),
  );
  for (const [i, c] of lsCmds.entries()) {
    const m = median(lsT[i]);
    rows.push([
      `\`${c.label.replace(' --provider local', '')}\`, ${LS_COUNT.toLocaleString('en')} secrets`,
      ms(m),
      `\`node -e 0\` ${ms(n)}`,
      `${(m / n).toFixed(2)}x`,
      '< 500 ms',
      m < 500 ? 'PASS' : 'FAIL',
    ]);
  }

  // --- 4. modules loaded ----------------------------------------------------------------------
  log(
    `\n## 4. modules loaded (bench/trace-loads.mjs: module.registerHooks load hook, default chain, no config)`,
  );
  for (const [label, args, env] of [
    ['secret get', ['secret', 'get', NAME], getEnv],
    ['secret ls', ['secret', 'ls'], lsEnv],
  ]) {
    const t = traceLoads(run, join(tmp, 'trace.txt'), label, args, env);
    log(
      `  ${label}: ${t.total} modules (${t.files} files, ${t.builtins.length} builtins); heavy: ${t.heavy.join(', ') || 'none'}`,
    );
    log(`    dist/: ${t.ours.join(' ')}\n    builtins: ${t.builtins.join(' ')}`);
    check(t.heavy.length === 0, `${label} loaded ${t.heavy.join(', ')}`);
    rows.push([
      `\`${label}\` heavy modules loaded`,
      t.heavy.join(', ') || 'none',
      `${t.total} modules total`,
      '-',
      `none of ${HEAVY.join(', ')}`,
      t.heavy.length === 0 ? 'PASS' : 'FAIL',
    ]);
  }
}

await finish(main, tmp);
