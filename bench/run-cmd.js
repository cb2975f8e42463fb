#!/usr/bin/env node
/**
 * `mcp-warden run` benchmark: `node bench/run-cmd.js` after `npm run build` (`npm run bench`
 * runs it after bench/run.js). Plain ESM, no dependencies beyond the repo's own (dotenvx is a
 * devDependency and serves as the peer). Helpers shared with bench/run.js (timed runs, round-robin
 * rounds, statistics, summary table) are in bench/lib.js.
 *
 * What is measured, and how:
 *  1. Whole-process start-up cost of `run` with 50 secrets: `mcp-warden run -- node -e 0` with
 *     50 `secret://` references in its environment (the secrets in a temp file store), against
 *     `node -e 0` (the floor: the command alone) and `dotenvx run -f .env -- node -e 0` with 50
 *     encrypted keys (the peer; .env.keys in its cwd). `run --no-redact` is timed too, for
 *     context. Every command is spawned with spawnSync and timed with process.hrtime, one at a
 *     time, round-robin (drift on a noisy machine hits all alike): WARMUP rounds discarded, RUNS
 *     timed, medians reported. Before timing, a variant whose child prints a SHA-256 of the 50
 *     variables checks that both tools really hand all 50 decrypted values to the command.
 *  2. Redaction throughput: 100 MB of log-like output (JSON lines, base64 blobs, plain text, a
 *     secret every ~16 KB in one of its forms) through the Redactor with the same 50 secrets,
 *     in 64 KB chunks, in process; the output is checked (every occurrence replaced, nothing
 *     else changed). Then end to end: a child writing the same 100 MB to stdout through
 *     `run` (redacting) and `run --no-redact`, run's stdout on /dev/null.
 *  3. Which modules `run` loads (bench/trace-loads.mjs): none of yaml, zod, the keychain addon,
 *     dotenv (needed only with --env-file) or dotenvx may appear.
 *
 * Every child runs with MCP_WARDEN_HOME set to the temp store, an empty temp dir as cwd and as
 * XDG_CONFIG_HOME (so no config is found), and DBUS_SESSION_BUS_ADDRESS / XDG_RUNTIME_DIR removed
 * (so the default chain has no keychain). Exit status is 1 when a correctness check fails; a
 * missed performance target prints FAIL but exits 0, since timings on a shared machine are noisy.
 */
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CHILDREN_NOTE, CLI, DOTENVX, HEAVY, NODE, ROOT, benchDirs, fileProvider } from './lib.js';
import { runner, interleave, traceLoads, finish } from './lib.js';
import { log, check, failures, rows, median, ms, spread, cpu } from './lib.js';

const WARMUP = 5,
  RUNS = 30,
  COUNT = 50,
  MB = 100,
  CHUNK = 64 << 10;

const { tmp, dir, cwd, baseEnv } = benchDirs('mcp-warden-bench-run-');
const run = runner({ cwd, env: baseEnv, stdin: 'ignore', stderrChars: 300 });

/** The 50 secrets: names and values (URL-safe, base64-ish, a JSON-hostile one, a long one). */
function makeSecrets() {
  return Array.from({ length: COUNT }, (_, i) => {
    const name = `BENCH_SECRET_${String(i).padStart(2, '0')}`;
    const kind = i % 5;
    const value =
      kind === 0
        ? `sk-${randomBytes(24).toString('hex')}`
        : kind === 1
          ? randomBytes(30).toString('base64')
          : kind === 2
            ? `ghp_${randomBytes(18).toString('base64url')}`
            : kind === 3
              ? `p@ss"w\\rd-${randomBytes(6).toString('hex')}-é€`
              : `-----BEGIN KEY-----\n${randomBytes(96).toString('base64')}\n-----END KEY-----`;
    return { name, value };
  });
}

/** What a child prints to prove it saw every value: SHA-256 over the 50 values in order. */
const HASH_SCRIPT = `const h=require('crypto').createHash('sha256');for(const n of ${JSON.stringify(
  Array.from({ length: COUNT }, (_, i) => `BENCH_SECRET_${String(i).padStart(2, '0')}`),
)})h.update(String(process.env[n])+'\\n');console.log('hash '+h.digest('hex'))`;

/** ~1 MB of log-like text with secrets in it; answers the text and how many were placed. */
function sample(secrets) {
  const forms = (v) => {
    const b = Buffer.from(v);
    return [
      v,
      JSON.stringify(v).slice(1, -1),
      encodeURIComponent(v),
      b.toString('base64'),
      b.toString('base64url').replace(/=+$/, ''),
    ];
  };
  const lines = [];
  let placed = 0;
  let size = 0;
  let next = 16 << 10;
  let i = 0;
  while (size < 1 << 20) {
    let line;
    switch (i++ % 4) {
      case 0:
        line = JSON.stringify({
          ts: new Date(1e12 + i).toISOString(),
          level: 'info',
          msg: `request ${i} done`,
          ms: i % 97,
        });
        break;
      case 1:
        line = `GET /api/v1/items/${i}?page=${i % 13} 200 ${randomBytes(8).toString('hex')}`;
        break;
      case 2:
        line = `blob ${randomBytes(120).toString('base64')}`;
        break;
      default:
        line = `worker ${i % 7}: processed ${i * 3} records in ${(i % 50) / 10}s, queue depth ${i % 11}`;
    }
    if (size >= next) {
      const s = secrets[placed % secrets.length];
      const f = forms(s.value);
      line = `${line} token=${f[placed % f.length]}`;
      placed++;
      next += 16 << 10;
    }
    lines.push(line);
    size += line.length + 1;
  }
  return { text: Buffer.from(lines.join('\n') + '\n'), placed };
}

async function main() {
  log(`# mcp-warden run bench\n`);
  log(
    `CLI ${CLI.slice(ROOT.length)}; node ${process.version}, ${process.platform}/${process.arch}; temp dir ${tmp}`,
  );
  log(CHILDREN_NOTE);

  const secrets = makeSecrets();
  const home = dir('store');
  const store = await fileProvider(home);
  await Promise.all(secrets.map((s) => store.set(s.name, s.value)));
  const refEnv = { ...baseEnv, MCP_WARDEN_HOME: home };
  for (const s of secrets) refEnv[s.name] = `secret://${s.name}`;
  const want = createHash('sha256');
  for (const s of secrets) want.update(s.value + '\n');
  const wantHash = `hash ${want.digest('hex')}`;

  // dotenvx: a plaintext .env encrypted in one go (`dotenvx encrypt`), .env.keys beside it.
  const dxDir = dir('dotenvx');
  const dxEnv = { ...baseEnv };
  for (const s of secrets) delete dxEnv[s.name];
  const { formatEntry } = await import(pathToFileURL(join(ROOT, 'dist/store/dotenv-edit.js')).href);
  writeFileSync(join(dxDir, '.env'), secrets.map((s) => formatEntry(s.name, s.value)).join('\n') + '\n');
  run({
    label: 'dotenvx encrypt',
    argv: [NODE, DOTENVX, 'encrypt', '-f', '.env'],
    cwd: dxDir,
    env: dxEnv,
    ok: () => true,
  });
  const encrypted = readFileSync(join(dxDir, '.env'), 'utf8');
  check(
    secrets.every((s) => new RegExp(`^${s.name}=['"]?encrypted:`, 'm').test(encrypted)) &&
      !secrets.some((s) => encrypted.includes(s.value)),
    `dotenvx encrypt did not encrypt all ${COUNT} values`,
  );

  // Correctness first: the command must see all 50 values.
  for (const [label, cmd] of [
    ['mcp-warden run', { argv: [NODE, CLI, 'run', '--', NODE, '-e', HASH_SCRIPT], env: refEnv }],
    [
      'mcp-warden run --no-redact',
      { argv: [NODE, CLI, 'run', '--no-redact', '--', NODE, '-e', HASH_SCRIPT], env: refEnv },
    ],
    [
      'dotenvx run',
      { argv: [NODE, DOTENVX, 'run', '-f', '.env', '--', NODE, '-e', HASH_SCRIPT], cwd: dxDir, env: dxEnv },
    ],
  ]) {
    try {
      run({
        label,
        ...cmd,
        ok: (out) => check(out.includes(wantHash), `${label}: the command did not see all ${COUNT} values`),
      });
    } catch (err) {
      failures.push(err.message);
    }
  }

  // The floor for any launcher written for Node: a script that only spawns the command (with
  // piped output, as run does when redacting) and passes its exit code on.
  const spawner = join(tmp, 'spawn-only.mjs');
  writeFileSync(
    spawner,
    `import { spawn } from 'node:child_process';\n` +
      `spawn(process.argv[2], process.argv.slice(3), { stdio: ['inherit', 'pipe', 'pipe'] })` +
      `.on('exit', (code) => { process.exitCode = code; });\n`,
  );
  const cmds = [
    { label: 'node -e 0', argv: [NODE, '-e', '0'], ok: (out) => out === '' },
    { label: 'floor: node spawning it', argv: [NODE, spawner, NODE, '-e', '0'], ok: (out) => out === '' },
    {
      label: `mcp-warden run (${COUNT} refs)`,
      argv: [NODE, CLI, 'run', '--', NODE, '-e', '0'],
      env: refEnv,
      ok: (out, err) => out === '' && err === '',
    },
    {
      label: `dotenvx run (${COUNT} keys)`,
      argv: [NODE, DOTENVX, 'run', '-f', '.env', '--', NODE, '-e', '0'],
      cwd: dxDir,
      env: dxEnv,
      ok: () => true,
    },
    {
      label: 'mcp-warden run --no-redact',
      argv: [NODE, CLI, 'run', '--no-redact', '--', NODE, '-e', '0'],
      env: refEnv,
      ok: (out, err) => out === '' && err === '',
    },
  ];
  log(
    `## 1. whole-process \`run -- node -e 0\` (${WARMUP} warm-up + ${RUNS} timed rounds, round-robin, spawnSync + hrtime)`,
  );
  const times = interleave(run, cmds, WARMUP, RUNS);
  cmds.forEach((c, i) => log(`  ${c.label.padEnd(30)} ${spread(times[i])}${cpu(c)}`));
  const [n, floor, w, d, nr] = times.map(median);
  rows.push([
    `\`run\` ${COUNT} refs, wall`,
    ms(w),
    `\`node -e 0\` ${ms(n)}`,
    `${(w / n).toFixed(2)}x`,
    '<= 2.5x',
    w <= 2.5 * n ? 'PASS' : 'FAIL',
  ]);
  rows.push([
    `\`run\` ${COUNT} refs vs peer`,
    ms(w),
    `\`dotenvx run\` ${ms(d)}`,
    `${(w / d).toFixed(2)}x`,
    '< 1x',
    w < d ? 'PASS' : 'FAIL',
  ]);
  rows.push([
    `\`run --no-redact\` ${COUNT} refs`,
    ms(nr),
    `\`node -e 0\` ${ms(n)}`,
    `${(nr / n).toFixed(2)}x`,
    '(context)',
    '-',
  ]);
  rows.push([
    'floor: a node script spawning `node -e 0`',
    ms(floor),
    `\`node -e 0\` ${ms(n)}`,
    `${(floor / n).toFixed(2)}x`,
    '(context)',
    '-',
  ]);
  rows.push([
    `\`run\` ${COUNT} refs above that floor`,
    `+${ms(w - floor)}`,
    `floor ${ms(floor)}`,
    '-',
    '(context)',
    '-',
  ]);
  if (!Number.isNaN(cmds[0].cpu)) {
    rows.push([
      `\`run\` ${COUNT} refs, CPU (user+sys)`,
      ms(cmds[2].cpu),
      `\`node -e 0\` ${ms(cmds[0].cpu)}`,
      `${(cmds[2].cpu / cmds[0].cpu).toFixed(2)}x`,
      '(context: load-proof)',
      '-',
    ]);
  }

  // --- 2. redaction throughput ---------------------------------------------------------------
  log(
    `\n## 2. redaction throughput, ${COUNT} secrets, ${MB} MB of log-like output in ${CHUNK >> 10} KB chunks`,
  );
  const { SecretSet, Redactor, marker } = await import(
    pathToFileURL(join(ROOT, 'dist/run/redactor.js')).href
  );
  const { text, placed } = sample(secrets);
  const set = new SecretSet(secrets);
  const t0 = performance.now();
  const automaton = set.matcher; // compiled once per command, on its first output
  const compileMs = performance.now() - t0;
  const red = new Redactor(set);
  let outBytes = 0;
  let first;
  const t1 = performance.now();
  for (let i = 0; i < MB; i++) {
    for (let at = 0; at < text.length; at += CHUNK) {
      const out = red.push(text.subarray(at, at + CHUNK));
      outBytes += out.length;
      if (i === 0) (first ??= []).push(Buffer.from(out));
    }
  }
  outBytes += red.end().length;
  const secs = (performance.now() - t1) / 1000;
  const mbps = (MB * text.length) / (1 << 20) / secs;
  const once = Buffer.concat(first).toString();
  const markers = secrets.reduce((k, s) => k + once.split(marker(s.name)).length - 1, 0);
  check(markers >= placed, `redactor: ${markers} markers in the first MB, ${placed} secrets placed`);
  check(!secrets.some((s) => once.includes(s.value)), 'redactor: a raw value survived');
  log(
    `  automaton for ${COUNT} secrets (longest form ${automaton.maxLength} bytes) built in ${ms(compileMs)}; ${placed} secrets per MB found (${markers} markers)`,
  );
  log(
    `  in process: ${mbps.toFixed(0)} MB/s (${((MB * text.length) / (1 << 20)).toFixed(0)} MB in ${secs.toFixed(2)} s, ${(outBytes / (1 << 20)).toFixed(0)} MB out)`,
  );
  rows.push([
    'redaction, in process',
    `${mbps.toFixed(0)} MB/s`,
    `${COUNT} secrets, ~${placed} hits/MB`,
    '-',
    '(context)',
    '-',
  ]);

  const sampleFile = join(tmp, 'sample.log');
  writeFileSync(sampleFile, text);
  const writer = `const fs=require('fs');const b=fs.readFileSync(${JSON.stringify(sampleFile)});for(let i=0;i<${MB};i++)fs.writeSync(1,b)`;
  const devnull = openSync('/dev/null', 'w');
  const e2e = [
    { label: 'node writer alone', argv: [NODE, '-e', writer] },
    { label: 'run (redacting)', argv: [NODE, CLI, 'run', '--', NODE, '-e', writer], env: refEnv },
    {
      label: 'run --no-redact',
      argv: [NODE, CLI, 'run', '--no-redact', '--', NODE, '-e', writer],
      env: refEnv,
    },
  ].map((c) => ({ ...c, stdout: devnull, ok: (_out, err) => err === '' }));
  const e2eT = interleave(run, e2e, 1, 3);
  closeSync(devnull);
  const total = (MB * text.length) / (1 << 20);
  e2e.forEach((c, i) =>
    log(
      `  end to end, ${c.label.padEnd(18)} ${(total / (median(e2eT[i]) / 1000)).toFixed(0)} MB/s (${spread(e2eT[i])})`,
    ),
  );
  rows.push([
    'redaction, end to end',
    `${(total / (median(e2eT[1]) / 1000)).toFixed(0)} MB/s`,
    `--no-redact ${(total / (median(e2eT[2]) / 1000)).toFixed(0)} MB/s`,
    '-',
    '(context)',
    '-',
  ]);

  // --- 3. modules loaded ----------------------------------------------------------------------
  log(`\n## 3. modules \`run\` loads (bench/trace-loads.mjs), ${COUNT} refs, no env file, no config`);
  const { urls, heavy } = traceLoads(
    run,
    join(tmp, 'trace.txt'),
    'traced run',
    ['run', '--', NODE, '-e', '0'],
    refEnv,
  );
  log(`  ${urls.length} modules: ${urls.map((u) => u.replace(/^file:\/\/.*\//, '')).join(' ')}`);
  check(heavy.length === 0, `run loaded ${heavy.join(', ')}`);
  rows.push([
    '`run` heavy modules loaded',
    heavy.join(', ') || 'none',
    `${urls.length} modules total`,
    '-',
    `none of ${HEAVY.join(', ')}`,
    heavy.length === 0 ? 'PASS' : 'FAIL',
  ]);
}

await finish(main, tmp, (err) => err.stack ?? err.message);
