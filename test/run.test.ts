import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { secretForms } from '../src/run/forms.js';
import { Matcher } from '../src/run/matcher.js';
import { Redactor, SecretSet, marker, type Secret } from '../src/run/redactor.js';
import { runCli } from './helpers/cli.js';
import { oracle, randomChunks, rng } from './helpers/run-oracle.js';
import { descendants, procFile, startCli } from './helpers/run-proc.js';
import { tempDir } from './helpers/tmp.js';

const NODE = process.execPath;

/** A private store with `secrets` in it; no config, no session bus (the chain is local, env). */
function setup(secrets: Record<string, string> = {}) {
  const dir = tempDir('mcpw-run-');
  const env = { MCP_WARDEN_HOME: join(dir, 'home'), HOME: dir, XDG_CONFIG_HOME: join(dir, 'xdg') };
  for (const [name, value] of Object.entries(secrets)) {
    const r = runCli(['secret', 'set', name, '--provider', 'local'], { env, input: value, cwd: dir });
    if (r.code !== 0) throw new Error(`secret set ${name}: ${r.stderr}`);
  }
  return {
    dir,
    env,
    run: (args: string[], extra: NodeJS.ProcessEnv = {}, input?: string) =>
      runCli(['run', ...args], {
        env: { ...env, ...extra },
        cwd: dir,
        ...(input !== undefined && { input }),
      }),
    start: (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      startCli(['run', ...args], { env: { ...env, ...extra }, cwd: dir }),
  };
}

/** `node -e SCRIPT` as CMD: the script reads secrets from its environment, never from argv. */
const node = (script: string) => ['--', NODE, '-e', script];

describe('run: the environment', () => {
  it('resolves references from the environment and env files; later sources win', () => {
    const s = setup({ A: 'value-of-a', B: 'value-of-b', C: 'value-of-c' });
    writeFileSync(
      join(s.dir, 'one.env'),
      '# first\nOVERRIDDEN=file-literal\nFROM_FILE=secret://B\nBOTH=secret://A\nexport SPACED = "secret://A"\n',
    );
    writeFileSync(join(s.dir, 'two.env'), 'BOTH=secret://C\nQUOTED="secret://local/B"\n');
    const r = s.run(
      [
        '--env-file',
        'one.env',
        '--env-file',
        'two.env',
        '--no-redact',
        ...node(
          'const e=process.env;console.log(JSON.stringify([e.FROM_ENV,e.OVERRIDDEN,e.LITERAL,e.FROM_FILE,e.BOTH,e.QUOTED,e.SPACED]))',
        ),
      ],
      // OVERRIDDEN's reference is never asked for: the file replaces it first.
      { FROM_ENV: 'secret://A', OVERRIDDEN: 'secret://NOT_STORED', LITERAL: 'plain' },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      'value-of-a',
      'file-literal',
      'plain',
      'value-of-b',
      'value-of-c',
      'value-of-b',
      'value-of-a',
    ]);
  });

  it('uses the configured providers (--config)', () => {
    const s = setup();
    const secrets = join(s.dir, 'run-secrets');
    mkdirSync(secrets, { mode: 0o700 });
    writeFileSync(join(secrets, 'api_token'), 'from-a-mounted-file\n', { mode: 0o600 });
    writeFileSync(join(s.dir, 'warden.yaml'), `providers:\n  mounted: { type: dir, path: ${secrets} }\n`);
    const r = s.run(
      ['--config', 'warden.yaml', '--no-redact', ...node('console.log(process.env.A, process.env.B)')],
      {
        A: 'secret://API_TOKEN',
        B: 'secret://mounted/api_token',
      },
    );
    expect(r).toMatchObject({ code: 0, stdout: 'from-a-mounted-file from-a-mounted-file\n', stderr: '' });
  });

  it('an unresolvable reference is exit 1 naming it and its source, and CMD never starts', () => {
    const s = setup({ A: 'value-of-a' });
    const started = join(s.dir, 'started');
    const cmd = node(`require('fs').writeFileSync(${JSON.stringify(started)}, '')`);
    const fromEnv = s.run(cmd, { OK: 'secret://A', MISSING_KEY: 'secret://NOPE' });
    expect(fromEnv.code).toBe(1);
    expect(fromEnv.stderr).toMatch(
      /^mcp-warden: cannot resolve MISSING_KEY=secret:\/\/NOPE \(from the environment\): secret "NOPE" not found in providers local, env; store it with: mcp-warden secret set NOPE\n$/,
    );
    writeFileSync(join(s.dir, '.env.prod'), 'X=secret://GONE\nY=secret://local/ALSO_GONE\n');
    const fromFile = s.run(['--env-file', '.env.prod', ...cmd]);
    expect(fromFile.code).toBe(1);
    expect(fromFile.stderr).toMatch(
      /^mcp-warden: cannot resolve X=secret:\/\/GONE \(from \.env\.prod\): secret "GONE" not found.*; 1 more unresolved: Y=secret:\/\/local\/ALSO_GONE \(from \.env\.prod\)\n$/,
    );
    const invalid = s.run(cmd, { BAD: 'secret://a/../b#' });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(
      /^mcp-warden: cannot resolve BAD=secret:\/\/a\/\.\.\/b# \(from the environment\): /,
    );
    // `--env-file absent.env` never reaches mcp-warden: Node sees the flag in any position and
    // stops first, exit 9 (nodejs/node#54232); -f does reach it.
    expect(s.run(['-f', 'absent.env', ...cmd])).toMatchObject({
      code: 2,
      stderr: 'mcp-warden: --env-file absent.env: no such file\n',
    });
    expect(s.run(['--env-file', 'absent.env', ...cmd]).code).not.toBe(0);
    expect(existsSync(started)).toBe(false);
  });

  it('does not pass MCP_WARDEN_PASSPHRASE on; passes stdin through', () => {
    const s = setup({ A: 'value-of-a' });
    const passphrase = s.run(node('console.log(process.env.MCP_WARDEN_PASSPHRASE ?? "unset")'), {
      MCP_WARDEN_PASSPHRASE: 'not-for-children',
    });
    expect(passphrase).toMatchObject({ code: 0, stdout: 'unset\n', stderr: '' });
    const stdin = s.run(
      node('process.stdin.pipe(process.stdout)'),
      { X: 'secret://A' },
      'typed value-of-a\n',
    );
    expect(stdin).toMatchObject({ code: 0, stdout: 'typed [redacted:X]\n', stderr: '' });
  });

  it('refuses a value no environment variable can hold, without printing it', () => {
    const s = setup();
    writeFileSync(join(s.dir, 'binary'), 'nul\0inside-the-value');
    expect(runCli(['secret', 'set', 'BIN', '--from-file', join(s.dir, 'binary')], { env: s.env }).code).toBe(
      0,
    );
    const r = s.run(node('0'), { X: 'secret://BIN' });
    expect(r).toMatchObject({
      code: 1,
      stderr: 'mcp-warden: X: its value holds a NUL byte, which no environment variable can\n',
    });
  });

  it('usage errors: no command, a command without --', () => {
    const s = setup();
    expect(s.run([])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('run needs a command') as unknown,
    });
    expect(s.run(['ls'])).toMatchObject({ code: 2, stderr: expect.stringContaining('after --') as unknown });
    expect(s.run(['--help']).stdout).toMatch(
      /^Usage: mcp-warden run \[--env-file F\]\.\.\. \[--no-redact\] -- CMD/,
    );
    // Options after -- are CMD's, --debug included.
    const echo = node('console.log(process.argv.slice(1).join(" "))');
    expect(s.run([...echo, '--', '--debug', '--help']).stdout).toBe('--debug --help\n');
  });
});

describe('run: exit status and signals', () => {
  it('passes the exit code through; 127 not found, 126 not executable, 128+N killed', () => {
    const s = setup({ A: 'value-of-a' });
    for (const extra of [{}, { X: 'secret://A' }]) {
      expect(s.run(node('process.exit(7)'), extra).code).toBe(7);
      expect(s.run(node('process.kill(process.pid, "SIGKILL")'), extra).code).toBe(137);
    }
    expect(s.run(['--', 'no-such-command-xyz'])).toMatchObject({
      code: 127,
      stderr: 'mcp-warden: no-such-command-xyz: command not found\n',
    });
    expect(s.run(['--', s.dir]).code).toBe(126);
  });

  for (const mode of ['redacting', 'not redacting'] as const) {
    it(`forwards signals and reports how CMD ended (${mode})`, async () => {
      const s = setup({ A: 'value-of-a' });
      const extra = mode === 'redacting' ? { X: 'secret://A' } : {};
      const trap = s.start(
        node(
          `for (const s of ['SIGINT','SIGHUP','SIGQUIT','SIGUSR1','SIGUSR2']) process.on(s, () => console.log('got ' + s));` +
            `process.on('SIGTERM', () => { console.log('bye'); process.exit(42); });` +
            `console.log('ready'); setInterval(() => {}, 1000);`,
        ),
        extra,
      );
      await trap.waitFor('ready');
      for (const sig of ['SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
        trap.child.kill(sig);
        await trap.waitFor(`got ${sig}`);
      }
      trap.child.kill('SIGTERM');
      expect(await trap.done).toMatchObject({ code: 42, stderr: '' });

      const plain = s.start(node(`console.log('ready'); setInterval(() => {}, 1000);`), extra);
      await plain.waitFor('ready');
      plain.child.kill('SIGTERM');
      expect(await plain.done).toMatchObject({ code: 143, stderr: '' });
    });
  }

  it("closes CMD's output when run's reader goes away, so CMD stops writing", async () => {
    const s = setup({ A: 'value-of-a' });
    const r = s.start(['--', 'yes', 'line'], { X: 'secret://A' });
    await r.waitFor('line\n');
    r.child.stdout!.destroy();
    // yes fails on its next write (a socket pair: ECONNRESET, exit 1; a pipe: SIGPIPE, 141).
    expect([1, 141]).toContain((await r.done).code);
  });
});

describe('run: redaction', () => {
  const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
  const FANCY = 'p"a\\ss€-wörd/<&>+?=~ x';

  it('replaces raw, JSON-escaped, URL-encoded and base64 forms on stdout and stderr', () => {
    const s = setup({ TOKEN, FANCY });
    const forms = (v: string) => {
      const b = Buffer.from(v);
      return [
        v,
        JSON.stringify(v),
        JSON.stringify(v).replace(
          /[\u007f-\uffff]/g,
          (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'),
        ),
        encodeURIComponent(v),
        new URLSearchParams({ q: v }).toString(),
        b.toString('base64'),
        b.toString('base64url'),
        b.toString('base64').replace(/=+$/, ''),
        `Basic ${Buffer.from(`user:${v}`).toString('base64')}`,
        `Basic ${Buffer.from(`us:${v}`).toString('base64')}`,
        `Basic ${Buffer.from(`u:${v}`).toString('base64')}`,
      ];
    };
    const script = `const f=${forms.toString()};for (const n of ['TOKEN','FANCY']) for (const x of f(process.env[n])) { console.log('out ' + x); console.error('err ' + x); }`;
    const r = s.run(node(script), { TOKEN: 'secret://TOKEN', FANCY: 'secret://FANCY' });
    expect(r.code).toBe(0);
    const lines = { out: r.stdout.split('\n'), err: r.stderr.split('\n') };
    for (const [stream, text] of [
      ['out', r.stdout],
      ['err', r.stderr],
    ] as const) {
      for (const v of [TOKEN, FANCY]) {
        for (const form of forms(v)) {
          // The Basic forms keep their prefix and the few base64 characters that mix in "user:".
          const f = form.startsWith('Basic ') ? form.slice(12) : form;
          expect(text).not.toContain(f.slice(0, -3));
        }
      }
      expect(lines[stream].filter(Boolean)).toHaveLength(22);
      expect(lines[stream].filter((l) => l.includes('[redacted:TOKEN]'))).toHaveLength(11);
      expect(lines[stream].filter((l) => l.includes('[redacted:FANCY]'))).toHaveLength(11);
      expect(lines[stream][0]).toBe(`${stream} [redacted:TOKEN]`);
    }
  });

  it('redacts a value split across writes, and holds back only a possible start of one', async () => {
    const s = setup({ TOKEN });
    const r = s.start(
      node(
        `const v = process.env.TOKEN; process.stdout.write('Password: ');` +
          `setTimeout(() => process.stdout.write('x' + v.slice(0, 9)), 300);` +
          `setTimeout(() => process.stdout.write(v.slice(9) + '!\\n'), 600);`,
      ),
      { TOKEN: 'secret://TOKEN' },
    );
    const done = await r.done;
    expect(done).toMatchObject({ code: 0, stdout: 'Password: x[redacted:TOKEN]!\n', stderr: '' });
    // The prompt came out at once, the "x" as soon as it was written; the first part of the
    // value was not written on its own.
    expect(r.chunks.map((c) => c.text)).toEqual(['Password: ', 'x', '[redacted:TOKEN]!\n']);
    expect(r.chunks[1]!.at - r.chunks[0]!.at).toBeGreaterThan(200);
  });

  it('keeps line-delimited JSON valid', () => {
    const s = setup({ TOKEN, FANCY });
    const script =
      `const {TOKEN: t, FANCY: f} = process.env; const rows = [` +
      `{msg: 'token ' + t, n: 1}, {nested: {list: [f, 'x' + f + 'y', t + f]}}, {url: 'https://h/?k=' + encodeURIComponent(f)},` +
      `{auth: 'Basic ' + Buffer.from('me:' + f).toString('base64')}, {[t]: f}, {esc: '\\\\' + t + '\\\\', q: '"' + f + '"'}];` +
      `for (const r of rows) console.log(JSON.stringify(r));`;
    const r = s.run(node(script), { TOKEN: 'secret://TOKEN', FANCY: 'secret://FANCY' });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(6);
    for (const line of lines) {
      const parsed = JSON.stringify(JSON.parse(line));
      expect(parsed).toContain('[redacted:');
      expect(parsed).not.toContain(TOKEN);
      expect(parsed).not.toContain(FANCY);
    }
  });

  it('--no-redact passes the output through untouched', () => {
    const s = setup({ TOKEN });
    const r = s.run(['--no-redact', ...node('console.log(process.env.TOKEN)')], { TOKEN: 'secret://TOKEN' });
    expect(r).toMatchObject({ code: 0, stdout: `${TOKEN}\n`, stderr: '' });
  });

  it('warns about values too short to redact, without printing them', () => {
    const s = setup({ SHORT: 'q7z', TOKEN });
    const r = s.run(node('console.log(process.env.SHORT, process.env.TOKEN)'), {
      SHORT: 'secret://SHORT',
      TOKEN: 'secret://TOKEN',
    });
    expect(r).toMatchObject({
      code: 0,
      stdout: 'q7z [redacted:TOKEN]\n',
      stderr: 'mcp-warden: warning: SHORT is shorter than 4 characters and is not redacted from the output\n',
    });
  });

  it("canary: the value is in no command line, not in run's environment, stderr or output", async () => {
    const canary = `canary-${randomBytes(16).toString('hex')}`;
    const s = setup({ CANARY: canary });
    writeFileSync(join(s.dir, '.env'), 'FROM_FILE=secret://CANARY\n');
    const r = s.start(
      [
        '--env-file',
        '.env',
        ...node(
          `const { spawn } = require('child_process');` +
            `const g = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });` +
            `console.log('value ' + process.env.CANARY + ' ' + process.env.FROM_FILE);` +
            `console.error('value ' + process.env.CANARY);` +
            `console.log('ready ' + g.pid); process.on('SIGTERM', () => { g.kill(); process.exit(0); });` +
            `setInterval(() => {}, 1000);`,
        ),
      ],
      { CANARY: 'secret://CANARY' },
    );
    await r.waitFor('ready');
    const pids = [r.child.pid!, ...descendants(r.child.pid!)];
    expect(pids.length).toBeGreaterThanOrEqual(3); // run, CMD, its child
    for (const pid of pids) expect(procFile(pid, 'cmdline')).not.toContain(canary);
    expect(procFile(r.child.pid!, 'environ')).not.toContain(canary);
    // The check can see a value: CMD's own environment holds it (that is how it gets it).
    expect(procFile(pids[1]!, 'environ')).toContain(canary);
    r.child.kill('SIGTERM');
    const done = await r.done;
    expect(done.code).toBe(0);
    expect(done.stdout).toContain('value [redacted:CANARY] [redacted:CANARY]\n');
    expect(done.stdout + done.stderr).not.toContain(canary);
    expect(done.stderr).toBe('value [redacted:CANARY]\n');
  });
});

/** Every key and string value in a parsed JSON document, joined. */
function strings(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object')
    return Object.entries(v)
      .map(([k, x]) => `${k}\0${strings(x)}`)
      .join('\0');
  return '';
}

/** The random tests' seed and size; RUN_FUZZ_SEED / RUN_FUZZ_ROUNDS explore further. */
const SEED = Number(process.env.RUN_FUZZ_SEED ?? 0x5eed);
const ROUNDS = Number(process.env.RUN_FUZZ_ROUNDS ?? 100);

describe('redaction stream', () => {
  const push = (r: Redactor, s: string) => r.push(Buffer.from(s)).toString();

  it('forms: raw, JSON, URL, base64 at three offsets; nothing for short values', () => {
    const forms = secretForms('pä"ss/word');
    expect(forms).toEqual(
      expect.arrayContaining([
        'pä"ss/word',
        'pä\\"ss/word',
        'p\\u00e4\\"ss/word',
        'p\\u00E4\\"ss\\/word',
        'p%C3%A4%22ss%2Fword',
        Buffer.from('pä"ss/word').toString('base64'),
        Buffer.from('pä"ss/word').toString('base64url'),
      ]),
    );
    // Inside a longer blob: the characters that only the value determines, at each offset.
    for (const prefix of ['', 'u', 'us', 'usr'])
      expect(
        forms.some((f) =>
          Buffer.from(prefix + 'pä"ss/word!')
            .toString('base64')
            .includes(f),
        ),
      ).toBe(true);
    expect(secretForms('abc')).toEqual([]);
  });

  it('matcher: the longest pattern ending at each position', () => {
    const m = new Matcher(['he', 'she', 'his', 'hers'].map((p, label) => ({ bytes: Buffer.from(p), label })));
    const found: string[] = [];
    const state = m.scan(0, Buffer.from('ushers'), (end, length, label) =>
      found.push(`${end}:${length}:${label}`),
    );
    expect(found).toEqual(['4:3:1', '6:4:3']);
    expect(m.undecided(m.scan(state, Buffer.from(' hi'), () => undefined))).toBe(2);
  });

  it('writes everything that cannot start a value at once, and nothing that can', () => {
    const r = new Redactor(new SecretSet([{ name: 'T', value: 'secret-123' }]));
    expect(push(r, 'a prompt: ')).toBe('a prompt: ');
    expect(push(r, 'xx secr')).toBe('xx ');
    expect(push(r, 'et-12')).toBe('');
    expect(push(r, '4 ')).toBe('secret-124 ');
    expect(push(r, 'secret-1')).toBe('');
    expect(push(r, '23')).toBe('[redacted:T]');
    expect(push(r, 'secret')).toBe('');
    expect(r.end().toString()).toBe('secret');
  });

  it('keeps JSON escapes balanced around a coincidental match', () => {
    const set = (v: string) => new SecretSet([{ name: 'S', value: v }]);
    const redact = (v: string, text: string) => {
      const r = new Redactor(set(v));
      return Buffer.concat([r.push(Buffer.from(text)), r.end()]).toString();
    };
    // "\n" then "ope1234": the value's first letter is the escape's.
    const a = redact('nope1234', JSON.stringify({ k: 'x\nope1234' }));
    expect(a).toBe('{"k":"x\\\\[redacted:S]"}');
    expect(JSON.parse(a)).toEqual({ k: 'x\\[redacted:S]' });
    const b = redact('e9abcdef', '{"k":"\\u00e9abcdef"}');
    expect(JSON.parse(b)).toEqual({ k: '\u0000[redacted:S]' });
    // The value ends with a backslash that escapes the quote after it.
    const c = redact('abcd\\', JSON.stringify({ k: 'abcd"x' }));
    expect(JSON.parse(c)).toEqual({ k: '[redacted:S]"x' });
  });

  it('random chunking gives the same output as a one-shot replacement (fixed seed)', () => {
    const r = rng(SEED);
    const alphabet = [
      'a',
      'b',
      'e',
      'n',
      'u',
      '0',
      '9',
      'F',
      '\\',
      '"',
      '/',
      ' ',
      '\n',
      'é',
      '€',
      '😀',
      '+',
      '=',
    ];
    const word = (n: number) => Array.from({ length: n }, () => r.pick(alphabet)).join('');
    for (let round = 0; round < 3 * ROUNDS; round++) {
      const secrets: Secret[] = Array.from({ length: 1 + r.int(4) }, (_, i) => ({
        name: `S${i}`,
        value: word(2 + r.int(10)),
      }));
      // Overlapping values: one secret's tail is another's head.
      if (secrets.length > 1 && r.next() < 0.5) secrets[1]!.value = secrets[0]!.value.slice(-3) + word(4);
      const pieces: string[] = [];
      for (let i = 0; i < 20; i++) {
        pieces.push(word(r.int(8)));
        const s = r.pick(secrets);
        const forms = secretForms(s.value);
        if (forms.length > 0 && r.next() < 0.7) pieces.push(r.pick(forms));
      }
      const input = Buffer.from(pieces.join(''));
      const want = oracle(secrets, input);
      const set = new SecretSet(secrets);
      for (const chunks of [[input], randomChunks(input, r), randomChunks(input, r)]) {
        const red = new Redactor(set);
        const got = Buffer.concat([...chunks.map((c) => red.push(c)), red.end()]);
        if (!got.equals(want)) {
          throw new Error(
            `round ${round}: ${JSON.stringify(secrets)}\n  input ${JSON.stringify(input.toString())}\n  want  ${JSON.stringify(want.toString())}\n  got   ${JSON.stringify(got.toString())}`,
          );
        }
      }
    }
  });

  it('random JSON lines stay valid JSON with no value left (fixed seed)', () => {
    const r = rng(SEED + 1);
    const chars = ['a', 'Z', '7', '"', '\\', '/', '\n', '\t', 'é', '€', '😀', '<', '&', ' ', 'u', 'n'];
    const word = (n: number) => Array.from({ length: n }, () => r.pick(chars)).join('');
    for (let round = 0; round < ROUNDS; round++) {
      const secrets: Secret[] = Array.from({ length: 1 + r.int(3) }, (_, i) => ({
        name: `K${i}`,
        value: 'x' + word(6 + r.int(10)),
      }));
      const lines = Array.from({ length: 10 }, () => {
        const v = r.pick(secrets).value;
        const s = word(r.int(5)) + v + word(r.int(5));
        return JSON.stringify(
          r.next() < 0.5 ? { m: s, n: [s, 1] } : { [s]: { b64: Buffer.from(s).toString('base64') } },
        );
      });
      const input = Buffer.from(lines.join('\n') + '\n');
      const red = new Redactor(new SecretSet(secrets));
      const out = Buffer.concat([...randomChunks(input, r).map((c) => red.push(c)), red.end()]).toString();
      const outLines = out.trimEnd().split('\n');
      expect(outLines).toHaveLength(10);
      for (const line of outLines) {
        const texts = strings(JSON.parse(line));
        for (const s of secrets) expect(texts).not.toContain(s.value.slice(1));
      }
    }
  });

  it('marker names are safe in JSON', () => {
    expect(marker('API_KEY.v2-x')).toBe('[redacted:API_KEY.v2-x]');
    expect(marker('we"ird')).toBe('[redacted]');
  });
});
