import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from './helpers/cli.js';
import { eventually, gatewayEnv, stdioGateway, upstreams } from './helpers/gateway.js';
import { tempDir } from './helpers/tmp.js';

/**
 * `gateway --stdio`, as a desktop client starts it: one session, one identity, and nothing but
 * JSON-RPC on stdout.
 */
function project(config: string) {
  const dir = tempDir('mcpw-gws-');
  const path = join(dir, 'mcp-warden.yaml');
  writeFileSync(path, config);
  return { dir, path, env: gatewayEnv(dir) };
}

/** `gateway` on raw pipes, already sent `initialize`; `close()` ends stdin and answers the exit code. */
const textOf = (r: unknown) => (r as { content: { text: string }[] }).content[0]!.text;

describe('gateway --stdio', () => {
  it('serves the SDK client: merged tools, calls, prompts and resources', async () => {
    const { dir, path, env } = project(upstreams(['a', 'b!']));
    const client = new Client({ name: 'desktop', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'gateway', '--stdio', '--config', path],
        env: env as Record<string, string>,
        cwd: dir,
        stderr: 'ignore',
      }),
    );
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      // b is unprefixed: its names stay; where they clash with a's, a keeps its prefix anyway.
      expect(names).toEqual(expect.arrayContaining(['a__whoami', 'whoami', 'sleep', 'a__sleep']));
      expect(JSON.parse(textOf(await client.callTool({ name: 'whoami' })))).toMatchObject({ label: 'b' });
      expect(JSON.parse(textOf(await client.callTool({ name: 'a__whoami' })))).toMatchObject({ label: 'a' });
      const greet = await client.getPrompt({ name: 'greet', arguments: { who: 'y' } });
      expect(greet.messages[0]!.content).toMatchObject({ text: 'hello y from b' });
    } finally {
      await client.close();
    }
  });

  it('writes only JSON-RPC lines to stdout, and exits 0 when stdin closes', async () => {
    const gw = stdioGateway(project(upstreams(['a'])));
    gw.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    gw.send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'a__log', arguments: { text: 'hi' } },
    });
    gw.send('not json');
    await eventually(() => gw.out().includes('"id":2'), 15_000);
    const code = await gw.close();
    const [out, err] = [gw.out(), gw.err()];
    expect(code, err).toBe(0);
    const lines = out.trim().split('\n');
    for (const l of lines) expect(JSON.parse(l)).toMatchObject({ jsonrpc: '2.0' });
    expect(lines.some((l) => l.includes('"logged"'))).toBe(true);
    // The upstream's own stderr line reached our stderr, never stdout.
    expect(err).toMatch(/gateway-upstream a: ready/);
    expect(out).not.toMatch(/ready/);
  });

  it('masks a server’s secret when the server prints it to stderr, and never puts it on stdout', async () => {
    const token = 'leaky-canary-5d7e9a1b3c';
    const { dir, path, env } = project(
      upstreams(['a']).replace('    args:', '    secrets: [LEAKY_TOKEN]\n    args:'),
    );
    expect(runCli(['secret', 'set', 'LEAKY_TOKEN'], { env, cwd: dir, input: token }).code).toBe(0);
    const gw = stdioGateway({ dir, path, env });
    gw.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'a__whoami', arguments: {} } });
    await eventually(() => /using token/.test(gw.err()), 15_000);
    await gw.close();
    const [out, err] = [gw.out(), gw.err()];
    expect(err).toMatch(/using token \[redacted:LEAKY_TOKEN\]/);
    expect(err + out).not.toContain(token);
  });
});
