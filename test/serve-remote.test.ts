import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from './helpers/cli.js';
import { rpcClient } from './helpers/docker-rpc.js';
import { remoteMcp } from './helpers/remote-mcp.js';
import { tempDir } from './helpers/tmp.js';

/**
 * `serve` of a remote Streamable HTTP server (the SDK's own server, on 127.0.0.1): the header's
 * `secret://` reference is resolved at connect time and the server sees the real token.
 */
const TOKEN = 'remote-canary-token-6f1d2c';
let url: string;
let seen: string[];

beforeAll(async () => {
  ({ url, seen } = await remoteMcp(TOKEN));
});

function project(name: string) {
  const dir = tempDir('mcpw-remote-');
  writeFileSync(
    join(dir, 'mcp-warden.yaml'),
    `servers:\n  ${name}:\n    url: ${url}\n    headers: { Authorization: "Bearer secret://DOCS_TOKEN" }\n`,
  );
  return { dir, env: { PATH: process.env.PATH, HOME: dir, MCP_WARDEN_HOME: join(dir, 'home') } };
}

describe('serve: a remote Streamable HTTP server', () => {
  it('sends the resolved header and relays the answers; the token never reaches stdout, stderr or argv', async () => {
    const { dir, env } = project('docs');
    runCli(['secret', 'set', 'DOCS_TOKEN'], { env, cwd: dir, input: TOKEN });
    const child = spawn(process.execPath, [CLI, 'serve', 'docs'], { env, cwd: dir });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const rpc = rpcClient(child.stdin, child.stdout);
    const init = await rpc.call('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 't', version: '0' },
    });
    expect(init.result, stderr).toMatchObject({ serverInfo: { name: 'remote-fixture' } });
    rpc.notify('notifications/initialized');
    const echoed = await rpc.call('tools/call', {
      name: 'echo',
      arguments: { text: 'hello through the bridge' },
    });
    expect(echoed.result).toMatchObject({ content: [{ type: 'text', text: 'hello through the bridge' }] });
    expect(seen.filter((h) => h === `Bearer ${TOKEN}`).length).toBeGreaterThanOrEqual(2);
    expect(readFileSync(`/proc/${child.pid}/cmdline`, 'utf8')).not.toContain(TOKEN);
    child.stdin.end();
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    expect(stdout + stderr).not.toContain(TOKEN);
  });

  it('a wrong token answers the request with a JSON-RPC error instead of leaving the client waiting', async () => {
    const { dir, env } = project('docs');
    runCli(['secret', 'set', 'DOCS_TOKEN=wrong-token-value'], { env, cwd: dir });
    const child = spawn(process.execPath, [CLI, 'serve', 'docs'], { env, cwd: dir });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const rpc = rpcClient(child.stdin, child.stdout);
    const init = await rpc.call('initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 't', version: '0' },
    });
    expect(init.error?.message).toMatch(/remote server .* failed/);
    child.stdin.end();
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(1);
    expect(stderr).toContain('request failed');
    expect(stderr).not.toContain('wrong-token-value');
  });
});
