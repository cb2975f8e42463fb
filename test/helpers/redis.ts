import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * A real redis-server for the rate-limit tests: on a free 127.0.0.1 port, no persistence, in a
 * temporary directory, stopped by `stop()`. `.ci/run` installs redis-server; without it the tests
 * fail saying so.
 */
export interface RedisServer {
  port: number;
  /** `redis://127.0.0.1:PORT/0` (no password in it, even when one is required). */
  url: string;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
}

const HOW_TO = 'install it with `apt-get install redis-server`, or run `bash .ci/run` (it installs it)';

function redisBinary(): string {
  for (const dir of [
    ...(process.env.PATH ?? '').split(delimiter),
    '/usr/bin',
    '/usr/sbin',
    '/usr/local/bin',
  ]) {
    if (dir && existsSync(join(dir, 'redis-server'))) return join(dir, 'redis-server');
  }
  throw new Error(`the rate-limit tests need redis-server, which is not installed: ${HOW_TO}`);
}

/** A port nothing listens on right now (and, for a moment, nothing else will take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts redis-server; resolves once it accepts connections. `port` reuses a port (to restart a
 * stopped server in place); `password` sets requirepass (through the config file, not argv).
 */
export async function startRedis(opts: { port?: number; password?: string } = {}): Promise<RedisServer> {
  const bin = redisBinary();
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'mcpw-redis-'));
  const conf = join(dir, 'redis.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'save ""',
      'appendonly no',
      `dir ${dir}`,
      'daemonize no',
      'loglevel notice',
      ...(opts.password !== undefined ? [`requirepass ${opts.password}`] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const child = spawn(bin, [conf], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (d: Buffer): void => {
    output = (output + d.toString('utf8')).slice(-4000);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`redis-server did not become ready within 10 s:\n${output}`)),
        10_000,
      );
      const onData = (): void => {
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot start redis-server (${err.message}): ${HOW_TO}`));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`));
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async stop() {
      child.kill('SIGTERM');
      if (!(await exited(child, 5000))) {
        child.kill('SIGKILL');
        await exited(child, 5000);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
