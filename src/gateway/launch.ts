import { PassThrough } from 'node:stream';
import { describe } from '../errors.js';
import type { SecretNeed, ServerConfig } from '../servers/schema.js';
import { splitLines, streamChannel, type Channel } from './channel.js';

/**
 * Starts one server for the gateway and answers its channel. A local process is spawned with
 * pipes (the fast path); a container, a Swarm service and a remote server reuse the delivery
 * code `serve` uses, over in-memory streams, so each runtime delivers its secrets the one way.
 */
export interface LaunchOptions {
  env: NodeJS.ProcessEnv;
  /** One line of the server's stderr, or a line about it. */
  log: (line: string) => void;
}

/** How long a server gets between end of input and SIGTERM, and then until SIGKILL. */
const GRACE_MS = 2000;

export async function launch(
  server: ServerConfig,
  values: Map<SecretNeed, string>,
  opts: LaunchOptions,
): Promise<Channel> {
  if (server.kind === 'process') return launchProcess(server, values, opts);
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const stderr = new PassThrough();
  splitLines(stderr, opts.log);
  const io = { stdin: toServer, stdout: fromServer, stderr, env: opts.env, stopOnSignals: false };
  let ran: Promise<number>;
  if (server.kind === 'docker') {
    const { serveContainer } = await import('../delivery/container.js');
    ran = serveContainer(server, values, io);
  } else if (server.kind === 'swarm') {
    const { serveSwarm } = await import('../delivery/swarm-service.js');
    ran = serveSwarm(server, values, io);
  } else {
    const { bridgeRemote, resolveHeaders } = await import('../delivery/remote.js');
    ran = bridgeRemote(server, resolveHeaders(server, values), io, [...values.values()]);
  }
  const done = ran.then(
    (code) => ({ code, reason: `exited with code ${code}` }),
    (err: unknown) => ({ code: null, reason: describe(err) }),
  );
  return streamChannel(toServer, fromServer, done, () => undefined);
}

async function launchProcess(
  server: ServerConfig,
  values: Map<SecretNeed, string>,
  opts: LaunchOptions,
): Promise<Channel> {
  const [{ spawn }, { prepareProcess }] = await Promise.all([
    import('node:child_process'),
    import('../delivery/process.js'),
  ]);
  const prepared = await prepareProcess(server, values, opts.env);
  const child = spawn(server.command!, server.args, {
    env: prepared.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(server.cwd && { cwd: server.cwd }),
  });
  const done = new Promise<{ code: number | null; reason: string }>((resolve) => {
    child.once('error', (err) =>
      resolve({ code: null, reason: `cannot start ${server.command}: ${describe(err)}` }),
    );
    child.once('exit', (code, signal) =>
      resolve({ code, reason: signal ? `killed by ${signal}` : `exited with code ${code}` }),
    );
  }).finally(() => prepared.cleanup());
  splitLines(child.stderr, opts.log);
  return streamChannel(child.stdin, child.stdout, done, () => {
    const term = setTimeout(() => child.kill('SIGTERM'), GRACE_MS);
    const kill = setTimeout(() => child.kill('SIGKILL'), 2 * GRACE_MS);
    term.unref();
    kill.unref();
    void done.then(() => {
      clearTimeout(term);
      clearTimeout(kill);
    });
  });
}
