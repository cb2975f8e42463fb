import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachContainer } from '../src/docker/attach.js';
import {
  createContainer,
  hardened,
  inspectContainer,
  killContainer,
  listContainers,
  readOnlyBind,
  removeContainer,
  startContainer,
  waitContainer,
} from '../src/docker/containers.js';
import { MAX_API_VERSION, dockerEngine, type Engine } from '../src/docker/engine.js';
import { info, ping } from '../src/docker/system.js';
import { WardenError, isWardenError } from '../src/errors.js';
import { IMAGE_NODE, buildNodeImage, requireDocker } from './helpers/docker.js';
import { privateTmpfsDir, rpcClient } from './helpers/docker-rpc.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The Docker Engine client against the real dockerd that `.ci/run` starts, with the FROM scratch
 * test image (Node 24 and the fixture MCP server). Everything created carries the label
 * `mcp-warden.test-run=<run>` and is removed afterwards; the image stays cached by content hash.
 */

const run = randomBytes(4).toString('hex');
const RUN_LABEL = 'mcp-warden.test-run';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let engine: Engine;
let image: string;

beforeAll(async () => {
  engine = await requireDocker();
  image = await buildNodeImage(engine);
}, 300_000);

afterAll(async () => {
  if (!engine) return;
  for (const c of await listContainers(engine, { all: true, labels: [`${RUN_LABEL}=${run}`] }))
    await removeContainer(engine, c.Id, { force: true }).catch(() => undefined);
  engine.close();
});

/** A stand-in daemon on a unix socket in a temporary directory, closed after the file's tests. */
async function fakeDaemon(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const path = join(tempDir('mcpw-fake-docker-'), 'docker.sock');
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });
  return path;
}

/** Rejects with the WardenError the promise rejects with, or fails. */
async function rejection(p: Promise<unknown>): Promise<WardenError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WardenError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

describe('engine transport', () => {
  it('pings the daemon and reads its swarm state', async () => {
    await ping(engine);
    expect(await engine.apiVersion()).toMatch(/^1\.\d+$/);
    const i = await info(engine);
    expect(i.ServerVersion).toBeTruthy();
    expect(['inactive', 'pending', 'active', 'error', 'locked']).toContain(i.Swarm.LocalNodeState);
  });

  it('a daemon that cannot be reached is DOCKER_UNAVAILABLE, never "not found"', async () => {
    const gone = dockerEngine({ host: 'unix:///nonexistent/docker.sock' });
    const err = await rejection(inspectContainer(gone, 'anything'));
    expect(err.code).toBe('DOCKER_UNAVAILABLE');
    expect(err.message).toMatch(/cannot reach the Docker daemon at \/nonexistent\/docker\.sock.*ENOENT/);
    expect((await rejection(ping(gone))).code).toBe('DOCKER_UNAVAILABLE');
  });

  it('negotiates the API version with /_ping, and refuses a daemon older than 1.41', async () => {
    const seen: string[] = [];
    const daemon = async (version: string) =>
      `unix://${await fakeDaemon((req, res) => {
        seen.push(req.url ?? '');
        res.setHeader('Api-Version', version).setHeader('Content-Type', 'application/json').end('{}');
      })}`;
    await dockerEngine({ host: await daemon('1.99'), env: {} }).request('GET', '/info');
    expect(seen.splice(0)).toEqual(['/_ping', `/v${MAX_API_VERSION}/info`]);
    await dockerEngine({ host: await daemon('1.43'), env: {} }).request('GET', '/info');
    expect(seen.splice(0)).toEqual(['/_ping', '/v1.43/info']);
    const old = await rejection(
      dockerEngine({ host: await daemon('1.40'), env: {} }).request('GET', '/info'),
    );
    expect(old).toMatchObject({
      code: 'DOCKER_FAILED',
      message: expect.stringMatching(/speaks API 1\.40; mcp-warden needs 1\.41/) as string,
    });
    seen.length = 0;
    const fixed = dockerEngine({ host: await daemon('1.99'), env: { DOCKER_API_VERSION: '1.45' } });
    await fixed.request('GET', '/info');
    expect(seen).toEqual(['/v1.45/info']);
  });

  it('a daemon that does not answer in time is DOCKER_UNAVAILABLE', async () => {
    const fake = await fakeDaemon(() => undefined); // accepts, never answers
    const slow = dockerEngine({ host: `unix://${fake}`, apiVersion: '1.41', timeoutMs: 200 });
    const err = await rejection(slow.request('GET', '/info'));
    expect(err).toMatchObject({
      code: 'DOCKER_UNAVAILABLE',
      message: expect.stringMatching(/within 0\.2 s/) as string,
    });
  });

  it('refuses a DOCKER_HOST that is not a unix socket', () => {
    expect(() => dockerEngine({ env: { DOCKER_HOST: 'tcp://10.0.0.1:2375' } })).toThrow(
      expect.objectContaining({ code: 'DOCKER_UNAVAILABLE' }) as Error,
    );
  });

  it('a missing container is DOCKER_NOT_FOUND with the daemon message', async () => {
    const err = await rejection(inspectContainer(engine, `mcpw-missing-${run}`));
    expect(err.code).toBe('DOCKER_NOT_FOUND');
    expect(err.message).toMatch(/no such container/i);
  });
});

describe('containers', () => {
  it('hardens by default: caps dropped, no-new-privileges forced, no network, limits', () => {
    expect(hardened({ Image: 'x' }).HostConfig).toEqual({
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      NetworkMode: 'none',
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1_000_000_000,
      PidsLimit: 256,
    });
    const loosened = hardened({
      Image: 'x',
      HostConfig: { NetworkMode: 'bridge', SecurityOpt: ['no-new-privileges:false'], Memory: undefined },
    }).HostConfig;
    expect(loosened).toMatchObject({ NetworkMode: 'bridge', SecurityOpt: ['no-new-privileges'] });
    expect(loosened?.Memory).toBe(512 * 1024 * 1024);
    expect(() => readOnlyBind('/a:b', '/run/secrets')).toThrow(/contain no ":"/);
    expect(() => readOnlyBind('relative', '/run/secrets')).toThrow(/absolute/);
  });

  it('runs the fixture server with stdio attached and its secret as a file on a read-only tmpfs bind', async () => {
    const canary = `mcpw-canary-${randomBytes(16).toString('hex')}`;
    const dir = privateTmpfsDir();
    writeFileSync(join(dir, 'canary_token'), canary, { mode: 0o400 });

    const started = Date.now();
    const { Id } = await createContainer(engine, {
      Image: image,
      Env: ['CANARY_TOKEN_FILE=/run/secrets/canary_token'],
      Labels: { [RUN_LABEL]: run },
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: true,
      StdinOnce: true,
      HostConfig: {
        Binds: [readOnlyBind(dir, '/run/secrets')],
        Tmpfs: { '/tmp': 'rw,noexec,nosuid,size=16m' },
        AutoRemove: true,
      },
    });
    const stdio = await attachContainer(engine, Id);
    const exited = waitContainer(engine, Id, { condition: 'removed' });
    let stderr = '';
    stdio.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    await startContainer(engine, Id);
    const rpc = rpcClient(stdio.stdin, stdio.stdout);

    const init = await rpc.call('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'mcp-warden-test', version: '0' },
    });
    expect(init.result).toMatchObject({ protocolVersion: '2025-11-25', capabilities: { tools: {} } });
    rpc.notify('notifications/initialized');
    const firstAnswerMs = Date.now() - started;

    const secret = await rpc.call('tools/call', { name: 'secret_info', arguments: { name: 'CANARY_TOKEN' } });
    expect(secret.result?.structuredContent).toEqual({
      name: 'CANARY_TOKEN',
      source: 'file',
      path: '/run/secrets/canary_token',
      mode: '0400',
      sha256: sha256(canary),
    });
    // Frames larger than one read, split and reassembled by the demultiplexer.
    const big = 'x'.repeat(300_000);
    const echoed = await rpc.call('tools/call', { name: 'echo', arguments: { text: big } });
    expect((echoed.result?.structuredContent as { text: string }).text).toBe(big);
    expect((await rpc.call('ping')).result).toEqual({});

    // What `docker inspect` shows of the running container: the canary nowhere; the hardening.
    const inspect = await inspectContainer(engine, Id);
    expect(JSON.stringify(inspect)).not.toContain(canary);
    expect(inspect.Config.Env).toContain('CANARY_TOKEN_FILE=/run/secrets/canary_token');
    expect(inspect.Config.Env?.join('\n')).not.toContain(canary);
    expect(JSON.stringify(inspect.Config.Cmd)).not.toContain(canary);
    expect(JSON.stringify(inspect.Config.Labels)).not.toContain(canary);
    expect(inspect.HostConfig).toMatchObject({
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      NetworkMode: 'none',
      Memory: 512 * 1024 * 1024,
      NanoCpus: 1_000_000_000,
      AutoRemove: true,
    });
    expect(inspect.Mounts).toContainEqual(
      expect.objectContaining({ Type: 'bind', Source: dir, Destination: '/run/secrets', RW: false }),
    );

    // Closing stdin ends the server; AutoRemove removes the container.
    stdio.stdin.end();
    expect(await exited).toMatchObject({ StatusCode: 0 });
    expect(await stdio.closed).toBeUndefined();
    expect((await rejection(inspectContainer(engine, Id))).code).toBe('DOCKER_NOT_FOUND');
    expect(stderr).toContain('mcp-warden-fixture: ready');
    expect(rpc.lines.every((l) => l.startsWith('{"jsonrpc":"2.0"'))).toBe(true);
    console.info(
      `container: first answer after ${firstAnswerMs} ms, removed after ${Date.now() - started} ms`,
    );
  });

  it('kills, reports the exit status, and removes', async () => {
    const { Id } = await createContainer(engine, {
      Image: image,
      Entrypoint: [IMAGE_NODE],
      Cmd: ['-e', 'setInterval(() => {}, 1000)'],
      Labels: { [RUN_LABEL]: run },
    });
    const exited = waitContainer(engine, Id, { condition: 'next-exit' });
    await startContainer(engine, Id);
    expect((await inspectContainer(engine, Id)).State.Running).toBe(true);
    await killContainer(engine, Id);
    expect(await exited).toMatchObject({ StatusCode: 137 });
    expect((await rejection(killContainer(engine, Id))).code).toBe('DOCKER_CONFLICT');
    await removeContainer(engine, Id);
    expect((await rejection(inspectContainer(engine, Id))).code).toBe('DOCKER_NOT_FOUND');
    expect((await rejection(attachContainer(engine, Id))).code).toBe('DOCKER_NOT_FOUND');
    expect(isWardenError(await rejection(removeContainer(engine, Id)), 'DOCKER_NOT_FOUND')).toBe(true);
  });
});
