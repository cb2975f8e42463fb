import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI } from './cli.js';
import { tempDir } from './tmp.js';

/** A gateway on a free 127.0.0.1 port (or on stdio), with a config written to a temp dir. */
export const UPSTREAM = join(import.meta.dirname, '..', 'fixtures', 'gateway-upstream.mjs');

export interface RunningGateway {
  url: string;
  base: string;
  proc: ChildProcess;
  dir: string;
  config: string;
  env: NodeJS.ProcessEnv;
  stderr(): string;
  /** SIGTERM, and the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A config with one fixture upstream per name (`prefix: false` for names ending in "!"). */
export function upstreams(names: string[], extra = ''): string {
  const lines = ['servers:'];
  for (const raw of names) {
    const name = raw.replace(/!$/, '');
    lines.push(`  ${name}:`, `    command: ${process.execPath}`, `    args: [${UPSTREAM}, ${name}]`);
    if (raw.endsWith('!')) lines.push('    prefix: false');
  }
  return lines.join('\n') + '\n' + extra;
}

export function gatewayEnv(dir: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: dir, MCP_WARDEN_HOME: join(dir, 'home') };
}

export async function startGateway(
  config: string,
  args: string[] = [],
  opts: { dir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunningGateway> {
  const dir = opts.dir ?? tempDir('mcpw-gw-');
  const path = join(dir, 'mcp-warden.yaml');
  writeFileSync(path, config);
  const env = { ...gatewayEnv(dir), ...opts.env };
  const proc = spawn(process.execPath, [CLI, 'gateway', '--http', '--port', '0', '--config', path, ...args], {
    env,
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { url, stderr } = await listening(proc);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return {
    url,
    base: url.replace(/\/mcp$/, ''),
    proc,
    dir,
    config: path,
    env,
    stderr,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Waits for a gateway's "listening on URL" line; `stderr()` is all it has written so far. */
export async function listening(proc: ChildProcess): Promise<{ url: string; stderr: () => string }> {
  let err = '';
  proc.stderr!.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${err}`)), 20_000);
    proc.stderr!.on('data', (d: string) => {
      err += d;
      const m = /listening on (\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${err}`)));
  });
  return { url, stderr: () => err };
}

/** Whether process `pid` has gone. */
export function gone(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/status`);
    return false;
  } catch {
    return true;
  }
}

/** Polls until `check` holds (bounded). */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

/**
 * `mcp-warden gateway` on stdio, driven by hand: initialize sent, then `send` any message; `out`
 * is everything on stdout (JSON-RPC lines only), `err` the log.
 */
export function stdioGateway({ dir, path, env }: { dir: string; path: string; env: NodeJS.ProcessEnv }) {
  const child = spawn(process.execPath, [CLI, 'gateway', '--config', path], { env, cwd: dir });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  const send = (m: unknown) => child.stdin.write(JSON.stringify(m) + '\n');
  send({
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
  });
  return {
    send,
    out: () => out,
    err: () => err,
    close: () => {
      child.stdin.end();
      return closed;
    },
  };
}

/** The JSON-RPC messages a stdio gateway wrote, by id. */
export function byId(
  out: string,
): Map<
  unknown,
  { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } }
> {
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { id?: unknown })
      .map((m) => [m.id, m]),
  );
}
