import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { attachContainer } from '../docker/attach.js';
import { dockerEngine, type Engine } from '../docker/engine.js';
import { inspectImage } from '../docker/images.js';
import {
  createSecret,
  createService,
  listSecrets,
  listServices,
  listTasks,
  removeSecret,
  removeService,
  type Task,
} from '../docker/swarm.js';
import { WardenError, isWardenError } from '../errors.js';
import { isAlive } from '../fsutil.js';
import type { SecretNeed, ServerConfig } from '../servers/schema.js';
import { placements, type ContainerIO } from './container.js';

/**
 * A server with `runtime: swarm` runs as a one-replica Swarm service with its secrets as native
 * Swarm secrets mounted at their target paths (tmpfs, read-only, mode 0400). The secrets are made
 * for this launch and removed with the service when it stops; a crashed launch's leftovers are
 * removed at the next start. On this node, `serve` bridges our stdio to the task's container by
 * attaching to it; a gateway on another node reaches such a server over HTTP instead (next issue).
 */
const LAUNCH = 'mcp-warden.launch';
const SERVER = 'mcp-warden.server';

/** `host:pid` of this process, so a later run can tell a dead launch from a live one. */
const launchOwner = () => `${hostname()}:${process.pid}`;

async function sweep(engine: Engine): Promise<void> {
  const dead = (label?: string) => {
    const [host, pid] = (label ?? '').split(':');
    return host === hostname() && !isAlive(Number(pid));
  };
  for (const svc of await listServices(engine, { labels: [LAUNCH] })) {
    if (dead(svc.Spec.Labels?.[LAUNCH])) await removeService(engine, svc.ID).catch(() => undefined);
  }
  for (const sec of await listSecrets(engine, { labels: [LAUNCH] })) {
    if (dead(sec.Spec.Labels?.[LAUNCH])) await removeSecret(engine, sec.ID).catch(() => undefined);
  }
}

async function waitRunning(engine: Engine, service: string, timeoutMs = 60_000): Promise<Task> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tasks = await listTasks(engine, { service });
    const t = tasks.find((x) => x.Status.State === 'running' && x.Status.ContainerStatus?.ContainerID);
    if (t) return t;
    const failed = tasks.find((x) => ['failed', 'rejected', 'complete', 'shutdown'].includes(x.Status.State));
    if (failed) {
      throw new WardenError(
        'DOCKER_FAILED',
        `the Swarm task did not start: ${failed.Status.State} (${failed.Status.Err ?? failed.Status.Message ?? 'no reason given'})`,
      );
    }
    if (Date.now() > deadline)
      throw new WardenError('DOCKER_FAILED', `the Swarm task did not start within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function removeWhenFree(engine: Engine, ids: string[]): Promise<void> {
  for (const id of ids) {
    for (let attempt = 0; ; attempt++) {
      try {
        await removeSecret(engine, id);
        break;
      } catch (err) {
        if (isWardenError(err, 'DOCKER_NOT_FOUND')) break;
        if (!isWardenError(err, 'DOCKER_CONFLICT') || attempt >= 40) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}

export async function serveSwarm(
  server: ServerConfig,
  values: Map<SecretNeed, string>,
  io: ContainerIO,
): Promise<number> {
  const engine = dockerEngine({ env: io.env });
  const launch = randomBytes(4).toString('hex');
  const labels = { [SERVER]: server.name, [LAUNCH]: launchOwner() };
  const secretIds: string[] = [];
  let serviceId: string | undefined;
  try {
    await sweep(engine);
    const image = await inspectImage(engine, server.image!);
    const placed = placements(server, [...values.keys()], image.Config?.Labels ?? {});
    const refs = [];
    for (const p of placed) {
      const name = `mcp-warden.${server.name}.${p.need.name}.${launch}`.slice(0, 64);
      const { ID } = await createSecret(engine, { name, data: values.get(p.need)!, labels });
      secretIds.push(ID);
      refs.push({
        SecretID: ID,
        SecretName: name,
        File: { Name: p.target, UID: '0', GID: '0', Mode: 0o400 },
      });
    }
    ({ ID: serviceId } = await createService(engine, {
      Name: `mcp-warden-${server.name}-${launch}`.slice(0, 63),
      Labels: labels,
      TaskTemplate: {
        ContainerSpec: {
          Image: server.image!,
          ...(server.args.length > 0 && { Args: server.args }),
          Env: [
            ...Object.entries(server.env).map(([k, v]) => `${k}=${v}`),
            ...placed.map((p) => `${p.variable}=${p.target}`),
          ],
          Labels: labels,
          Secrets: refs,
          CapabilityDrop: ['ALL'],
          OpenStdin: true,
        },
        RestartPolicy: { Condition: 'none' },
        Resources: { Limits: { MemoryBytes: 512 * 1024 * 1024, NanoCPUs: 1e9, Pids: 256 } },
      },
      Mode: { Replicated: { Replicas: 1 } },
    }));
    const task = await waitRunning(engine, serviceId);
    const stdio = await attachContainer(engine, task.Status.ContainerStatus!.ContainerID!);
    stdio.stdout.pipe(io.stdout, { end: false });
    stdio.stderr.pipe(io.stderr, { end: false });
    io.stdin.pipe(stdio.stdin);
    // The service's container keeps its stdin open, so our end of input (or a signal) stops it.
    const stopped = new Promise<void>((resolve) => {
      io.stdin.once('end', () => resolve());
      if (io.stopOnSignals !== false)
        for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(sig, () => resolve());
    });
    await Promise.race([stopped, stdio.closed]);
    stdio.close();
    const [last] = await listTasks(engine, { service: serviceId });
    return last?.Status.ContainerStatus?.ExitCode ?? 0;
  } finally {
    if (serviceId) await removeService(engine, serviceId).catch(() => undefined);
    await removeWhenFree(engine, secretIds).catch(() => undefined);
    engine.close();
  }
}
