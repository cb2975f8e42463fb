import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFile } from '../src/detect/scan.js';
import { detect, detectArgs } from '../src/detect/secrets.js';
import { runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

const FIXTURES = join(process.cwd(), 'test', 'fixtures', 'clients');

describe('secret detection', () => {
  it('finds secrets by value shape and by setting name, and skips references and placeholders', () => {
    expect(detect('X', 'ghp_FAKEfake0123456789abcdefABCDEF012345')).toMatchObject({ shape: 'github' });
    expect(detect('Authorization', 'Bearer sk-ant-FAKEfakefakefakefakefake0123')).toMatchObject({
      shape: 'anthropic',
    });
    expect(detect('DB_PASSWORD', 'hunter2')).toMatchObject({ reason: 'setting named DB_PASSWORD' });
    expect(detect('LOG_LEVEL', 'debug')).toBeUndefined();
    for (const v of [
      'secret://X',
      '${input:token}',
      '${env:TOKEN}',
      '<your-api-key>',
      'your-api-key',
      'xxxx',
      '',
    ])
      expect(detect('API_KEY', v), v).toBeUndefined();
    expect(
      detectArgs(['-y', 'pkg', '--token', 'xoxb-FAKE-0000000000-abcdefghijkl', '--api-key=abcdef123']),
    ).toMatchObject([
      { index: 3, flag: '--token', shape: 'slack' },
      { index: 4, flag: '--api-key', reason: 'setting named api_key' },
    ]);
  });

  it('a masked hint never contains the value', () => {
    const v = 'ghp_FAKEfake0123456789abcdefABCDEF012345';
    const f = detect('T', v)!;
    expect(f.masked).toBe('ghp_**** (40 chars)');
    expect(f.masked).not.toContain(v.slice(4, 10));
  });
});

describe('scan', () => {
  it('reports every plaintext secret of the three clients with where it is', async () => {
    const claude = await scanFile(join(FIXTURES, 'claude_desktop_config.json'));
    expect(claude.findings.map((f) => f.where)).toEqual([
      'mcpServers.github.env.GITHUB_PERSONAL_ACCESS_TOKEN',
      'mcpServers.postgres.args[2]',
      'mcpServers.brave.env.BRAVE_API_KEY',
    ]);
    const cursor = await scanFile(join(FIXTURES, 'cursor-mcp.json'));
    expect(cursor.findings.map((f) => `${f.where} ${f.shape ?? ''}`)).toEqual([
      'mcpServers.slack.args[3] slack',
      'mcpServers.docs.headers.Authorization anthropic',
      'mcpServers.docs.url?api_key openai',
    ]);
    const vscode = await scanFile(join(FIXTURES, 'vscode-mcp.json'));
    expect(vscode.findings.map((f) => f.where)).toEqual([
      'servers.aws.env.AWS_ACCESS_KEY_ID',
      'servers.aws.env.AWS_SECRET_ACCESS_KEY',
    ]);
  });

  it('the CLI exits 1 when something is found, flags world-readable and git-tracked files, and never prints a value', () => {
    const dir = tempDir('mcpw-scan-');
    execFileSync('git', ['init', '-q', dir]);
    writeFileSync(join(dir, '.env'), 'OPENAI_API_KEY=sk-FAKEfakefakefakefakefake0123\nDEBUG=1\n', {
      mode: 0o644,
    });
    chmodSync(join(dir, '.env'), 0o644);
    execFileSync('git', ['add', '.env'], { cwd: dir });
    copyFileSync(join(FIXTURES, 'claude_desktop_config.json'), join(dir, 'claude.json'));
    const r = runCli(['scan', '.env', 'claude.json'], { cwd: dir, env: { HOME: dir } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/\.env\s+line 1: OPENAI_API_KEY\s+OpenAI API key\s+sk-\*\*\*\* \(31 chars\)/);
    expect(r.stdout).toContain('.env: readable by every user on this machine');
    expect(r.stdout).toContain('.env: tracked by git');
    expect(r.stderr).toBe(
      '2 files scanned, 4 plaintext secrets found; move them into the store with: mcp-warden import PATH (client configs) or mcp-warden secret import FILE (.env)\n',
    );
    for (const secret of ['sk-FAKEfakefake', 'ghp_FAKEfake', 'BSAfakefake', 'hunter2-db'])
      expect(r.stdout + r.stderr).not.toContain(secret);
    const j = JSON.parse(
      runCli(['scan', '--json', 'claude.json'], { cwd: dir, env: { HOME: dir } }).stdout,
    ) as { findings: unknown[] };
    expect(j.findings).toHaveLength(3);
    expect(readFileSync(join(dir, 'claude.json'), 'utf8')).toBe(
      readFileSync(join(FIXTURES, 'claude_desktop_config.json'), 'utf8'),
    );
  });

  it('finds client configs at their standard places when no path is given', () => {
    const dir = tempDir('mcpw-scan-home-');
    const cfg = join(dir, '.config', 'Claude');
    execFileSync('mkdir', ['-p', cfg]);
    copyFileSync(join(FIXTURES, 'claude_desktop_config.json'), join(cfg, 'claude_desktop_config.json'));
    const r = runCli(['scan', '--json'], { cwd: dir, env: { HOME: dir } });
    expect(r.code).toBe(1);
    expect((JSON.parse(r.stdout) as { scanned: string[] }).scanned).toEqual([
      join(cfg, 'claude_desktop_config.json'),
    ]);
    const clean = tempDir('mcpw-scan-clean-');
    expect(runCli(['scan'], { cwd: clean, env: { HOME: clean } })).toMatchObject({
      code: 0,
      stderr: '0 files scanned, 0 plaintext secrets found\n',
    });
  });
});
