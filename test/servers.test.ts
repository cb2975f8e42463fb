import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { recognise } from '../src/servers/catalog.js';
import { parseServers } from '../src/servers/schema.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

function project(yaml: string) {
  const dir = tempDir('mcpw-srv-');
  writeFileSync(join(dir, 'mcp-warden.yaml'), yaml);
  const env = { MCP_WARDEN_HOME: join(dir, 'home'), HOME: dir, XDG_RUNTIME_DIR: dir };
  return {
    dir,
    env,
    cli: (args: string[], input?: string) =>
      runCli(args, { env, cwd: dir, ...(input !== undefined && { input }) }),
  };
}

describe('config: servers', () => {
  it('errors name the file, the path inside it and what is wrong', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [
        { github: { command: 'x', secrets: [{ name: 'T', env: '1x' }] } },
        /cfg.yaml: servers.github.secrets\[0\].env: an environment variable name/,
      ],
      [
        { github: { command: 'x', url: 'https://a' } },
        /servers.github: give exactly one of command, url or image/,
      ],
      [{ github: { command: 'x', colour: 'red' } }, /servers.github: .*colour/],
      [
        { github: { command: 'x', secrets: [{ name: 'T', env: 'A', file: '/x' }] } },
        /servers.github.secrets\[0\]: give env or file, not both/,
      ],
      [{ github: { command: 'x', catalog: 'nope' } }, /servers.github.catalog: no catalog entry "nope"/],
      [
        { github: { command: 'x', env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'ghp_literal' }, catalog: 'github' } },
        /servers.github.env.GITHUB_PERSONAL_ACCESS_TOKEN: holds a literal value for a secret/,
      ],
    ];
    for (const [servers, re] of bad) await expect(parseServers('cfg.yaml', { servers })).rejects.toThrow(re);
  });

  it('fills secrets from the catalog, by name or by the package in args, with overrides', async () => {
    const [gh, custom, docs] = await parseServers('c', {
      servers: {
        gh: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github@1.2.3'] },
        custom: {
          command: 'x',
          catalog: 'github',
          secrets: [
            { name: 'GITHUB_PERSONAL_ACCESS_TOKEN', secret: 'MY_GITHUB_TOKEN', file: '/run/secrets/gh' },
          ],
        },
        docs: {
          url: 'https://docs.example.com/mcp',
          headers: { Authorization: 'Bearer secret://DOCS_TOKEN' },
        },
      },
    });
    expect(gh!.catalog).toBe('github');
    expect(gh!.needs).toEqual([
      {
        name: 'GITHUB_PERSONAL_ACCESS_TOKEN',
        secret: 'GITHUB_PERSONAL_ACCESS_TOKEN',
        env: 'GITHUB_PERSONAL_ACCESS_TOKEN',
        required: true,
        pattern: expect.any(String) as unknown,
      },
    ]);
    expect(custom!.needs[0]).toMatchObject({
      secret: 'MY_GITHUB_TOKEN',
      env: 'GITHUB_PERSONAL_ACCESS_TOKEN',
      file: '/run/secrets/gh',
    });
    expect(docs!).toMatchObject({
      kind: 'remote',
      needs: [{ ref: 'secret://DOCS_TOKEN', header: 'Authorization' }],
    });
  });

  it('the catalog knows the popular servers', () => {
    expect(recognise(['-y', '@modelcontextprotocol/server-slack'])?.id).toBe('slack');
    expect(recognise([], 'mcp/postgres:latest')?.id).toBe('postgres');
    expect(recognise(['some-other-server'])).toBeUndefined();
  });

  it('reads a Claude Desktop style mcpServers config', async () => {
    const [s] = await parseServers('claude.json', {
      mcpServers: {
        brave: {
          command: 'npx',
          args: ['-y', '@modelcontextprotocol/server-brave-search'],
          env: { BRAVE_API_KEY: 'secret://BRAVE' },
        },
      },
    });
    expect(s).toMatchObject({
      name: 'brave',
      catalog: 'brave-search',
      needs: [{ name: 'BRAVE_API_KEY', ref: 'secret://BRAVE' }],
    });
  });
});

const CONFIG = `servers:
  github:
    command: node
    args: ["-e", "", "@modelcontextprotocol/server-github"]
  slack:
    catalog: slack
    command: node
  optional:
    command: node
    secrets: [{ name: MAYBE, required: false }]
  off:
    command: node
    disabled: true
    secrets: [NEVER_SET]
`;

describe('status and check', () => {
  it('show ready, disabled (which secret, which providers asked), invalid and off; check exits 1', () => {
    const { cli } = project(CONFIG);
    cli(['secret', 'set', 'SLACK_BOT_TOKEN=not-a-bot-token']);
    const r = cli(['status']);
    expect(r.code).toBe(0);
    const rows: Record<string, string> = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l): [string, string] => [l.split(/\s+/)[0]!, l]),
    );
    expect(rows.github).toMatch(/disabled\s+GITHUB_PERSONAL_ACCESS_TOKEN is missing \(asked local, env\)/);
    expect(rows.slack).toMatch(/invalid\s+SLACK_BOT_TOKEN does not look right/);
    expect(rows.optional).toMatch(/ready/);
    expect(rows.off).toMatch(/off/);
    expect(r.stdout).not.toContain('not-a-bot-token');
    const check = cli(['check']);
    expect(check.code).toBe(1);
    expect(check.stderr).toBe('mcp-warden: github, slack cannot start\n');
    expect(cli(['check', 'optional']).code).toBe(0);
    cli(['secret', 'set', 'GITHUB_PERSONAL_ACCESS_TOKEN=ghp_x']);
    cli(['secret', 'set', 'SLACK_BOT_TOKEN=xoxb-1']);
    const json = JSON.parse(cli(['status', '--json']).stdout) as Array<{ server: string; state: string }>;
    expect(json.map((s) => `${s.server}:${s.state}`)).toEqual([
      'github:ready',
      'slack:ready',
      'optional:ready',
      'off:off',
    ]);
    expect(cli(['check']).code).toBe(0);
  });

  it('an empty or whitespace secret is invalid; --env picks the provider chain', () => {
    const { dir, cli } = project(`providers:
  local: { type: file }
  staging: { type: dotenv, path: staging.env }
environments:
  staging: { providers: [staging] }
servers:
  app:
    command: node
    secrets: [API_KEY]
`);
    writeFileSync(join(dir, 'staging.env'), 'API_KEY="   "\n');
    cli(['secret', 'set', 'API_KEY=real', '--provider', 'local']);
    expect(cli(['check']).code).toBe(0);
    const staging = cli(['status', '--env', 'staging', '--json']);
    expect(JSON.parse(staging.stdout)).toMatchObject([
      { server: 'app', state: 'invalid', problems: [{ kind: 'whitespace' }] },
    ]);
    expect(cli(['check', '--env', 'nope'])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('environments.nope is not defined (defined: staging)') as unknown,
    });
  });
});

describe('serve', () => {
  it('starts the server with its secrets as env and files, removes the files after, never passes the passphrase', async () => {
    const probe =
      `const fs=require('fs');const f=process.env.DB_PASSWORD_FILE;` +
      `console.log(JSON.stringify({tok:process.env.API_TOKEN,file:f,val:fs.readFileSync(f,'utf8'),mode:(fs.statSync(f).mode&0o777).toString(8),dir:(fs.statSync(require('path').dirname(f)).mode&0o777).toString(8),pass:process.env.MCP_WARDEN_PASSPHRASE??null}))`;
    const { dir, env } = project(`servers:
  app:
    command: node
    args: ["-e", ${JSON.stringify(probe)}]
    secrets:
      - API_TOKEN
      - { name: DB_PASSWORD, file: /run/secrets/db_password }
`);
    const withPass = { ...env, MCP_WARDEN_PASSPHRASE: 'store-passphrase' };
    runCli(['secret', 'set', 'API_TOKEN=tok-1'], { env: withPass, cwd: dir });
    runCli(['secret', 'set', 'DB_PASSWORD=pw-2'], { env: withPass, cwd: dir });
    // What a crashed run left behind: a launch directory whose process is gone.
    const { spawnSync } = await import('node:child_process');
    const { mkdirSync } = await import('node:fs');
    const deadPid = spawnSync('true').pid;
    const leftover = join(dir, 'mcp-warden', `${deadPid}.0123456789ab`);
    mkdirSync(leftover, { recursive: true, mode: 0o700 });
    writeFileSync(join(leftover, 'db_password'), 'stale-secret', { mode: 0o400 });
    const r = runCli(['serve', 'app'], { env: withPass, cwd: dir });
    expect(existsSync(leftover)).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string | null>;
    expect(out).toMatchObject({ tok: 'tok-1', val: 'pw-2', mode: '400', dir: '700', pass: null });
    expect(out.file).toMatch(new RegExp(`^${dir}/mcp-warden/\\d+\\.[0-9a-f]+/db_password$`));
    expect(existsSync(out.file!)).toBe(false);
    expect(readdirSync(join(dir, 'mcp-warden'))).toEqual([]);
  });

  it('a server missing its secret does not start; exit codes pass through', () => {
    const { dir, cli } = project(`servers:
  app: { command: node, args: ["-e", "require('fs').writeFileSync('started','')"], secrets: [NOPE] }
  exit7: { command: node, args: ["-e", "process.exit(7)"] }
  missing: { command: definitely-not-a-command-here }
`);
    const r = cli(['serve', 'app']);
    expect(r).toMatchObject({
      code: 1,
      stderr: 'mcp-warden: server "app" is disabled: NOPE is missing (asked local, env)\n',
    });
    expect(existsSync(join(dir, 'started'))).toBe(false);
    expect(cli(['serve', 'exit7']).code).toBe(7);
    expect(cli(['serve', 'missing'])).toMatchObject({
      code: 127,
      stderr: expect.stringContaining('command not found') as unknown,
    });
    expect(cli(['serve', 'nope'])).toMatchObject({ code: 2 });
  });
});

describe('container placement of secrets', () => {
  it('follows file:, then the image label x-secret:NAME=/path or env:VAR, then /run/secrets/<name>', async () => {
    const { placements } = await import('../src/delivery/container.js');
    const [server] = await parseServers('c', {
      servers: {
        s: {
          image: 'img',
          secrets: ['PLAIN', 'LABELLED', 'VIA_ENV', { name: 'EXPLICIT', file: '/etc/app/key' }],
        },
      },
    });
    const labels = { 'x-secret:LABELLED': '/var/run/app/labelled', 'x-secret:VIA_ENV': 'env:APP_TOKEN' };
    expect(
      placements(server!, server!.needs, labels).map((p) => `${p.need.name} ${p.target} ${p.variable}`),
    ).toEqual([
      'PLAIN /run/secrets/plain PLAIN_FILE',
      'LABELLED /var/run/app/labelled LABELLED_FILE',
      'VIA_ENV /run/secrets/via_env APP_TOKEN_FILE',
      'EXPLICIT /etc/app/key EXPLICIT_FILE',
    ]);
    expect(() => placements(server!, server!.needs, { 'x-secret:PLAIN': '/run/../etc/shadow' })).toThrow(
      /not a plain absolute path/,
    );
  });
});

describe('serve: the fixture MCP server as a local process', () => {
  it('reports its secret received as env in one server and as a file in another, by hash only', async () => {
    const { spawn } = await import('node:child_process');
    const { createHash } = await import('node:crypto');
    const { rpcClient } = await import('./helpers/docker-rpc.js');
    const { CLI } = await import('./helpers/cli.js');
    const server = join(process.cwd(), 'test', 'fixtures', 'mcp-server', 'server.mjs');
    const { dir, env } = project(`servers:
  as-env: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(server)}], secrets: [CANARY_TOKEN] }
  as-file: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(server)}], secrets: [{ name: CANARY_TOKEN, file: /run/secrets/canary_token }] }
`);
    const canary = 'process-canary-0b7e41';
    runCli(['secret', 'set', 'CANARY_TOKEN'], { env, cwd: dir, input: canary });
    for (const [name, source] of [
      ['as-env', 'env'],
      ['as-file', 'file'],
    ] as const) {
      const child = spawn(process.execPath, [CLI, 'serve', name], {
        env: { PATH: process.env.PATH, ...env },
        cwd: dir,
      });
      const rpc = rpcClient(child.stdin, child.stdout);
      await rpc.call('initialize', {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '0' },
      });
      const info = await rpc.call('tools/call', { name: 'secret_info', arguments: { name: 'CANARY_TOKEN' } });
      expect(info.result?.structuredContent).toMatchObject({
        source,
        sha256: createHash('sha256').update(canary).digest('hex'),
      });
      expect(JSON.stringify(info)).not.toContain(canary);
      child.stdin.end();
      expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    }
  });
});
