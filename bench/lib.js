/**
 * What bench/run.js and bench/run-cmd.js share: paths, child environment, timed runs, round-robin
 * rounds, statistics, progress, module tracing and the summary table. Plain ESM, Node built-ins
 * only. Each script is its own process, so `rows` and `failures` below are that script's.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const NODE = process.execPath;
// The entry users run: package.json "bin" (the rolldown bundle), or $BENCH_CLI to compare another.
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
export const CLI = join(ROOT, process.env.BENCH_CLI ?? Object.values(PKG.bin ?? {})[0] ?? 'dist/cli/run.js');
export const DOTENVX = join(ROOT, 'node_modules/@dotenvx/dotenvx/src/cli/dotenvx.js');
export const TRACER = join(ROOT, 'bench/trace-loads.mjs');
/** Packages no CLI command may load on its own (checked with the tracer). */
export const HEAVY = ['yaml', 'zod', '@napi-rs/keyring', 'dotenv', '@dotenvx/dotenvx'];
/** The header line that says how children run (see `benchDirs`). */
export const CHILDREN_NOTE =
  'children: cwd and XDG_CONFIG_HOME empty temp dirs (no config), no D-Bus (no keychain), MCP_WARDEN_HOME = temp store\n';

// --- output, checks and statistics -------------------------------------------------------------

export const failures = []; // correctness failures: any of these makes the exit status 1
export const rows = []; // summary rows: [metric, warden, baseline, ratio, target, pass]
export const log = (s = '') => process.stdout.write(s + '\n');
/** A self-overwriting status line on a terminal; in a log, only lines marked `keep`. */
export const progress = (s, keep = false) => {
  if (process.stderr.isTTY) process.stderr.write(`\r${s}\x1b[K`);
  else if (keep && s) process.stderr.write(s + '\n');
};
/** Records `what` as a correctness failure unless `ok`; answers `ok`. */
export const check = (ok, what) => {
  if (!ok) failures.push(what);
  return ok;
};
/** The `p` quantile (0..1) of xs, interpolated between neighbours. */
export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * p;
  return s[Math.floor(i)] + (s[Math.ceil(i)] - s[Math.floor(i)]) * (i % 1);
};
export const median = (xs) => pct(xs, 0.5);
export const ms = (x) => `${x.toFixed(1)} ms`;
export const spread = (xs) =>
  `median ${ms(median(xs))} (p25 ${ms(pct(xs, 0.25))}, p75 ${ms(pct(xs, 0.75))}, n=${xs.length})`;
/** `, CPU x ms/run` for a command `interleave` measured, or nothing where CPU time is unknown. */
export const cpu = (c) => (Number.isNaN(c.cpu) ? '' : `, CPU ${c.cpu.toFixed(1)} ms/run`);

// --- temp dirs and the child environment -------------------------------------------------------

/**
 * A fresh temp dir named `prefix…`, with `dir(name)` making private subdirs of it, an empty `cwd`
 * for children (no ./mcp-warden.yaml), and `baseEnv`: this process's environment with an empty
 * XDG_CONFIG_HOME (no config) and without D-Bus / XDG_RUNTIME_DIR (no keychain), passphrases,
 * dotenvx keys or NODE_OPTIONS.
 */
export function benchDirs(prefix) {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  const dir = (name) => {
    const d = join(tmp, name);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    return d;
  };
  const cwd = dir('cwd');
  const baseEnv = { ...process.env, XDG_CONFIG_HOME: dir('xdg-config') };
  for (const k of [
    'DBUS_SESSION_BUS_ADDRESS',
    'XDG_RUNTIME_DIR',
    'MCP_WARDEN_PASSPHRASE',
    'DOTENV_PRIVATE_KEY',
    'NODE_OPTIONS',
  ])
    delete baseEnv[k];
  return { tmp, dir, cwd, baseEnv };
}

// --- timed runs --------------------------------------------------------------------------------

/**
 * CPU time (user + sys, ms) of this process's waited-for children, from /proc/self/stat (Linux,
 * 10 ms ticks: summed over many runs it is precise enough, and unlike wall time it barely moves
 * when other jobs load the machine). NaN elsewhere.
 */
export function childCpuMs() {
  try {
    const f = readFileSync('/proc/self/stat', 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[13]) + Number(rest[14])) * 10; // cutime + cstime, USER_HZ = 100
  } catch {
    return NaN;
  }
}

/**
 * Answers `run(cmd)`: spawns `cmd.argv` (in `cmd.cwd ?? cwd`, with `cmd.env ?? env`; stdin as
 * `stdin`, stdout to `cmd.stdout` or a pipe), times it with hrtime and answers the milliseconds;
 * throws unless it exits 0 and `cmd.ok(stdout, stderr)` holds. `stderrChars` of stderr go into the
 * error.
 */
export function runner({ cwd, env, stdin = 'pipe', stderrChars = 200 }) {
  return function run(cmd) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd.argv[0], cmd.argv.slice(1), {
      cwd: cmd.cwd ?? cwd,
      env: cmd.env ?? env,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: [stdin, cmd.stdout ?? 'pipe', 'pipe'],
    });
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0 || !cmd.ok(r.stdout ?? '', r.stderr)) {
      const why =
        r.error?.message ??
        `exit ${r.status}, stderr: ${r.stderr.trim().slice(0, stderrChars)}, stdout: ${(r.stdout ?? '').trim().slice(0, 80)}`;
      throw new Error(`${cmd.label}: wrong result (${why})`);
    }
    return t;
  };
}

/**
 * Round-robin over cmds with `run`: `warmup` rounds discarded, then `runs` rounds timed; answers
 * the times per command and sets each `cmd.cpu` (mean child CPU ms per timed run, NaN off Linux).
 */
export function interleave(run, cmds, warmup, runs) {
  const times = cmds.map(() => []);
  for (const c of cmds) c.cpu = 0;
  for (let i = 0; i < warmup + runs; i++) {
    progress(`  round ${i + 1}/${warmup + runs}${i < warmup ? ' (warm-up)' : ''}`);
    cmds.forEach((c, j) => {
      const c0 = childCpuMs(),
        t = run(c);
      if (i >= warmup) {
        times[j].push(t);
        c.cpu += (childCpuMs() - c0) / runs;
      }
    });
  }
  progress('');
  return times;
}

// --- the library and the CLI's module loads ----------------------------------------------------

/** The built file provider (dist/providers/file.js) on the store in `home`. */
export async function fileProvider(home) {
  const { default: file } = await import(pathToFileURL(join(ROOT, 'dist/providers/file.js')).href);
  return file.create({}, { name: 'local', home, env: {}, warn: (m) => process.stderr.write(`warn: ${m}\n`) });
}

/**
 * Runs the CLI with `args` under bench/trace-loads.mjs, recording to `out`; answers every module
 * URL it loaded (`urls`), their count (`total`), the file ones (`files`), the HEAVY packages among
 * them (`heavy`), our own dist/ modules (`ours`) and the built-ins (`builtins`).
 */
export function traceLoads(run, out, label, args, env) {
  rmSync(out, { force: true });
  run({
    label,
    argv: [NODE, '--import', TRACER, CLI, ...args],
    env: { ...env, TRACE_LOADS_OUT: out },
    ok: () => true,
  });
  const urls = readFileSync(out, 'utf8').split('\n').filter(Boolean);
  const files = urls.filter((u) => u.startsWith('file:'));
  const heavy = HEAVY.filter((p) => files.some((u) => u.includes(`/node_modules/${p}/`)));
  const ours = files.filter((u) => u.includes('/dist/')).map((u) => u.slice(u.indexOf('/dist/') + 6));
  return {
    urls,
    total: urls.length,
    files: files.length,
    heavy,
    ours,
    builtins: urls.filter((u) => u.startsWith('node:')),
  };
}

// --- the end -----------------------------------------------------------------------------------

/**
 * Runs `main`; a throw becomes a failure (its text from `describe`). Then removes `tmp`, prints the
 * summary table of `rows` and the failures, and sets the exit code: 1 on any correctness failure,
 * else 0 (a performance FAIL in the table does not count: timings on a shared machine are noisy).
 */
export async function finish(main, tmp, describe = (err) => err.message) {
  try {
    await main();
  } catch (err) {
    failures.push(describe(err));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (rows.length > 0) {
    log(`\n## Summary (medians; performance FAIL does not fail the run, this machine is noisy)\n`);
    log('| metric | mcp-warden | peer/baseline | ratio | target | pass |');
    log('|---|---|---|---|---|---|');
    for (const r of rows) log(`| ${r.join(' | ')} |`);
  }
  if (failures.length > 0) {
    log(`\ncorrectness checks FAILED:`);
    for (const f of failures) log(`  - ${f}`);
  }
  process.exitCode = failures.length > 0 ? 1 : 0;
}
