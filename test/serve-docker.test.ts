import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectContainer, listContainers, removeContainer } from '../src/docker/containers.js';
import type { Engine } from '../src/docker/engine.js';
import { listSecrets, listServices } from '../src/docker/swarm.js';
import { CLI, runCli } from './helpers/cli.js';
import { IMAGE_SERVER, buildNodeImage, requireDocker } from './helpers/docker.js';
import { rpcClient } from './helpers/docker-rpc.js';
import { tempDir } from './helpers/tmp.js';

/**
 * `mcp-warden serve` of a server with `image:`: the fixture MCP server in the FROM scratch test
 * image, run through the Docker Engine API by the CLI, its secret delivered as a file.
 */
let engine: Engine;
let image: string;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

beforeAll(async () => {
  engine = await requireDocker();
  image = await buildNodeImage(engine);
}, 300_000);

afterAll(async () => {
  if (!engine) return;
  for (const c of await listContainers(engine, {
    all: true,
    labels: ['mcp-warden.server=fixture-under-test'],
  })) {
    await removeContainer(engine, c.Id, { force: true }).catch(() => undefined);
  }
  engine.close();
});

/** Every command line of every process, to prove a value never reached an argv. */
function allCmdlines(): string {
  let out = '';
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      out += readFileSync(`/proc/${pid}/cmdline`, 'utf8') + '\n';
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * Starts `serve fixture-under-test` for the fixture image (as a container, or with runtime:
 * swarm as a service), speaks MCP to it over our stdio, and checks its secret arrived as a
 * read-only file with the right hash. The test goes on with the running server.
 */
async function serveFixture(runtime: 'docker' | 'swarm') {
  const dir = tempDir(`mcpw-serve-${runtime}-`);
  const canary = `mcpw-canary-${randomBytes(16).toString('hex')}`;
  writeFileSync(
    join(dir, 'mcp-warden.yaml'),
    `servers:\n  fixture-under-test:\n    image: ${image}\n    runtime: ${runtime}\n    args: [${JSON.stringify(IMAGE_SERVER)}]\n    secrets: [CANARY_TOKEN]\n`,
  );
  const env = { PATH: process.env.PATH, HOME: dir, MCP_WARDEN_HOME: join(dir, 'home'), XDG_RUNTIME_DIR: dir };
  expect(runCli(['secret', 'set', 'CANARY_TOKEN'], { env, cwd: dir, input: canary }).code).toBe(0);
  const child = spawn(process.execPath, [CLI, 'serve', 'fixture-under-test'], {
    env,
    cwd: dir,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const rpc = rpcClient(child.stdin, child.stdout);
  const init = await rpc.call('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 't', version: '0' },
  });
  expect(init.result, stderr).toMatchObject({ protocolVersion: '2025-06-18' });
  rpc.notify('notifications/initialized');
  const info = await rpc.call('tools/call', { name: 'secret_info', arguments: { name: 'CANARY_TOKEN' } });
  expect(info.result?.structuredContent).toEqual({
    name: 'CANARY_TOKEN',
    source: 'file',
    path: '/run/secrets/canary_token',
    mode: '0400',
    sha256: sha256(canary),
  });
  /** Closes our stdin (the client leaving) and answers the exit status; stderr must not hold the value. */
  const stop = async () => {
    child.stdin.end();
    const code = await exited;
    expect(stderr).not.toContain(canary);
    return code;
  };
  return { dir, canary, stop };
}

const LABEL = 'mcp-warden.server=fixture-under-test';

describe('serve: a server in a container', () => {
  it('delivers the secret as a read-only file, never in Env, Cmd, Labels or any argv, and cleans up', async () => {
    const { dir, canary, stop } = await serveFixture('docker');
    const [summary] = await listContainers(engine, { labels: [LABEL] });
    const inspected = await inspectContainer(engine, summary!.Id);
    const whole = JSON.stringify(inspected);
    expect(whole).not.toContain(canary);
    expect(whole).not.toContain(Buffer.from(canary).toString('base64'));
    expect((inspected as unknown as { Config: { Env: string[] } }).Config.Env).toContain(
      'CANARY_TOKEN_FILE=/run/secrets/canary_token',
    );
    expect(inspected.HostConfig).toMatchObject({
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
    });
    expect(allCmdlines()).not.toContain(canary);
    expect(readdirSync(join(dir, 'mcp-warden'))).toHaveLength(1);
    expect(await stop()).toBe(0);
    expect(await listContainers(engine, { all: true, labels: [LABEL] })).toEqual([]);
    expect(readdirSync(join(dir, 'mcp-warden'))).toEqual([]);
  }, 60_000);

  it('runtime: swarm runs a Swarm service with native secrets, attached on this node, removed after', async () => {
    const { canary, stop } = await serveFixture('swarm');
    const services = await listServices(engine, { labels: [LABEL] });
    expect(services).toHaveLength(1);
    expect(JSON.stringify(services)).not.toContain(canary);
    expect(await listSecrets(engine, { labels: [LABEL] })).toHaveLength(1);
    expect(allCmdlines()).not.toContain(canary);
    expect(await stop()).toBe(0);
    expect(await listServices(engine, { labels: [LABEL] })).toEqual([]);
    expect(await listSecrets(engine, { labels: [LABEL] })).toEqual([]);
  }, 90_000);

  it('a container server missing its secret never starts', () => {
    const dir = tempDir('mcpw-serve-docker-');
    writeFileSync(
      join(dir, 'mcp-warden.yaml'),
      `servers:\n  fixture-under-test:\n    image: ${image}\n    secrets: [NOT_THERE]\n`,
    );
    const r = runCli(['serve', 'fixture-under-test'], {
      env: { HOME: dir, MCP_WARDEN_HOME: join(dir, 'home') },
      cwd: dir,
    });
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('NOT_THERE is missing') as unknown });
  });
});
