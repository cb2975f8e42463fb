import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Drives test/helpers/writer.mjs, a child process writing through the built file provider. */
export const WRITER = fileURLToPath(new URL('./writer.mjs', import.meta.url));
const BUILT = fileURLToPath(new URL('../../dist/providers/file.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run npm run build (npm test does)`);
}

export interface Ack {
  name: string;
  value: string;
  version: number;
  created: string;
  updated: string;
}

/** One `try` or `ack` line of the writer. */
export type Line = { kind: 'try'; name: string; value: string } | ({ kind: 'ack' } & Ack);

export function parseLine(line: string): Line {
  const [kind, name, value, version, created, updated, ...rest] = line.split(' ');
  if (kind === 'try' && name && value && version === undefined) return { kind, name, value };
  if (kind === 'ack' && name && value && version && created && updated && rest.length === 0) {
    return { kind, name, value, version: Number(version), created, updated };
  }
  throw new Error(`unexpected writer output line: ${JSON.stringify(line)}`);
}

export interface Finished {
  lines: Line[];
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The guard timer killed it. */
  timedOut: boolean;
  ms: number;
}

export interface Writer {
  pid: number;
  /** Resolves once the child has printed `ready` (only with `--wait`). */
  ready: Promise<void>;
  /** Sends the start line (only with `--wait`). */
  go(): void;
  /** Resolves after the child exited and its output was read to the end (it is reaped by then). */
  done: Promise<Finished>;
}

/**
 * Starts `node writer.mjs ...args`. With `killAfterFirstLineMs`, SIGKILLs it that long after its
 * first output. `timeoutMs` bounds its life in any case (a hang shows up as timedOut).
 */
export function startWriter(
  args: string[],
  opts: { killAfterFirstLineMs?: number; timeoutMs: number },
): Writer {
  const started = performance.now();
  const child = spawn(process.execPath, [WRITER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  let timedOut = false;
  let killTimer: NodeJS.Timeout | undefined;
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const guard = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.startsWith('ready\n')) onReady();
    if (opts.killAfterFirstLineMs !== undefined && killTimer === undefined) {
      killTimer = setTimeout(() => child.kill('SIGKILL'), opts.killAfterFirstLineMs);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Finished>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      clearTimeout(killTimer);
      const raw = out.split('\n');
      // Each line is one write(2) of a few dozen bytes: a torn last line would be a bug too.
      if (raw.pop() !== '')
        reject(new Error(`writer output ends mid-line: ${JSON.stringify(out.slice(-80))}`));
      const lines = raw.filter((l) => l !== 'ready').map(parseLine);
      resolve({ lines, stderr, code, signal, timedOut, ms: performance.now() - started });
    });
  });
  return {
    pid: child.pid ?? -1,
    ready,
    go: () => child.stdin.end('go\n'),
    done,
  };
}
