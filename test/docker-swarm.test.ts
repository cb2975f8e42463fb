import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/docker/engine.js';
import {
  createSecret,
  createService,
  inspectSecret,
  inspectService,
  listSecrets,
  listServices,
  listTasks,
  removeSecret,
  removeService,
  updateService,
  type ServiceSpec,
  type Task,
} from '../src/docker/swarm.js';
import { WardenError } from '../src/errors.js';
import { IMAGE_NODE, buildNodeImage, requireSwarm } from './helpers/docker.js';

/**
 * Swarm secrets and services against the real dockerd in swarm mode (`.ci/run` initialises it).
 * Everything created carries `mcp-warden.test-run=<run>` and is removed afterwards.
 */

const run = randomBytes(4).toString('hex');
const RUN_LABEL = 'mcp-warden.test-run';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let engine: Engine;
let image: string;

beforeAll(async () => {
  engine = await requireSwarm();
  image = await buildNodeImage(engine);
}, 300_000);

afterAll(async () => {
  if (!engine) return;
  // Services first: a secret in use cannot be removed.
  for (const s of await listServices(engine, { labels: [`${RUN_LABEL}=${run}`] }))
    await removeService(engine, s.ID).catch(() => undefined);
  for (const s of await listSecrets(engine, { labels: [`${RUN_LABEL}=${run}`] }))
    await removeSecret(engine, s.ID).catch(() => undefined);
  engine.close();
});

async function rejection(p: Promise<unknown>): Promise<WardenError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WardenError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

/** Polls the service's tasks until one reaches a final state, for at most `timeoutMs`. */
async function finalTask(serviceId: string, timeoutMs = 60_000): Promise<Task> {
  const FINAL = ['complete', 'failed', 'rejected', 'shutdown', 'orphaned'];
  const deadline = Date.now() + timeoutMs;
  let last: Task[] = [];
  while (Date.now() < deadline) {
    last = await listTasks(engine, { service: serviceId });
    const done = last.find((t) => FINAL.includes(t.Status.State));
    if (done) return done;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `no task of ${serviceId} finished within ${timeoutMs} ms: ${JSON.stringify(last.map((t) => t.Status))}`,
  );
}

describe('swarm secrets', () => {
  it('creates a labelled secret, lists it by label, inspects it without its value, removes it', async () => {
    const value = `mcpw-canary-${randomBytes(16).toString('hex')}`;
    const name = `mcpw-test-${run}-token-v1`;
    const labels = { 'mcp-warden.managed': 'true', 'mcp-warden.version': '1', [RUN_LABEL]: run };
    const { ID } = await createSecret(engine, { name, data: value, labels });
    expect(ID).toMatch(/^[a-z0-9]{25}$/);

    const listed = await listSecrets(engine, { labels: ['mcp-warden.managed=true', `${RUN_LABEL}=${run}`] });
    expect(listed.map((s) => s.Spec.Name)).toEqual([name]);
    expect(await listSecrets(engine, { labels: [`${RUN_LABEL}=${run}`, 'mcp-warden.version=2'] })).toEqual(
      [],
    );

    const byName = await inspectSecret(engine, name);
    expect(byName).toMatchObject({ ID, Spec: { Name: name, Labels: labels } });
    expect(byName.Version.Index).toBeGreaterThan(0);
    const json = JSON.stringify(byName);
    expect(json).not.toContain(value);
    expect(json).not.toContain(Buffer.from(value).toString('base64'));

    // Swarm secrets are immutable and names unique: a second create is a conflict.
    const again = await rejection(createSecret(engine, { name, data: 'other', labels }));
    expect(again.code).toBe('DOCKER_CONFLICT');
    expect(again.message).toContain(name);
    expect(again.message).not.toContain('other');

    await removeSecret(engine, ID);
    expect((await rejection(inspectSecret(engine, ID))).code).toBe('DOCKER_NOT_FOUND');
    expect((await rejection(removeSecret(engine, ID))).code).toBe('DOCKER_NOT_FOUND');
  });
});

describe('swarm services', () => {
  it('mounts a secret at /run/secrets/<name>: the task checks its SHA-256 and mode, and completes', async () => {
    const value = `mcpw-canary-${randomBytes(16).toString('hex')}`;
    const started = Date.now();
    const secret = await createSecret(engine, {
      name: `mcpw-test-${run}-svc-v1`,
      data: value,
      labels: { 'mcp-warden.managed': 'true', 'mcp-warden.version': '1', [RUN_LABEL]: run },
    });
    // Exits 0 only when the mounted file holds the value (by hash) with mode 0400.
    const check = [
      "const fs = require('node:fs'), crypto = require('node:crypto');",
      "const p = '/run/secrets/canary_token';",
      "const ok = crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') === process.env.EXPECTED_SHA256;",
      'process.exit(ok && (fs.statSync(p).mode & 0o777) === 0o400 ? 0 : 3);',
    ].join('\n');
    const spec: ServiceSpec = {
      Name: `mcpw-test-${run}`,
      Labels: { [RUN_LABEL]: run },
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          Command: [IMAGE_NODE],
          Args: ['-e', check],
          Env: [`EXPECTED_SHA256=${sha256(value)}`],
          Secrets: [
            {
              SecretID: secret.ID,
              SecretName: `mcpw-test-${run}-svc-v1`,
              File: { Name: 'canary_token', UID: '0', GID: '0', Mode: 0o400 },
            },
          ],
          CapabilityDrop: ['ALL'],
        },
        RestartPolicy: { Condition: 'none' },
        Resources: { Limits: { MemoryBytes: 256 * 1024 * 1024 } },
      },
      Mode: { Replicated: { Replicas: 1 } },
    };
    const { ID } = await createService(engine, spec);

    const task = await finalTask(ID);
    expect(task.Status, JSON.stringify(task.Status)).toMatchObject({
      State: 'complete',
      ContainerStatus: { ExitCode: 0 },
    });
    const taskMs = Date.now() - started;

    const service = await inspectService(engine, ID);
    expect(JSON.stringify(service)).not.toContain(value);
    expect(service.Spec.TaskTemplate.ContainerSpec.Secrets).toEqual(spec.TaskTemplate.ContainerSpec.Secrets);

    // A secret in use cannot be removed.
    expect(await rejection(removeSecret(engine, secret.ID))).toMatchObject({
      code: 'DOCKER_CONFLICT',
      message: expect.stringMatching(/in use by the following service/) as string,
    });

    // Updates name the version they read; a stale one is refused.
    const version = service.Version.Index;
    await updateService(engine, ID, version, { ...service.Spec, Labels: { [RUN_LABEL]: run, step: '2' } });
    const updated = await inspectService(engine, ID);
    expect(updated.Version.Index).toBeGreaterThan(version);
    expect(updated.Spec.Labels).toEqual({ [RUN_LABEL]: run, step: '2' });
    const stale = await rejection(updateService(engine, ID, version, service.Spec));
    expect(stale).toMatchObject({
      code: 'DOCKER_CONFLICT',
      message: expect.stringMatching(/out of sequence/) as string,
    });

    await removeService(engine, ID);
    expect((await rejection(inspectService(engine, ID))).code).toBe('DOCKER_NOT_FOUND');
    await removeSecret(engine, secret.ID);
    console.info(`swarm: task complete after ${taskMs} ms`);
  });
});
