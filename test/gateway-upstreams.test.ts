import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listContainers, removeContainer } from '../src/docker/containers.js';
import type { Engine } from '../src/docker/engine.js';
import { listServices } from '../src/docker/swarm.js';
import { CLI, runCli } from './helpers/cli.js';
import { IMAGE_SERVER, buildNodeImage, requireSwarm } from './helpers/docker.js';
import { gatewayEnv } from './helpers/gateway.js';
import { remoteMcp } from './helpers/remote-mcp.js';
import { tempDir } from './helpers/tmp.js';

/**
 * Every kind of upstream behind one gateway: the fixture server in a container and as a Swarm
 * service (real dockerd, FROM scratch image), and a remote Streamable HTTP server whose header
 * holds a secret reference. Each gets its secret the way its runtime allows, and the values
 * never reach the gateway's stdout or stderr.
 */
let engine: Engine;
let image: string;
const LABELS = ['mcp-warden.server=gw-box', 'mcp-warden.server=gw-swarm'];
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

beforeAll(async () => {
  engine = await requireSwarm();
  image = await buildNodeImage(engine);
}, 300_000);

afterAll(async () => {
  if (!engine) return;
  for (const c of await listContainers(engine, { all: true, labels: LABELS }))
    await removeContainer(engine, c.Id, { force: true }).catch(() => undefined);
  engine.close();
});

describe('gateway: container, Swarm and remote upstreams', () => {
  it('fronts all three with their secrets delivered, and stops them when the client leaves', async () => {
    const remoteToken = `remote-${randomBytes(8).toString('hex')}`;
    const canary = `gw-canary-${randomBytes(12).toString('hex')}`;
    const { url } = await remoteMcp(remoteToken);
    const dir = tempDir('mcpw-gwu-');
    const path = join(dir, 'mcp-warden.yaml');
    const fixture = (runtime: string) =>
      `    image: ${image}\n    runtime: ${runtime}\n    args: [${JSON.stringify(IMAGE_SERVER)}]\n    secrets: [CANARY_TOKEN]\n`;
    writeFileSync(
      path,
      `servers:\n  gw-box:\n${fixture('docker')}  gw-swarm:\n${fixture('swarm')}` +
        `  docs:\n    url: ${url}\n    headers: { Authorization: "Bearer secret://DOCS_TOKEN" }\n`,
    );
    const env = { ...gatewayEnv(dir), XDG_RUNTIME_DIR: dir };
    expect(runCli(['secret', 'set', 'CANARY_TOKEN'], { env, cwd: dir, input: canary }).code).toBe(0);
    expect(runCli(['secret', 'set', 'DOCS_TOKEN'], { env, cwd: dir, input: remoteToken }).code).toBe(0);

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'gateway', '--stdio', '--config', path],
      env: env,
      cwd: dir,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const client = new Client({ name: 'kinds', version: '1' });
    await client.connect(transport);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names, stderr).toEqual(
        expect.arrayContaining(['gw-box__secret_info', 'gw-swarm__secret_info', 'docs__echo']),
      );
      for (const server of ['gw-box', 'gw-swarm']) {
        const r = await client.callTool({
          name: `${server}__secret_info`,
          arguments: { name: 'CANARY_TOKEN' },
        });
        expect(r.structuredContent).toMatchObject({ source: 'file', mode: '0400', sha256: sha256(canary) });
      }
      const echoed = await client.callTool({
        name: 'docs__echo',
        arguments: { text: 'through the gateway' },
      });
      expect(echoed.content).toEqual([{ type: 'text', text: 'through the gateway' }]);
      expect(await listServices(engine, { labels: ['mcp-warden.server=gw-swarm'] })).toHaveLength(1);
    } finally {
      await client.close();
    }
    // The client left: the container and the service go away with it.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const left =
        (await listContainers(engine, { all: true, labels: ['mcp-warden.server=gw-box'] })).length +
        (await listServices(engine, { labels: ['mcp-warden.server=gw-swarm'] })).length;
      if (left === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(await listContainers(engine, { all: true, labels: ['mcp-warden.server=gw-box'] })).toEqual([]);
    expect(await listServices(engine, { labels: ['mcp-warden.server=gw-swarm'] })).toEqual([]);
    expect(stderr).not.toContain(canary);
    expect(stderr).not.toContain(remoteToken);
  }, 120_000);
});
