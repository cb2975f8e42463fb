import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from './helpers/cli.js';
import { tempDir } from './helpers/tmp.js';

/** Every case gets its own data directory; the session bus is left out so the chain is local, env. */
function fresh(extra: NodeJS.ProcessEnv = {}) {
  const dir = tempDir('mcpw-cli-');
  const env = { MCP_WARDEN_HOME: join(dir, 'home'), HOME: dir, ...extra };
  return {
    dir,
    env,
    cli: (args: string[], input?: string) =>
      runCli(args, { env, cwd: dir, ...(input !== undefined && { input }) }),
  };
}

describe('secret set / get / ls / inspect / rm', () => {
  it('stores inline, from stdin and from a file, and reads back exactly', () => {
    const { dir, cli } = fresh();
    expect(cli(['secret', 'set', 'INLINE=in=line'])).toMatchObject({
      code: 0,
      stdout: 'stored INLINE in local (version 1)\n',
    });
    expect(cli(['secret', 'set', 'PIPED'], 'from stdin\n').code).toBe(0);
    writeFileSync(join(dir, 'cert.pem'), '-----BEGIN-----\nabc\n-----END-----\n');
    expect(cli(['secret', 'set', 'CERT', '--from-file', join(dir, 'cert.pem')]).code).toBe(0);
    expect(cli(['secret', 'get', 'INLINE']).stdout).toBe('in=line\n');
    expect(cli(['secret', 'get', 'PIPED', '-n']).stdout).toBe('from stdin');
    expect(cli(['secret', 'get', 'CERT', '--no-newline']).stdout).toBe(
      '-----BEGIN-----\nabc\n-----END-----\n',
    );
    expect(cli(['secret', 'get', 'secret://local/INLINE']).stdout).toBe('in=line\n');
  });

  it('a second set updates the secret where it lives, and bumps its version', () => {
    const { cli } = fresh();
    cli(['secret', 'set', 'T=one']);
    expect(cli(['secret', 'set', 'T=two']).stdout).toBe('stored T in local (version 2)\n');
    const ls = JSON.parse(cli(['secret', 'ls', '--json']).stdout) as Array<Record<string, unknown>>;
    expect(ls).toEqual([
      {
        name: 'T',
        provider: 'local',
        created: expect.any(String) as unknown,
        updated: expect.any(String) as unknown,
        version: 2,
      },
    ]);
    const table = cli(['secret', 'ls']).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+PROVIDER\s+CREATED\s+UPDATED\s+VERSION$/);
    expect(table[1]).toMatch(/^T\s+local\s+\S+\s+\S+\s+2$/);
    const inspect = JSON.parse(cli(['secret', 'inspect', 'T', '--json']).stdout) as Array<
      Record<string, unknown>
    >;
    expect(inspect[0]).toMatchObject({
      name: 'T',
      provider: 'local',
      type: 'file',
      version: 2,
      active: true,
    });
  });

  it('rm removes; rm --all asks, refuses without a terminal, and takes --yes', () => {
    const { cli } = fresh();
    for (const n of ['A', 'B', 'C']) cli(['secret', 'set', `${n}=v`]);
    expect(cli(['secret', 'rm', 'A'])).toMatchObject({ code: 0, stdout: 'removed A from local\n' });
    expect(cli(['secret', 'get', 'A']).code).toBe(1);
    expect(cli(['secret', 'rm', 'A'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^mcp-warden: secret "A" not found/) as unknown,
    });
    const refused = cli(['secret', 'rm', '--all']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect(JSON.parse(cli(['secret', 'ls', '--json']).stdout)).toHaveLength(2);
    expect(cli(['secret', 'rm', '--all', '--yes']).code).toBe(0);
    expect(JSON.parse(cli(['secret', 'ls', '--json']).stdout)).toEqual([]);
  });

  it('exit codes and one-line errors: 1 for a failed operation, 2 for bad usage', () => {
    const { cli } = fresh();
    const cases: Array<[string[], number, RegExp]> = [
      [
        ['secret', 'get', 'MISSING'],
        1,
        /^mcp-warden: secret "MISSING" not found in providers local, env; store it with: mcp-warden secret set MISSING\n$/,
      ],
      [['secret', 'get', '../etc/passwd'], 1, /^mcp-warden: invalid secret name "..\/etc\/passwd"/],
      [['secret', 'set', 'a/b=x'], 1, /^mcp-warden: invalid secret name/],
      [['secret', 'set', 'EMPTY='], 1, /^mcp-warden: refusing to store an empty value/],
      [['secret', 'get'], 2, /^mcp-warden: secret get takes exactly one/],
      [['secret', 'get', 'X', '--bogus'], 2, /^mcp-warden: Unknown option '--bogus'/],
      [['secret', 'frobnicate'], 2, /^mcp-warden: unknown command "secret frobnicate"/],
      [['nope'], 2, /^mcp-warden: unknown command "nope"/],
      [['secret', 'set', 'X=1', '--provider', 'env'], 1, /^mcp-warden: provider "env" \(env\) is read-only/],
      [['secret', 'get', 'X', '--provider', 'vault'], 1, /^mcp-warden: no provider named "vault"/],
      [
        ['secret', 'set', 'X', '--from-file', '/nonexistent/file'],
        1,
        /^mcp-warden: cannot read \/nonexistent\/file/,
      ],
    ];
    for (const [args, code, err] of cases) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(err);
      expect(r.stderr.trimEnd().split('\n'), args.join(' ')).toHaveLength(1);
    }
    // Nothing was stored by any of the failures.
    expect(JSON.parse(cli(['secret', 'ls', '--json']).stdout)).toEqual([]);
  });

  it('--help answers for every command with exit 0', () => {
    const { cli } = fresh();
    for (const sub of ['set', 'get', 'ls', 'rm', 'inspect', 'diagnose', 'migrate', 'import']) {
      const r = cli(['secret', sub, '--help']);
      expect(r.code, sub).toBe(0);
      expect(r.stdout, sub).toContain(`mcp-warden secret ${sub}`);
    }
    expect(cli(['--help']).stdout).toContain('secret diagnose');
  });
});

describe('secret set with a hidden prompt (a real pseudo-terminal via script(1))', () => {
  it('reads the value without echoing it', async () => {
    const { dir, env } = fresh();
    const cmd = `${process.execPath} ${CLI} secret set PROMPTED`;
    const child = spawn('script', ['-qf', '--echo', 'never', '-c', cmd, '/dev/null'], {
      env: { PATH: process.env.PATH, ...env },
      cwd: dir,
    });
    let out = '';
    // --echo never: script(1) itself would otherwise copy our keystrokes to its output. Typing
    // waits for the prompt, so the no-echo mode of the CLI, not luck, keeps the value unseen.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no prompt; got ${JSON.stringify(out)}`)), 20_000);
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
        if (out.includes('(hidden): ') && !out.includes('typed')) child.stdin.write('typed-canary-5d1\r');
      });
      child.on('close', () => (clearTimeout(timer), resolve()));
    });
    expect(out).toContain('Value for PROMPTED (hidden):');
    expect(out).toContain('stored PROMPTED in local');
    expect(out).not.toContain('typed-canary-5d1');
    expect(runCli(['secret', 'get', 'PROMPTED'], { env, cwd: dir }).stdout).toBe('typed-canary-5d1\n');
  });
});

describe('secret diagnose', () => {
  it('has a row per backend, detects later backends, and recommends the file store without a keychain', () => {
    const { dir, cli } = fresh();
    mkdirSync(join(dir, '.kube'));
    writeFileSync(join(dir, '.kube', 'config'), 'apiVersion: v1\nkind: Config\ncurrent-context: kind-dev\n');
    const r = runCli(['secret', 'diagnose', '--json'], {
      env: { MCP_WARDEN_HOME: join(dir, 'home'), HOME: dir, VAULT_ADDR: 'https://vault.example:8200' },
      cwd: dir,
    });
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as {
      rows: Array<{ backend: string; usable: boolean; reason: string }>;
      recommended: { provider: string };
      chain: string[];
    };
    const row = (b: string) => d.rows.find((x) => x.backend === b);
    for (const b of [
      'file',
      'keychain',
      'dotenv',
      'env',
      'docker-desktop',
      'swarm',
      'kubernetes',
      'vault',
      'aws',
      'azure',
      'gcp',
    ])
      expect(row(b), b).toBeDefined();
    expect(d.rows.some((x) => x.backend.startsWith('credential-helper'))).toBe(true);
    expect(row('file')).toMatchObject({ usable: true });
    expect(row('keychain')).toMatchObject({
      usable: false,
      reason: expect.stringContaining('D-Bus') as unknown,
    });
    expect(row('kubernetes')).toMatchObject({
      usable: true,
      reason: expect.stringContaining('kind-dev') as unknown,
    });
    expect(row('vault')).toMatchObject({
      usable: true,
      reason: expect.stringContaining('https://vault.example:8200') as unknown,
    });
    expect(d.recommended.provider).toBe('local');
    expect(d.chain).toEqual(['local', 'env']);
    const text = cli(['secret', 'diagnose']);
    expect(text.stdout).toMatch(/^BACKEND\s+USABLE\s+REASON/);
    expect(text.stdout).toContain('Recommended: store secrets in "local"');
    expect(text.stdout).not.toContain('\x1b[');
  });

  it('recommends the keychain, and set stores there, when gnome-keyring is usable', () => {
    const { env, cli } = fresh({
      DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS,
      MCP_WARDEN_KEYCHAIN_SERVICE: `mcp-warden-cli-test-${process.pid}`,
    });
    const d = JSON.parse(cli(['secret', 'diagnose', '--json']).stdout) as {
      recommended: { provider: string };
      chain: string[];
    };
    expect(d.chain).toEqual(['local', 'keychain', 'env']);
    expect(d.recommended.provider).toBe('keychain');
    expect(cli(['secret', 'set', 'IN_KEYCHAIN=kc']).stdout).toBe('stored IN_KEYCHAIN in keychain\n');
    expect(cli(['secret', 'get', 'IN_KEYCHAIN']).stdout).toBe('kc\n');
    expect(cli(['secret', 'set', 'IN_FILE=f', '--provider', 'local']).stdout).toContain('in local');
    const ls = JSON.parse(cli(['secret', 'ls', '--json']).stdout) as Array<{
      name: string;
      provider: string;
    }>;
    expect(ls.map((s) => `${s.provider}/${s.name}`).sort()).toEqual([
      'keychain/IN_KEYCHAIN',
      'local/IN_FILE',
    ]);
    expect(cli(['secret', 'rm', 'IN_KEYCHAIN']).stdout).toBe('removed IN_KEYCHAIN from keychain\n');
    expect(env.MCP_WARDEN_HOME).toBeDefined();
  });
});

describe('secret import and migrate', () => {
  it('imports a dotenv file with dotenv rules, checking every name first', () => {
    const { dir, cli } = fresh();
    writeFileSync(join(dir, 'app.env'), 'export API_KEY="k-1"\n# comment\nMULTI="line1\\nline2"\nEMPTY=\n');
    const r = cli(['secret', 'import', join(dir, 'app.env')]);
    expect(r).toMatchObject({
      code: 0,
      stdout: `imported 2 secrets from ${join(dir, 'app.env')} into local\n`,
    });
    expect(r.stderr).toContain('skipping empty EMPTY');
    expect(cli(['secret', 'get', 'MULTI', '-n']).stdout).toBe('line1\nline2');
    writeFileSync(join(dir, 'bad.env'), 'GOOD=1\n9BAD=2\n');
    expect(cli(['secret', 'import', join(dir, 'bad.env')])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('"9BAD"') as unknown,
    });
    expect(cli(['secret', 'get', 'GOOD']).code).toBe(1);
  });

  it('migrates with read-back, deletes the source only on full success, and keeps it on any failure', () => {
    const { dir, cli } = fresh();
    const cfg = join(dir, 'mcp-warden.yaml');
    writeFileSync(
      cfg,
      `providers:\n  local:\n    type: file\n  dot:\n    type: dotenv\n    path: ${join(dir, 'target.env')}\n`,
    );
    cli(['secret', 'set', 'ONE=1']);
    cli(['secret', 'set', 'TWO=two words']);
    const ok = cli(['secret', 'migrate', '--from', 'local', '--to', 'dot', '--delete-source']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('copied 2 of 2 secrets from local to dot; removed 2 from local\n');
    expect(readFileSync(join(dir, 'target.env'), 'utf8')).toBe("ONE=1\nTWO='two words'\n");
    expect(JSON.parse(cli(['secret', 'ls', '--provider', 'local', '--json']).stdout)).toEqual([]);

    // A value no .env syntax can hold: that name fails, the source stays whole.
    cli(['secret', 'set', 'FINE=ok']);
    cli(['secret', 'set', 'UNWRITABLE', '--provider', 'local'], 'a\'b"c`d\\nreal\nnewline');
    const bad = cli(['secret', 'migrate', '--from', 'local', '--to', 'dot', '--delete-source', '--json']);
    expect(bad.code).toBe(1);
    const report = JSON.parse(bad.stdout) as {
      failed: number;
      deletedFromSource: number;
      secrets: Array<{ name: string; ok: boolean }>;
    };
    expect(report).toMatchObject({ failed: 1, deletedFromSource: 0 });
    expect(report.secrets.find((s) => s.name === 'UNWRITABLE')).toMatchObject({ ok: false });
    expect(
      (JSON.parse(cli(['secret', 'ls', '--provider', 'local', '--json']).stdout) as unknown[]).length,
    ).toBe(2);
  });
});

describe('canary: no command but get prints a value, and no value reaches an argv', () => {
  const CANARY = 'canary-7f3e9b2c-d41d-4e5a';
  let fx: ReturnType<typeof fresh>;
  let argvLog: string;

  beforeAll(() => {
    // A docker-credential helper that records every argv it is started with.
    const bin = join(tempDir('mcpw-bin-'), 'bin');
    mkdirSync(bin);
    argvLog = join(bin, 'argv.log');
    const store = join(bin, 'store');
    mkdirSync(store);
    const helper = join(bin, 'docker-credential-canary');
    writeFileSync(
      helper,
      `#!/bin/sh
echo "$0 $*" >> ${argvLog}
in=$(cat)
case "$1" in
  store) url=$(printf '%s' "$in" | sed 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/'); printf '%s' "$in" > "${store}/$(printf '%s' "$url" | base64 | tr -d '\\n/')";;
  get) f="${store}/$(printf '%s' "$in" | base64 | tr -d '\\n/')"; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi;;
  erase) rm -f "${store}/$(printf '%s' "$in" | base64 | tr -d '\\n/')";;
  list) echo '{}';;
esac
`,
    );
    chmodSync(helper, 0o755);
    fx = fresh({ PATH: `${bin}:${process.env.PATH}` });
    writeFileSync(
      join(fx.dir, 'mcp-warden.yaml'),
      `providers:\n  local:\n    type: file\n  helper:\n    type: credential-helper\n    helper: canary\n  env:\n    type: env\n`,
    );
  });

  it('only get prints the value; every other command keeps it out of stdout and stderr', () => {
    const { cli, dir } = fx;
    writeFileSync(join(dir, 'canary.env'), `IMPORTED=${CANARY}\n`);
    const runs: Array<[string[], string?]> = [
      [['secret', 'set', 'CANARY'], CANARY + '\n'],
      [['secret', 'set', 'CANARY', '--provider', 'helper'], CANARY],
      [['secret', 'ls']],
      [['secret', 'ls', '--json']],
      [['secret', 'ls', '--provider', 'helper', '--json']],
      [['secret', 'inspect', 'CANARY']],
      [['secret', 'inspect', 'CANARY', '--json']],
      [['secret', 'diagnose']],
      [['secret', 'diagnose', '--json']],
      [['secret', 'import', join(dir, 'canary.env')]],
      [['secret', 'migrate', '--from', 'local', '--to', 'helper']],
      [['secret', 'get', 'CANARY', '--debug', '--provider', 'nope']],
      [['secret', 'set', 'CANARY=' + CANARY, '--provider', 'env']],
      [['secret', 'rm', 'IMPORTED']],
    ];
    for (const [args, input] of runs) {
      const r = cli(args, input);
      expect(r.stdout + r.stderr, args.join(' ')).not.toContain(CANARY);
      expect(r.stdout + r.stderr, args.join(' ')).not.toContain(Buffer.from(CANARY).toString('base64'));
    }
    expect(cli(['secret', 'get', 'CANARY']).stdout).toBe(CANARY + '\n');
    expect(cli(['secret', 'get', 'CANARY', '--provider', 'helper']).stdout).toBe(CANARY + '\n');
  });

  it('the credential helper got the value on stdin, never in its argv', () => {
    expect(existsSync(argvLog)).toBe(true);
    const log = readFileSync(argvLog, 'utf8');
    expect(log).toMatch(/docker-credential-canary store/);
    expect(log).toMatch(/docker-credential-canary get/);
    expect(log).not.toContain(CANARY);
  });
});
