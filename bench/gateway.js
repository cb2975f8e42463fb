#!/usr/bin/env node
/**
 * Gateway benchmark: `node bench/gateway.js [--json [FILE]]` (last step of `npm run bench`, which
 * builds dist/ first). Plain ESM; the peers are devDependencies. The load generator is in
 * bench/load.js, the fronts' processes in bench/procs.js, the shared helpers in bench/lib.js.
 * BENCH_GATEWAY_SECONDS (5) and BENCH_GATEWAY_WARMUP (1) set the run lengths, BENCH_GATEWAY_ROUNDS (3)
 * how many interleaved rounds of every front are run (figures are medians over them),
 * BENCH_GATEWAY_PAIRS (3) over how many fresh pairs of processes the two stage fronts are measured.
 *
 * The fronts, each a child process on a free 127.0.0.1 port, each fronting the same stdio server
 * (bench/echo-server.mjs: the SDK's McpServer with one `echo` tool), each over Streamable HTTP at
 * /mcp with a session per client (protocol 2025-06-18):
 *  - mcp-warden gateway: `mcp-warden gateway --http --port P --config F`, F naming the echo server
 *    (its tool is found with tools/list: the one whose name ends with "echo"). Without client
 *    authentication every session is its own identity, so it too runs a child per session, started
 *    on first use. Skipped, with a line saying so, while `mcp-warden gateway --help` fails.
 *  - mcp-warden share: the same, with the echo server marked `share: true` (one child for every
 *    identity: for servers that keep no state). That is mcp-proxy's process tree, as the default
 *    is supergateway's; the summary compares each with the better peer and with its twin.
 *  - mcp-proxy: `--server stream` (Streamable HTTP only; sessions are its default, `--stateless`
 *    would drop them). One SDK Server per session, all forwarding through one SDK Client to one
 *    shared child. Its defaults otherwise (event store on).
 *  - supergateway: `--outputTransport streamableHttp --stateful`. Stateful is the mode with
 *    sessions; it spawns one child per session (stateless spawns one per request, which would
 *    measure node start-up, not the gateway). It listens on all interfaces: it has no host flag.
 *  - mcp-warden stages off / stages on: the cost of the security stages, same run, same topology.
 *    "off" is the default config with the two stages that are on by default taken out
 *    (`gateway.safety: false`, `gateway.leakGuard: false`). "on" has every stage: client API keys
 *    (one key per client, made with `mcp-warden keys create`, so each client is its own identity
 *    with its own child, as each anonymous session is in "off"), a rate limit high enough never to
 *    trigger (1,000,000 requests/min and 1,000 concurrent calls per client), the audit to a file
 *    (one hash-chained line per call), the safety policy and the leak guard. Target: "on" serves at
 *    least 85% of the requests per second of "off". These two are measured as a pair, not in the
 *    rounds: both run at once, and the load alternates between them in short slices
 *    (BENCH_GATEWAY_SLICE, 0.5 s; ROUNDS x SECONDS of slices each), so a busy spell of this shared
 *    machine, which can move a front's figure by 10 % between two rounds, falls on both alike;
 *    and over BENCH_GATEWAY_PAIRS fresh pairs of processes, the slices shared among them, because
 *    one process of a front can run 5 % faster or slower than another of the same config for its
 *    whole life. Their req/s is calls over the time of their own slices.
 *  - raw forwarder (bench/raw-front.mjs): a reference, not a peer: HTTP/1.1 by hand on node:net to
 *    one shared child, with no checks at all; what the hops themselves cost on this machine.
 *  - the floor: the echo server on a stdio pipe, no HTTP, no front.
 *
 * For each: C clients (1, then 16), each with its own keep-alive connection (raw HTTP/1.1 on a
 * socket: see load.js for why not node:http) and its own session (initialize,
 * notifications/initialized, mcp-session-id, tools/list), call the echo tool in a loop, one call
 * in flight each, a text no other call uses; every answer must carry the request's id and the
 * same text. WARMUP seconds discarded (every client calls at least once, so lazily started
 * upstreams are up), then SECONDS measured: requests per
 * second, p50 and p99 latency, failed or wrong answers, and the front's CPU per call (utime+stime
 * of its process tree from /proc, less noisy than wall time on a shared machine). Then, on a fresh
 * process of each front, RSS of its process tree (VmRSS summed over /proc, and PSS, which does not
 * count shared pages once per process) before and after opening IDLE idle sessions (initialize and
 * notifications/initialized only: a front that starts its upstream on first use has none yet).
 *
 * The load generator runs in this process, on the main thread, the fronts in their own. This
 * machine has 2 cores: a front, its echo child and the load generator already compete for them,
 * and a worker thread or a separate process would take the same CPU (the driver is idle while a
 * run lasts), add a hop to collect the latencies, and change nothing for the comparison: every
 * front gets the same generator, and the floor shows what the generator and the echo server cost
 * on their own. Its own CPU per call is printed so the share it takes is visible.
 *
 * Exit status is 1 on a wrong or failed answer from the gateway or the floor, or a front that
 * does not start; a missed performance target prints FAIL but exits 0 (the machine is noisy).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, NODE, ROOT, benchDirs, check, finish, log, pct, progress, rows } from './lib.js';
import { cpuMs, memory, sleep, start, stop } from './procs.js';
import { PROTOCOL, connection, drive, echoTool, httpSession, stdioServer } from './load.js';

const SECONDS = Number(process.env.BENCH_GATEWAY_SECONDS ?? 5),
  WARMUP = Number(process.env.BENCH_GATEWAY_WARMUP ?? 1),
  ROUNDS = Number(process.env.BENCH_GATEWAY_ROUNDS ?? 3),
  SLICE = Number(process.env.BENCH_GATEWAY_SLICE ?? 0.5),
  PAIRS = Number(process.env.BENCH_GATEWAY_PAIRS ?? 3),
  CLIENTS = [1, 16],
  IDLE = 100;
const ECHO = join(ROOT, 'bench/echo-server.mjs');
const jsonAt = process.argv.indexOf('--json');
const jsonOut =
  jsonAt < 0 ? undefined : process.argv[jsonAt + 1]?.replace(/^--.*/, '') || 'bench-gateway.json';
/** BENCH_GATEWAY_ONLY=mcp-proxy,floor runs those only (while working on the bench). */
const only = process.env.BENCH_GATEWAY_ONLY?.split(',');

const { tmp, cwd, dir, baseEnv } = benchDirs('mcp-warden-bench-gw-');
const env = { ...baseEnv, MCP_WARDEN_HOME: dir('home') };
const gatewayConfig = join(tmp, 'gateway.yaml');
// JSON is YAML: no yaml package needed here.
writeFileSync(gatewayConfig, JSON.stringify({ servers: { echo: { command: NODE, args: [ECHO] } } }) + '\n');
const sharedConfig = join(tmp, 'gateway-shared.yaml');
writeFileSync(
  sharedConfig,
  JSON.stringify({ servers: { echo: { command: NODE, args: [ECHO], share: true } } }) + '\n',
);
const stagesOffConfig = join(tmp, 'gateway-stages-off.yaml');
writeFileSync(
  stagesOffConfig,
  JSON.stringify({
    servers: { echo: { command: NODE, args: [ECHO] } },
    gateway: { safety: false, leakGuard: false },
  }) + '\n',
);
const stagesOnConfig = join(tmp, 'gateway-stages-on.yaml');
writeFileSync(
  stagesOnConfig,
  JSON.stringify({
    servers: { echo: { command: NODE, args: [ECHO] } },
    gateway: {
      auth: { keys: 'default' },
      rateLimit: { rpm: 1_000_000, concurrent: 1000 },
      audit: { file: 'bench-audit.log' },
    },
  }) + '\n',
);
/** One API key per client of the "stages on" front (made when that front is first measured). */
const KEY_COUNT = 16;
let benchKeys;
function keys() {
  if (benchKeys) return benchKeys;
  benchKeys = Array.from({ length: KEY_COUNT }, (_, i) => {
    const r = spawnSync(NODE, [CLI, 'keys', 'create', `bench-${i}`], { cwd, env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`keys create: ${r.stderr.trim()}`);
    return r.stdout.trim();
  });
  return benchKeys;
}
/** The headers of client `i` of `front` (its key, for a front with auth). */
const headersFor = (front, i) => (front.auth ? { authorization: `Bearer ${keys()[i % KEY_COUNT]}` } : {});

const ourArgv = (config) => (port) => [
  NODE,
  CLI,
  'gateway',
  '--http',
  '--host',
  '127.0.0.1',
  '--port',
  port,
  '--config',
  config,
];

const FRONTS = [
  {
    name: 'mcp-warden',
    ours: true,
    topology: 'supergateway',
    mode: 'gateway --http, no auth: a child per session (isolation, the default), on first use',
    argv: ourArgv(gatewayConfig),
    health: '/healthz',
  },
  {
    name: 'mcp-warden share',
    ours: true,
    topology: 'mcp-proxy',
    mode: 'gateway --http, the echo server marked `share: true`: one child for every session',
    argv: ourArgv(sharedConfig),
    health: '/healthz',
  },
  {
    name: 'mcp-warden stages off',
    ours: true,
    stages: 'off',
    mode: 'gateway --http, no auth, safety and leak guard taken out: no stage at all',
    argv: ourArgv(stagesOffConfig),
    health: '/healthz',
  },
  {
    name: 'mcp-warden stages on',
    ours: true,
    stages: 'on',
    auth: true,
    mode: 'gateway --http, every stage: API keys (one per client), rate limit, audit file, safety, leak guard',
    argv: ourArgv(stagesOnConfig),
    health: '/healthz',
  },
  {
    name: 'raw forwarder',
    reference: true,
    mode: 'bench/raw-front.mjs: hand-written HTTP/1.1 on node:net to one shared child, no checks (a reference, not a peer)',
    argv: (port) => [NODE, join(ROOT, 'bench/raw-front.mjs'), port, NODE, ECHO],
  },
  {
    name: 'mcp-proxy',
    mode: '--server stream, stateful (default), one shared child',
    argv: (port) => [
      NODE,
      join(ROOT, 'node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs'),
      ...['--host', '127.0.0.1', '--port', port, '--server', 'stream', '--', NODE, ECHO],
    ],
  },
  {
    name: 'supergateway',
    mode: 'streamableHttp --stateful, a child per session',
    argv: (port) => [
      NODE,
      join(ROOT, 'node_modules/supergateway/dist/index.js'),
      ...['--stdio', `'${NODE}' '${ECHO}'`, '--outputTransport', 'streamableHttp', '--stateful'],
      ...['--port', port, '--logLevel', 'none', '--healthEndpoint', '/healthz'],
    ],
    health: '/healthz',
  },
];

// --- measurements --------------------------------------------------------------------------------

/** `n` HTTP sessions, each on its own keep-alive connection (with client i's key, if any). */
async function openSessions(front, port, n) {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const conn = connection(port);
      const s = await httpSession(conn, headersFor(front, i));
      return { ...s, close: () => s.close().finally(conn.close) };
    }),
  );
}

/** Warm-up, then the measured run, at each of CLIENTS; `open(n)` makes the sessions, `root` is the front's pid. */
async function load(label, open, root) {
  const out = {};
  for (const c of CLIENTS) {
    progress(`  ${label}: ${c} client(s), opening sessions`, true);
    const sessions = await open(c);
    // Every client lists the tools first, as a real one does; all must find the same echo tool.
    const tools = await Promise.all(sessions.map(echoTool));
    const tool = tools[0];
    if (tools.some((t) => t !== tool)) throw new Error(`${label}: sessions see different tools: ${tools}`);
    progress(`  ${label}: ${c} client(s), ${WARMUP} s warm-up + ${SECONDS} s (tool ${tool})`, true);
    await drive(sessions, tool, WARMUP);
    const cpu0 = cpuMs(root),
      own0 = process.cpuUsage();
    const r = await drive(sessions, tool, SECONDS);
    const own = process.cpuUsage(own0),
      front = cpuMs(root, cpu0);
    await Promise.all(sessions.map((s) => s.close()));
    await sleep(200); // let the fronts stop the closed sessions' children before the next run
    out[c] = {
      perSec: r.perSec,
      p50: pct(r.lat, 0.5),
      p99: pct(r.lat, 0.99),
      ok: r.ok,
      failed: r.failed,
      wrong: r.wrong,
      errors: r.errors,
      frontCpuUs: (front.ms * 1000) / Math.max(r.ok, 1),
      benchCpuUs: (own.user + own.system) / Math.max(r.ok, 1),
    };
    for (const e of r.errors) log(`    ${label}, ${c} client(s): ${e}`);
  }
  return out;
}

/** RSS of a fresh `front` before and after IDLE sessions (opened over 8 connections, then left idle). */
async function idle(front) {
  const p = await start(front, { cwd, env });
  try {
    await sleep(300);
    const before = memory(p.pid);
    progress(`  ${front.name}: opening ${IDLE} idle sessions`, true);
    const conns = Array.from({ length: 8 }, () => connection(p.port));
    let opened = 0;
    await Promise.all(
      conns.map(async (conn) => {
        while (opened < IDLE) {
          await httpSession(conn, headersFor(front, opened++));
        }
      }),
    );
    await sleep(1000);
    const after = memory(p.pid);
    for (const c of conns) c.close();
    return { sessions: opened, before, after };
  } finally {
    await stop(p);
  }
}

/** One front: the load runs on one process, the idle sessions on a fresh one. */
/** One round of one front: its process started, the load at each client count, stopped. */
async function measureRound(front, round) {
  log(`\n## ${front.name}, round ${round + 1}/${ROUNDS} (${front.mode})`);
  const p = await start(front, { cwd, env });
  try {
    return await load(front.name, (n) => openSessions(front, p.port, n), p.pid);
  } finally {
    await stop(p);
  }
}

/**
 * The two stage fronts together, over PAIRS fresh pairs of processes: each pair is started (the
 * order switched from pair to pair), its sessions opened and warmed up, then calls alternate
 * between the two in slices of SLICE seconds (ROUNDS x SECONDS of slices each in all, shared
 * among the pairs; the order switched at every slice), and the pair is stopped. Fresh processes
 * because one instance of a front can be 5 % faster or slower than another of the same config
 * for as long as it lives (measured: two "stages off" side by side came out 0.95x to 1.10x of
 * each other, run after run), which slices cannot average out. Answers each front's figures in
 * load()'s shape, plus the per-slice rates and each pair's req/s.
 */
async function measurePair(pair) {
  log(
    `\n## ${pair.map((f) => f.name).join(' / ')}, alternating ${SLICE} s slices, ${PAIRS} fresh pairs of processes`,
  );
  const slices = Math.max(1, Math.round((ROUNDS * SECONDS) / SLICE / PAIRS));
  const totals = pair.map(() =>
    Object.fromEntries(
      CLIENTS.map((c) => [
        c,
        {
          ok: 0,
          failed: 0,
          wrong: 0,
          ms: 0,
          cpuMs: 0,
          own: 0,
          lat: [],
          errors: new Set(),
          rates: [],
          pairs: [],
        },
      ]),
    ),
  );
  for (let n = 0; n < PAIRS; n++) {
    const order = n % 2 === 0 ? [0, 1] : [1, 0];
    const procs = [];
    try {
      for (const i of order) procs[i] = await start(pair[i], { cwd, env });
      for (const c of CLIENTS) {
        progress(`  stages, pair ${n + 1}/${PAIRS}: ${c} client(s), opening sessions`, true);
        const sides = await Promise.all(
          pair.map(async (front, i) => {
            const sessions = await openSessions(front, procs[i].port, c);
            const tools = await Promise.all(sessions.map(echoTool));
            if (tools.some((t) => t !== tools[0]))
              throw new Error(`${front.name}: sessions see different tools`);
            return { sessions, tool: tools[0], ok: 0, ms: 0 };
          }),
        );
        progress(
          `  stages, pair ${n + 1}/${PAIRS}: ${c} client(s), ${WARMUP} s warm-up each + ${slices} slices of ${SLICE} s each`,
          true,
        );
        for (const side of sides) await drive(side.sessions, side.tool, WARMUP);
        for (let k = 0; k < slices; k++) {
          for (const i of k % 2 === 0 ? [0, 1] : [1, 0]) {
            const side = sides[i];
            const total = totals[i][c];
            const cpu0 = cpuMs(procs[i].pid),
              own0 = process.cpuUsage(),
              t0 = performance.now();
            const r = await drive(side.sessions, side.tool, SLICE);
            const ms = performance.now() - t0;
            side.ms += ms;
            side.ok += r.ok;
            total.ms += ms;
            total.cpuMs += cpuMs(procs[i].pid, cpu0).ms;
            const own = process.cpuUsage(own0);
            total.own += own.user + own.system;
            total.ok += r.ok;
            total.failed += r.failed;
            total.wrong += r.wrong;
            total.lat.push(...r.lat);
            for (const e of r.errors) total.errors.add(e);
            total.rates.push(r.perSec);
          }
        }
        sides.forEach((side, i) => totals[i][c].pairs.push(side.ok / (side.ms / 1000)));
        await Promise.all(sides.flatMap((side) => side.sessions.map((s) => s.close())));
        await sleep(200);
      }
    } finally {
      for (const p of procs) if (p) await stop(p);
    }
  }
  return totals.map((byClients, i) =>
    Object.fromEntries(
      CLIENTS.map((c) => {
        const t = byClients[c];
        for (const e of t.errors) log(`    ${pair[i].name}, ${c} client(s): ${e}`);
        return [
          c,
          {
            perSec: t.ok / (t.ms / 1000),
            p50: pct(t.lat, 0.5),
            p99: pct(t.lat, 0.99),
            ok: t.ok,
            failed: t.failed,
            wrong: t.wrong,
            errors: [...t.errors],
            frontCpuUs: (t.cpuMs * 1000) / Math.max(t.ok, 1),
            benchCpuUs: t.own / Math.max(t.ok, 1),
            slices: t.rates,
            pairs: t.pairs,
          },
        ];
      }),
    ),
  );
}

const median = (xs) => {
  const v = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[(v.length - 1) >> 1];
};

/** The rounds of one front as one result: medians of each figure, failures summed. */
function combine(rounds) {
  const out = {};
  for (const c of CLIENTS) {
    const rs = rounds.map((r) => r[c]);
    out[c] = {
      perSec: median(rs.map((r) => r.perSec)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      ok: rs.reduce((a, r) => a + r.ok, 0),
      failed: rs.reduce((a, r) => a + r.failed, 0),
      wrong: rs.reduce((a, r) => a + r.wrong, 0),
      errors: rs.flatMap((r) => [...r.errors]),
      frontCpuUs: median(rs.map((r) => r.frontCpuUs)),
      benchCpuUs: median(rs.map((r) => r.benchCpuUs)),
      rounds: rs.map((r) => ({ perSec: r.perSec, p50: r.p50 })),
    };
  }
  return out;
}

async function measureFloor() {
  log('\n## floor (the echo server on a stdio pipe, no front)');
  const server = await stdioServer([NODE, ECHO]);
  try {
    // Its "front CPU" is the echo server's alone; a front's includes its echo child(ren).
    const sessions = (n) => Promise.all(Array.from({ length: n }, server.session));
    const runs = await load('floor', sessions, server.pid);
    return { name: 'floor (stdio)', mode: 'JSON-RPC lines on a pipe', floor: true, runs };
  } finally {
    await server.stop();
  }
}

// --- report --------------------------------------------------------------------------------------

const f0 = (x) => (x === undefined ? '-' : x.toFixed(0));
const f2 = (x) => (x === undefined ? '-' : x.toFixed(2));
const mb = (m) => `${m.rssMb.toFixed(0)} MB (PSS ${m.pssMb.toFixed(0)}), ${m.procs} proc`;

function report(results, skipped) {
  const [lo, hi] = CLIENTS;
  log(
    `\n## Results (medians of ${ROUNDS} interleaved rounds of ${SECONDS} s after ${WARMUP} s warm-up; latency in ms)\n`,
  );
  log(
    `| front | ${lo} client req/s | p50 | p99 | ${hi} clients req/s | p50 | p99 | failed/wrong | front CPU µs/call @${hi} | RSS idle, then with ${IDLE} idle sessions |`,
  );
  log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const a = r.runs[lo],
      b = r.runs[hi];
    const bad = a.failed + b.failed + a.wrong + b.wrong;
    const mem = r.idle ? `${mb(r.idle.before)} → ${mb(r.idle.after)}` : '-';
    log(
      `| ${r.name} | ${f0(a.perSec)} | ${f2(a.p50)} | ${f2(a.p99)} | ${f0(b.perSec)} | ${f2(b.p50)} | ${f2(b.p99)} | ${bad} | ${f0(b.frontCpuUs)} | ${mem} |`,
    );
  }
  if (skipped) log(`| mcp-warden | skipped: ${skipped} |`);
  const bench = results.map((r) => `${r.name} ${f0(r.runs[hi].benchCpuUs)}`).join(', ');
  log(`\nload generator CPU µs/call @${hi}: ${bench}`);

  // The security stages' cost: every stage on against none, the same topology, measured as a pair.
  const off = results.find((r) => r.stages === 'off');
  const on = results.find((r) => r.stages === 'on');
  if (off && on) {
    log(
      `\nstages off / on: measured together in alternating ${SLICE} s slices (${on.runs[hi].slices.length} each per client count, over ${on.runs[hi].pairs.length} fresh pairs of processes), not in the rounds; req/s over their own slices`,
    );
    for (const c of CLIENTS) {
      const ratio = on.runs[c].perSec / off.runs[c].perSec;
      rows.push([
        `stages on vs off: req/s, ${c} client${c > 1 ? 's' : ''}`,
        f0(on.runs[c].perSec),
        `${f0(off.runs[c].perSec)} (stages off)`,
        `${ratio.toFixed(2)}x`,
        '>= 0.85x',
        ratio >= 0.85 ? 'PASS' : 'FAIL',
      ]);
      // Each on slice against the off slice next to it: how much the machine moved the ratio.
      const perSlice = on.runs[c].slices.map((r, i) => r / off.runs[c].slices[i]).sort((a, b) => a - b);
      const q = (p) => perSlice[Math.min(perSlice.length - 1, Math.floor(p * perSlice.length))].toFixed(2);
      log(
        `stages on/off per slice pair, ${c} client(s): median ${q(0.5)}, quartiles ${q(0.25)} to ${q(0.75)}, ${perSlice.length} pairs`,
      );
      const perPair = on.runs[c].pairs.map((r, i) => (r / off.runs[c].pairs[i]).toFixed(2));
      log(`stages on/off per pair of processes, ${c} client(s): ${perPair.join(', ')}`);
    }
    rows.push([
      `stages on vs off: front CPU µs/call @${hi}`,
      f0(on.runs[hi].frontCpuUs),
      `${f0(off.runs[hi].frontCpuUs)} (stages off)`,
      `+${f0(on.runs[hi].frontCpuUs - off.runs[hi].frontCpuUs)} µs`,
      '(report)',
      '-',
    ]);
  }

  const peers = results.filter((r) => !r.ours && !r.floor && !r.reference);
  const oursAll = results.filter((r) => r.ours && !r.stages);
  const best = (pick) => peers.reduce((a, r) => (a === undefined || pick(r, a) ? r : a), undefined);
  const fast = best((r, a) => r.runs[hi].perSec > a.runs[hi].perSec);
  const quick = best((r, a) => r.runs[lo].p50 < a.runs[lo].p50);
  const small = best((r, a) => r.idle.after.rssMb < a.idle.after.rssMb);
  if (fast === undefined) return;
  const row = (metric, ourValue, peer, peerValue, fmt, target, pass) => {
    const ratio = ourValue === undefined ? '-' : `${(ourValue / peerValue).toFixed(2)}x`;
    rows.push([
      metric,
      ourValue === undefined ? 'skipped' : fmt(ourValue),
      `${fmt(peerValue)} (${peer.name})`,
      ratio,
      target,
      ourValue === undefined || pass === undefined ? '-' : pass(ourValue / peerValue) ? 'PASS' : 'FAIL',
    ]);
  };
  const bad = (r) => Object.values(r.runs).reduce((s, x) => s + x.failed + x.wrong, 0);
  for (const ours of oursAll.length > 0 ? oursAll : [undefined]) {
    const who = ours ? `${ours.name}: ` : '';
    row(
      `${who}req/s, ${hi} clients`,
      ours?.runs[hi].perSec,
      fast,
      fast.runs[hi].perSec,
      f0,
      '>= 2x',
      (x) => x >= 2,
    );
    row(
      `${who}p50 latency ms, ${lo} client`,
      ours?.runs[lo].p50,
      quick,
      quick.runs[lo].p50,
      f2,
      '<= 0.5x',
      (x) => x <= 0.5,
    );
    // The same shape of process tree: a child per session (supergateway), or one shared child
    // (mcp-proxy).
    const twin = ours && peers.find((p) => p.name === FRONTS.find((f) => f.name === ours.name)?.topology);
    if (twin)
      row(
        `${who}req/s, ${hi} clients, same topology`,
        ours.runs[hi].perSec,
        twin,
        twin.runs[hi].perSec,
        f0,
        '(report)',
      );
    row(
      `${who}RSS MB, ${IDLE} idle sessions`,
      ours?.idle.after.rssMb,
      small,
      small.idle.after.rssMb,
      f0,
      '(report)',
    );
    rows.push([
      `${who}failed or wrong answers`,
      ours ? String(bad(ours)) : 'skipped',
      peers.map((p) => `${p.name} ${bad(p)}`).join(', '),
      '-',
      '0',
      ours ? (bad(ours) === 0 ? 'PASS' : 'FAIL') : '-',
    ]);
  }
}

async function main() {
  log('# mcp-warden gateway bench\n');
  log(
    `node ${process.version}, ${process.platform}/${process.arch}, protocol ${PROTOCOL}; echo server ${ECHO.slice(ROOT.length)}`,
  );
  const results = [];
  let skipped;
  const fronts = [];
  for (const front of FRONTS) {
    if (only && !only.includes(front.name)) continue;
    if (front.ours) {
      const help = spawnSync(NODE, [CLI, 'gateway', '--help'], { cwd, env, encoding: 'utf8' });
      if (help.status !== 0) {
        skipped = `\`mcp-warden gateway --help\` failed (exit ${help.status}: ${(help.stderr || help.stdout).trim().split('\n')[0]})`;
        log(`\n## mcp-warden: SKIPPED, ${skipped}; measuring the peers and the floor only`);
        continue;
      }
    }
    fronts.push({ front, rounds: [], failed: false });
  }
  // The stage fronts are measured together (measurePair), the others in rounds.
  const pair = ['off', 'on'].map((st) => fronts.find((f) => f.front.stages === st)).filter(Boolean);
  for (const f of pair) fronts.splice(fronts.indexOf(f), 1);
  // Rounds interleave the fronts, so a busy spell of this shared machine falls on all of them
  // rather than on whichever front was running; each figure is the median over the rounds.
  for (let round = 0; round < ROUNDS; round++) {
    for (const f of fronts) {
      if (f.failed) continue;
      try {
        f.rounds.push(await measureRound(f.front, round));
      } catch (err) {
        f.failed = true;
        check(false, `${f.front.name}: ${err.message}`);
      }
    }
  }
  for (const { front, rounds, failed } of fronts) {
    if (failed) continue;
    const runs = combine(rounds);
    const r = {
      name: front.name,
      mode: front.mode,
      ours: front.ours === true,
      stages: front.stages,
      reference: front.reference === true,
      runs,
      idle: front.reference ? undefined : await idle(front),
    };
    results.push(r);
    const bad = Object.values(runs).reduce((sum, x) => sum + x.failed + x.wrong, 0);
    if (front.ours) check(bad === 0, `mcp-warden gateway: ${bad} failed or wrong answers`);
    else if (bad > 0) log(`  note: ${front.name} gave ${bad} failed or wrong answers`);
  }
  if (pair.length === 2) {
    let runs;
    try {
      runs = await measurePair(pair.map((f) => f.front));
    } catch (err) {
      check(false, `stages: ${err.message}`);
    }
    pair.forEach(({ front }, i) => {
      if (!runs) return;
      results.push({ name: front.name, mode: front.mode, ours: true, stages: front.stages, runs: runs[i] });
      const bad = Object.values(runs[i]).reduce((sum, x) => sum + x.failed + x.wrong, 0);
      check(bad === 0, `${front.name}: ${bad} failed or wrong answers`);
    });
  }
  if (!only || only.includes('floor')) {
    const floor = await measureFloor();
    const bad = Object.values(floor.runs).reduce((s, x) => s + x.failed + x.wrong, 0);
    check(
      bad === 0,
      `floor: ${bad} failed or wrong answers (the load generator or the echo server is wrong)`,
    );
    results.push(floor);
  }
  report(results, skipped);
  if (jsonOut) {
    const out = {
      node: process.version,
      protocol: PROTOCOL,
      seconds: SECONDS,
      warmup: WARMUP,
      idle: IDLE,
      skipped,
      results,
    };
    writeFileSync(jsonOut, JSON.stringify(out, null, 2) + '\n');
    log(`\nwrote ${jsonOut}`);
  }
}

await finish(main, tmp);
