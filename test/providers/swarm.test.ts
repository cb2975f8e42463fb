import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/docker/engine.js';
import {
  createService,
  inspectService,
  listSecrets,
  listTasks,
  removeService,
} from '../../src/docker/swarm.js';
import type { SecretProvider } from '../../src/provider.js';
import swarm from '../../src/providers/swarm.js';
import { IMAGE_NODE, buildNodeImage, requireSwarm } from '../helpers/docker.js';
import { build } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

/** The swarm backend against the real dockerd in swarm mode that `.ci/run` starts. */
let engine: Engine;
let image: string;
const services: string[] = [];

beforeAll(async () => {
  engine = await requireSwarm();
  image = await buildNodeImage(engine);
}, 300_000);

afterAll(async () => {
  for (const s of services) await removeService(engine, s).catch(() => undefined);
  engine?.close();
});

providerContract('swarm (a real dockerd in swarm mode; values verified by a service below)', async () => ({
  provider: build(swarm, {}, { name: 'swarm', env: process.env }).provider,
}));

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A one-shot service that exits 0 only if /run/secrets/<file> hashes to `hash`; answers its final task state. */
async function verifyingService(
  secret: { ID: string; Name: string },
  file: string,
  hash: string,
): Promise<string> {
  const name = `mcpw-verify-${randomBytes(4).toString('hex')}`;
  const script = `const v=require('fs').readFileSync('/run/secrets/${file}');process.exit(require('crypto').createHash('sha256').update(v).digest('hex')===${JSON.stringify(hash)}?0:3)`;
  const { ID } = await createService(engine, {
    Name: name,
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Command: [IMAGE_NODE, '-e', script],
        Secrets: [
          {
            SecretID: secret.ID,
            SecretName: secret.Name,
            File: { Name: file, UID: '0', GID: '0', Mode: 0o400 },
          },
        ],
      },
      RestartPolicy: { Condition: 'none' },
    },
  });
  services.push(ID);
  for (let i = 0; i < 120; i++) {
    const [task] = await listTasks(engine, { service: ID });
    if (task && ['complete', 'failed', 'rejected'].includes(task.Status.State)) return task.Status.State;
    await new Promise((r) => setTimeout(r, 250));
  }
  return 'timeout';
}

/** Removal succeeds once the removed service's tasks are gone, which takes the daemon a moment. */
async function deleteEventually(provider: SecretProvider, name: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await provider.delete!(name);
      return;
    } catch (err) {
      if (i >= 40) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe('swarm provider', () => {
  it('stores the exact value (checked inside a service) and get explains it cannot be read back', async () => {
    const { provider } = build(swarm, {}, { name: 'swarm', env: process.env });
    const name = `SWARM_${randomBytes(3).toString('hex')}`;
    const value = `swarm-canary-${randomBytes(8).toString('hex')}\nline two`;
    await provider.set!(name, value);
    const [s] = await listSecrets(engine, { labels: [`mcp-warden.name=${name}`] });
    expect(s!.Spec).toMatchObject({
      Name: `mcp-warden.${name}.v1`,
      Labels: { 'mcp-warden.managed': 'true', 'mcp-warden.version': '1' },
    });
    expect(JSON.stringify(s)).not.toContain(value.slice(0, 20));
    expect(await verifyingService({ ID: s!.ID, Name: s!.Spec.Name }, 'check', sha256(value))).toBe(
      'complete',
    );
    await expect(provider.get(name)).rejects.toThrow(/cannot be read back/);
    await removeService(engine, services.pop()!);
    await deleteEventually(provider, name);
  }, 60_000);

  it('an update creates the next version, moves the services that mount it, and removes the old one', async () => {
    const { provider } = build(swarm, {}, { name: 'swarm', env: process.env });
    const name = `ROTATE_${randomBytes(3).toString('hex')}`;
    await provider.set!(name, 'first');
    const [v1] = await listSecrets(engine, { labels: [`mcp-warden.name=${name}`] });
    const svc = `mcpw-rotate-${randomBytes(4).toString('hex')}`;
    const { ID } = await createService(engine, {
      Name: svc,
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          Command: [IMAGE_NODE, '-e', 'setInterval(() => {}, 1000)'],
          Secrets: [
            {
              SecretID: v1!.ID,
              SecretName: v1!.Spec.Name,
              File: { Name: 'token', UID: '0', GID: '0', Mode: 0o400 },
            },
          ],
        },
      },
    });
    services.push(ID);
    const meta = await provider.set!(name, 'second');
    expect(meta.version).toBe(2);
    const after = await listSecrets(engine, { labels: [`mcp-warden.name=${name}`] });
    expect(after.map((s) => s.Spec.Name)).toEqual([`mcp-warden.${name}.v2`]);
    const refs = (await inspectService(engine, ID)).Spec.TaskTemplate.ContainerSpec.Secrets!;
    expect(refs).toEqual([
      expect.objectContaining({
        SecretID: after[0]!.ID,
        SecretName: `mcp-warden.${name}.v2`,
        File: expect.objectContaining({ Name: 'token' }) as unknown,
      }),
    ]);
    expect((await provider.list!()).find((m) => m.name === name)).toMatchObject({ version: 2 });
    await expect(provider.delete!(name)).rejects.toMatchObject({
      code: 'DOCKER_CONFLICT',
      message: expect.stringContaining('still mounted by a service') as unknown,
    });
    await removeService(engine, ID);
    await deleteEventually(provider, name);
    await expect(provider.has(name)).resolves.toBe(false);
  }, 90_000);
});
