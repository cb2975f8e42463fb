import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join, posix } from 'node:path';
import { attachContainer } from '../docker/attach.js';
import {
  createContainer,
  killContainer,
  readOnlyBind,
  removeContainer,
  startContainer,
  waitContainer,
} from '../docker/containers.js';
import { dockerEngine } from '../docker/engine.js';
import { inspectImage } from '../docker/images.js';
import { WardenError, describe } from '../errors.js';
import { ensurePrivateDir } from '../fsutil.js';
import type { SecretNeed, ServerConfig } from '../servers/schema.js';
import { runtimeRoot, sweepLaunchDirs } from './process.js';

/**
 * Delivery to a container through the Docker Engine API: every secret is a 0400 file in a
 * private directory on the host's tmpfs, bind-mounted read-only at its target path. The
 * container's Env holds only `VAR_FILE=/path`, never a value, and nothing secret is in its Cmd
 * or Labels. The image may declare where it wants a secret with a label `x-secret:NAME=/path`,
 * or `x-secret:NAME=env:VAR` for a server reading VAR (it gets `VAR_FILE`). Hardened by the
 * engine client's defaults (no capabilities, no new privileges, memory and CPU limits) and with no
 * network unless the server config says `network: true`.
 */
export interface ContainerIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /**
   * Stop the server on our SIGINT, SIGTERM and SIGHUP (as `serve` does). The gateway says no:
   * it stops its servers itself and reads SIGHUP as "reload".
   */
  stopOnSignals?: boolean;
}

interface Placement {
  need: SecretNeed;
  /** Path inside the container. */
  target: string;
  /** The variable told where the file is. */
  variable: string;
}

/** Where each secret goes: the server's `file:`, else the image's label, else /run/secrets/<name>. */
export function placements(
  server: ServerConfig,
  needs: SecretNeed[],
  labels: Record<string, string>,
): Placement[] {
  return needs.map((need) => {
    const label = labels[`x-secret:${need.name}`] ?? labels[`x-secret:${need.secret}`];
    const viaEnv = label?.startsWith('env:') ? label.slice(4) : undefined;
    const target = need.file ?? (label && !viaEnv ? label : `/run/secrets/${need.name.toLowerCase()}`);
    if (!posix.isAbsolute(target) || posix.normalize(target) !== target) {
      throw new WardenError(
        'CONFIG_INVALID',
        `server "${server.name}": secret ${need.name} target ${JSON.stringify(target)} is not a plain absolute path`,
      );
    }
    return { need, target, variable: `${viaEnv ?? need.env}_FILE` };
  });
}

export async function serveContainer(
  server: ServerConfig,
  values: Map<SecretNeed, string>,
  io: ContainerIO,
): Promise<number> {
  const engine = dockerEngine({ env: io.env });
  const image = await inspectImage(engine, server.image!);
  const placed = placements(server, [...values.keys()], image.Config?.Labels ?? {});

  const root = runtimeRoot(io.env);
  await ensurePrivateDir(root);
  await sweepLaunchDirs(root);
  const dir = join(root, `${process.pid}.${randomBytes(6).toString('hex')}`);
  let id: string | undefined;
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
    const binds: string[] = [];
    for (const [i, p] of placed.entries()) {
      const host = join(dir, `${i}-${posix.basename(p.target)}`);
      await fsp.writeFile(host, values.get(p.need)!, { mode: 0o400, flag: 'wx' });
      binds.push(readOnlyBind(host, p.target));
    }
    const env = [
      ...Object.entries(server.env).map(([k, v]) => `${k}=${v}`),
      ...placed.map((p) => `${p.variable}=${p.target}`),
    ];
    ({ Id: id } = await createContainer(engine, {
      Image: server.image!,
      ...(server.args.length > 0 && { Cmd: server.args }),
      Env: env,
      Labels: { 'mcp-warden.server': server.name },
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: true,
      StdinOnce: true,
      HostConfig: {
        Binds: binds,
        Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=64m' },
        AutoRemove: true,
        ...(server.network && { NetworkMode: 'bridge' }),
      },
    }));
    const stdio = await attachContainer(engine, id);
    const exited = waitContainer(engine, id, { condition: 'removed' });
    stdio.stdout.pipe(io.stdout, { end: false });
    stdio.stderr.pipe(io.stderr, { end: false });
    await startContainer(engine, id);
    io.stdin.pipe(stdio.stdin);
    const container = id;
    const stop = (signal: NodeJS.Signals) => () =>
      void killContainer(engine, container, signal).catch(() => undefined);
    const handlers =
      io.stopOnSignals === false
        ? []
        : (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, stop(s)] as const);
    for (const [s, h] of handlers) process.on(s, h);
    try {
      const { StatusCode } = await exited;
      await stdio.closed;
      id = undefined; // AutoRemove took it
      return StatusCode;
    } finally {
      for (const [s, h] of handlers) process.off(s, h);
      io.stdin.unpipe(stdio.stdin);
    }
  } catch (err) {
    if (err instanceof WardenError) throw err;
    throw new WardenError(
      'DOCKER_FAILED',
      `cannot run server "${server.name}" in a container (${describe(err)})`,
    );
  } finally {
    if (id) await removeContainer(engine, id, { force: true }).catch(() => undefined);
    await fsp.rm(dir, { recursive: true, force: true });
    engine.close();
  }
}
