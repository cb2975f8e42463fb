/**
 * The processes of bench/gateway.js: a front started on a free 127.0.0.1 port and stopped with
 * whatever it spawned, and the CPU time and memory of its process tree, read from /proc (Linux).
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { setTimeout } from 'node:timers';

export const sleep = (t) => new Promise((r) => setTimeout(r, t));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Fields after the command name of /proc/PID/stat (state is [0], ppid [1]), or undefined. */
function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** `pid` and all its descendants, from the ppid of every process in /proc. */
function tree(pid) {
  const kids = new Map();
  for (const d of readdirSync('/proc')) {
    const ppid = /^\d+$/.test(d) ? Number(stat(d)?.[1]) : NaN;
    if (!Number.isNaN(ppid)) kids.set(ppid, [...(kids.get(ppid) ?? []), Number(d)]);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(kids.get(out[i]) ?? []));
  return out;
}

/**
 * CPU ms (user + system, 10 ms ticks) of the tree of `pid` since `since` (an earlier answer of
 * this, or nothing): answers `{ ms, at }`, `at` being each process's total so far (its own and its
 * reaped children's). Summed per process that is alive now, over its growth since `since`, so a
 * process that ends in between (a session's child being stopped) neither counts nor subtracts.
 */
export function cpuMs(pid, since) {
  const at = new Map();
  let ms = 0;
  for (const p of tree(pid)) {
    const f = stat(p);
    if (f === undefined) continue;
    const total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * 10;
    at.set(p, total);
    ms += total - (since?.at.get(p) ?? 0);
  }
  return { ms, at };
}

/** VmRSS and Pss (MB) summed over the process tree of `pid`, and the number of processes. */
export function memory(pid) {
  const kb = (file, key) => {
    try {
      return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(file, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  const pids = tree(pid);
  const sum = (file, key) => pids.reduce((s, p) => s + kb(`/proc/${p}/${file}`, key), 0) / 1024;
  return { rssMb: sum('status', 'VmRSS'), pssMb: sum('smaps_rollup', 'Pss'), procs: pids.length };
}

/**
 * Starts `front` (`argv(port)`, `name`, optional `health` path) on a free port, in `cwd` with
 * `env`, and waits until it answers HTTP: a 200 on its health path, or any answer at /mcp.
 * Answers `{ port, pid, child, tail }`, `tail()` being the last of its output.
 */
export async function start(front, { cwd, env }) {
  const port = await freePort();
  const argv = front.argv(String(port));
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const keep = (s) => (tail = (tail + s).slice(-2000));
  child.stdout.setEncoding('utf8').on('data', keep);
  child.stderr.setEncoding('utf8').on('data', keep);
  const agent = new http.Agent();
  for (const t0 = performance.now(); ; await sleep(100)) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${front.name} exited (${child.exitCode ?? child.signalCode}): ${tail.trim()}`);
    if (performance.now() - t0 > 20_000) throw new Error(`${front.name}: no answer in 20 s: ${tail.trim()}`);
    const status = await new Promise((resolve) =>
      http
        .get({ host: '127.0.0.1', port, path: front.health ?? '/mcp', agent }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
        .on('error', () => resolve(0)),
    );
    if (front.health ? status === 200 : status > 0) break;
  }
  agent.destroy();
  return { port, pid: child.pid, child, tail: () => tail };
}

/** SIGTERM to the front, SIGKILL after 3 s; then SIGKILL to any descendant it left behind. */
export async function stop({ child }) {
  const pids = tree(child.pid).slice(1);
  const exited = new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  child.kill('SIGTERM');
  if ((await Promise.race([exited.then(() => true), sleep(3000)])) !== true) child.kill('SIGKILL');
  await exited;
  for (const p of pids) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
