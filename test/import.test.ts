import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ClientServer } from '../src/clients.js';
import { planImport } from '../src/import/plan.js';
import { runCli } from './helpers/cli.js';
import { rpcClient } from './helpers/docker-rpc.js';
import { remoteMcp } from './helpers/remote-mcp.js';
import { tempDir } from './helpers/tmp.js';

const FIXTURE = join(process.cwd(), 'test', 'fixtures', 'mcp-server', 'server.mjs');
const GH = 'ghp_FAKEfake0123456789abcdefABCDEF012345';
const ANT = 'sk-ant-FAKEfakefakefakefakefake0123';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function home() {
  const dir = tempDir('mcpw-import-');
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    MCP_WARDEN_HOME: join(dir, 'data'),
    XDG_CONFIG_HOME: join(dir, '.config'),
  };
  return { dir, env, cli: (args: string[]) => runCli(args, { env, cwd: dir }) };
}

/** Starts a rewritten server entry the way an MCP client does, and calls one tool. */
async function launch(
  entry: ClientServer,
  env: NodeJS.ProcessEnv,
  tool: string,
  args: Record<string, unknown>,
) {
  const child = spawn(entry.command!, entry.args ?? [], { env: { ...env, ...entry.env } });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const rpc = rpcClient(child.stdin, child.stdout);
  const init = await rpc.call('initialize', {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 't', version: '0' },
  });
  expect(init.error, stderr).toBeUndefined();
  rpc.notify('notifications/initialized');
  const answer = await rpc.call('tools/call', { name: tool, arguments: args });
  child.stdin.end();
  await new Promise((resolve) => child.on('close', resolve));
  return { answer, stderr };
}

describe('import: the plan', () => {
  it('moves env and header secrets, rewrites through run and serve --url, and leaves argv secrets reported', async () => {
    const plan = await planImport(
      'mcpServers',
      {
        gh: { command: 'npx', args: ['-y', 'pkg'], env: { GITHUB_TOKEN: GH, LOG: 'debug' } },
        gh2: { command: 'npx', env: { GITHUB_TOKEN: 'ghp_OTHERfake0123456789abcdefABCDEF0123' } },
        pg: { command: 'x', args: ['postgresql://a:pw@h/db'] },
        docs: { url: 'https://docs.example/mcp', headers: { Authorization: `Bearer ${ANT}` } },
      },
      ['mcp-warden'],
      async () => false,
      false,
    );
    expect(plan.stores.map((s) => `${s.name} ${s.where}`)).toEqual([
      'GITHUB_TOKEN mcpServers.gh.env.GITHUB_TOKEN',
      'GH2_GITHUB_TOKEN mcpServers.gh2.env.GITHUB_TOKEN',
      'DOCS_AUTHORIZATION mcpServers.docs.headers.Authorization',
    ]);
    expect(plan.servers.gh).toEqual({
      command: 'mcp-warden',
      args: ['run', '--', 'npx', '-y', 'pkg'],
      env: { GITHUB_TOKEN: 'secret://GITHUB_TOKEN', LOG: 'debug' },
    });
    expect(plan.servers.docs).toEqual({
      command: 'mcp-warden',
      args: [
        'serve',
        '--url',
        'https://docs.example/mcp',
        '--header',
        'Authorization: Bearer secret://DOCS_AUTHORIZATION',
      ],
    });
    expect(plan.servers.pg).toEqual({ command: 'x', args: ['postgresql://a:pw@h/db'] });
    expect(plan.unmovable).toMatchObject([{ where: 'mcpServers.pg.args[0]', reason: 'password in a URL' }]);
    expect(JSON.stringify(plan.servers)).not.toContain(GH);
  });
});

describe('import: the three clients, end to end', () => {
  let remote: { url: string; seen: string[] };
  beforeAll(async () => {
    remote = await remoteMcp(ANT);
  });

  it('Claude Desktop: --dry-run changes nothing; import leaves no plaintext and the server still gets its secret', async () => {
    const { dir, env, cli } = home();
    const file = join(dir, '.config', 'Claude', 'claude_desktop_config.json');
    mkdirSync(join(dir, '.config', 'Claude'), { recursive: true });
    const original = JSON.stringify(
      {
        mcpServers: {
          fixture: {
            command: process.execPath,
            args: [FIXTURE],
            env: { CANARY_TOKEN: GH, LOG_LEVEL: 'debug' },
          },
        },
      },
      null,
      2,
    );
    writeFileSync(file, original, { mode: 0o600 });

    const dry = cli(['import', 'claude', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(
      'mcpServers.fixture.env.CANARY_TOKEN: ghp_**** (40 chars) -> would store as secret://CANARY_TOKEN in local',
    );
    expect(readFileSync(file, 'utf8')).toBe(original);
    expect(dry.stdout + dry.stderr).not.toContain(GH);

    const r = cli(['import', 'claude']);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(GH);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(cli(['scan', file]).code).toBe(0);
    const entry = (JSON.parse(text) as { mcpServers: Record<string, ClientServer> }).mcpServers.fixture!;
    expect(entry.env).toEqual({ CANARY_TOKEN: 'secret://CANARY_TOKEN', LOG_LEVEL: 'debug' });
    const { answer } = await launch(entry, env, 'secret_info', { name: 'CANARY_TOKEN' });
    expect(answer.result?.structuredContent).toMatchObject({ source: 'env', sha256: sha256(GH) });
  });

  it('Cursor: a remote server with a bearer token goes through serve --url with a reference', async () => {
    const { dir, env, cli } = home();
    const file = join(dir, '.cursor', 'mcp.json');
    mkdirSync(join(dir, '.cursor'));
    writeFileSync(
      file,
      JSON.stringify({
        mcpServers: { docs: { url: remote.url, headers: { Authorization: `Bearer ${ANT}` } } },
      }),
    );
    expect(cli(['import', 'cursor']).code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(ANT);
    const entry = (JSON.parse(text) as { mcpServers: Record<string, ClientServer> }).mcpServers.docs!;
    expect(entry.args).toContain('Authorization: Bearer secret://DOCS_AUTHORIZATION');
    const { answer, stderr } = await launch(entry, env, 'echo', { text: 'via cursor' });
    expect(answer.result, stderr).toMatchObject({ content: [{ text: 'via cursor' }] });
    expect(remote.seen).toContain(`Bearer ${ANT}`);
  });

  it('VS Code: servers with comments; an argv secret is reported and left, the rest moved (exit 1)', async () => {
    const { dir, env, cli } = home();
    const file = join(dir, '.config', 'Code', 'User', 'mcp.json');
    mkdirSync(join(dir, '.config', 'Code', 'User'), { recursive: true });
    writeFileSync(
      file,
      `{
  // comments are allowed here
  "servers": {
    "fixture": { "type": "stdio", "command": ${JSON.stringify(process.execPath)}, "args": [${JSON.stringify(FIXTURE)}], "env": { "CANARY_TOKEN": "${GH}" } },
    "pg": { "type": "stdio", "command": "x", "args": ["postgresql://app:hunter2-db@localhost/app"] },
  }
}
`,
    );
    const r = cli(['import', 'vscode']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('mcp.json: servers.pg.args[0]: password in a URL left in place');
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { servers: Record<string, ClientServer> };
    expect(JSON.stringify(doc)).not.toContain(GH);
    expect(doc.servers.fixture).toMatchObject({
      type: 'stdio',
      env: { CANARY_TOKEN: 'secret://CANARY_TOKEN' },
    });
    const { answer } = await launch(doc.servers.fixture!, env, 'secret_info', { name: 'CANARY_TOKEN' });
    expect(answer.result?.structuredContent).toMatchObject({ source: 'env', sha256: sha256(GH) });
  });
});
