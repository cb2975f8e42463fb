import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import type { Cli } from '../src/cli/io.js';
import type { Response } from '../src/gateway/jsonrpc.js';
import { parseAudit } from '../src/gateway/middleware/audit/config.js';
import { LineHasher } from '../src/gateway/middleware/audit/format.js';
import { loadAuditKey, readAuditKey } from '../src/gateway/middleware/audit/key.js';
import { redactArguments } from '../src/gateway/middleware/audit/redact.js';
import { audit } from '../src/gateway/middleware/audit/stage.js';
import { verifyAudit } from '../src/gateway/middleware/audit/verify.js';
import { openAudit, type AuditLogOptions } from '../src/gateway/middleware/audit/writer.js';
import { compose, type CallContext, type ManagedSecret, type Stage } from '../src/gateway/pipeline.js';
import type { Session } from '../src/gateway/session.js';
import { secretForms } from '../src/run/forms.js';
import { eventually } from './helpers/gateway.js';
import { tempDir } from './helpers/tmp.js';

/**
 * The audit trail against real files: the writer, the call stage, verification and the CLI.
 * Every test is titled with its requirement id.
 */
const root = tempDir('mcpw-audit-');
let cases = 0;

function paths() {
  const dir = join(root, `case${++cases}`);
  return { dir, file: join(dir, 'logs', 'audit.log'), keyFile: join(dir, 'home', 'audit.key') };
}

async function open(extra: Partial<AuditLogOptions> = {}, at = paths()) {
  const messages: string[] = [];
  const log = await openAudit({
    file: at.file,
    keyFile: at.keyFile,
    log: (m) => messages.push(m),
    checkMs: 0,
    ...extra,
  });
  return { ...at, log, messages, key: () => readAuditKey(at.keyFile) };
}

/** The file's lines; it must be empty or end with a newline. */
function lines(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  if (text === '') return [];
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n');
}

const records = (file: string) => lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);

function ctx(method: string, params?: Record<string, unknown>, over: Partial<CallContext> = {}): CallContext {
  return {
    session: { id: 'sess0123456789abcdef' } as unknown as Session,
    request: { jsonrpc: '2.0', id: 1, method, ...(params && { params }) },
    front: 'http',
    clientIp: '10.0.0.7',
    client: { id: 'alice', via: 'api-key', keyHash: '0123456789abcdef' },
    ...over,
  };
}

const okResult = (): Promise<Response> => Promise.resolve({ jsonrpc: '2.0', id: 1, result: { content: [] } });

/** A stage that refuses, as the rate limit or the policy do. */
const refuse =
  (event: 'rate_limit_exceeded' | 'policy_denied', reason: string): Stage =>
  (c) => {
    c.denial = { event, status: 429, reason };
    return Promise.resolve({ jsonrpc: '2.0', id: 1, error: { code: -32029, message: reason } });
  };

function fakeCli(env: NodeJS.ProcessEnv = {}): Cli {
  return {
    env,
    stdout: () => {},
    stderr: () => {},
    stdinIsTTY: false,
    readStdin: async () => Buffer.alloc(0),
    prompt: async () => '',
  };
}

/** The CLI entry point, in process: exit code and output. */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    ...fakeCli(env),
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
  });
  return { code, stdout, stderr };
}

/** What must never be in the file or on the terminal raw. */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\r\u0000\u001b\u0085\u009b\u2028\u2029\u202e\ufeff]/;
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const HEX64 = /^[0-9a-f]{64}$/;

describe('lines', () => {
  it('[audit:line-per-event] every recorded event is one line with its fields, in a fixed key order', async () => {
    const { log, file } = await open();
    const names = [
      'tool_call',
      'auth_failure',
      'rate_limit_exceeded',
      'policy_denied',
      'secret_access',
      'server_start',
      'server_stop',
      'config_reload',
    ] as const;
    for (const event of names) log.record({ event, client_id: 'c1', reason: `why ${event}` });
    log.record({
      event: 'tool_call',
      duration_ms: 2.34567,
      outcome: 'ok',
      arguments: { a: 1 },
      tool: 'gh__x',
      server: 'gh',
      method: 'tools/call',
      session: 'abcdefgh',
      api_key_hash: '0123456789abcdef',
      client_ip: '10.1.2.3',
      client_id: 'bob',
      extra_field: 7,
    });
    await log.flush();
    const recs = records(file);
    expect(recs.map((r) => r.event)).toEqual([...names, 'tool_call']);
    expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const r of recs) {
      expect(r.ts).toMatch(TS);
      expect(r.prev).toMatch(HEX64);
      expect(r.hash).toMatch(HEX64);
    }
    expect(recs[0]!.prev).toBe('0'.repeat(64));
    expect(recs[1]!.prev).toBe(recs[0]!.hash);
    const last = recs[8]!;
    expect(Object.keys(last)).toEqual([
      'ts',
      'seq',
      'event',
      'client_id',
      'client_ip',
      'api_key_hash',
      'session',
      'method',
      'server',
      'tool',
      'arguments',
      'outcome',
      'duration_ms',
      'extra_field',
      'prev',
      'hash',
    ]);
    expect(last).toMatchObject({ duration_ms: 2.346, extra_field: 7, arguments: { a: 1 } });
    await log.close();
  });

  it('[audit:line-per-event] the stage writes one line per tools/call with who, what, outcome and duration', async () => {
    const { log, file } = await open();
    const errorResult = (): Promise<Response> =>
      Promise.resolve({
        jsonrpc: '2.0',
        id: 1,
        error: { code: -32001, message: 'server github is not running' },
      });
    const isError = (): Promise<Response> =>
      Promise.resolve({ jsonrpc: '2.0', id: 1, result: { isError: true, content: [] } });
    const run = (stages: Stage[], last: () => Promise<Response>, c: CallContext) =>
      compose([audit({ log }), ...stages], last)(c);
    const call = (args: unknown) => ctx('tools/call', { name: 'github__create_issue', arguments: args });

    await run([], okResult, call({ title: 'hi' }));
    await run([], errorResult, call({}));
    await run([], isError, call({}));
    await run([refuse('rate_limit_exceeded', 'rpm 60 exceeded')], okResult, call({ n: 1 }));
    await run([], okResult, ctx('tools/list')); // not denied, not a call: no line
    await run([refuse('policy_denied', 'prompts are off')], okResult, ctx('prompts/get', { name: 'p1' }));
    await expect(
      run([], () => Promise.reject(new Error('router exploded')), ctx('tools/call', { name: 'plain' })),
    ).rejects.toThrow('router exploded');
    await log.flush();
    const recs = records(file);
    expect(recs).toHaveLength(6);
    expect(recs[0]).toMatchObject({
      event: 'tool_call',
      client_id: 'alice',
      client_ip: '10.0.0.7',
      api_key_hash: '0123456789abcdef',
      session: 'sess0123',
      method: 'tools/call',
      server: 'github',
      tool: 'github__create_issue',
      arguments: { title: 'hi' },
      outcome: 'ok',
    });
    expect(typeof recs[0]!.duration_ms).toBe('number');
    expect(recs[1]).toMatchObject({
      event: 'tool_call',
      outcome: 'error',
      reason: 'server github is not running',
      error_code: -32001,
    });
    expect(recs[2]).toMatchObject({ event: 'tool_call', outcome: 'error' });
    // A refused call is one line: the refusal, with what was asked.
    expect(recs[3]).toMatchObject({
      event: 'rate_limit_exceeded',
      outcome: 'denied',
      reason: 'rpm 60 exceeded',
      tool: 'github__create_issue',
      arguments: { n: 1 },
    });
    expect(recs[4]).toMatchObject({
      event: 'policy_denied',
      method: 'prompts/get',
      prompt: 'p1',
      outcome: 'denied',
    });
    expect(recs[5]).toMatchObject({ event: 'tool_call', tool: 'plain', outcome: 'error' });
    expect(recs[5]!.server).toBeUndefined();
    expect(String(recs[5]!.reason)).toContain('router exploded');
    await log.close();
  });

  it('[audit:stage:never-throws] a call succeeds whatever the audit does: a throwing sink, an unformattable event', async () => {
    const throwing = audit({
      log: {
        record() {
          throw new Error('sink broken');
        },
      },
    });
    await expect(compose([throwing], okResult)(ctx('tools/call', { name: 'x' }))).resolves.toMatchObject({
      result: { content: [] },
    });
    expect(() => audit({} as never)).toThrow(/gateway\.audit/);

    const { log, file, messages } = await open();
    const args = {
      get boom() {
        throw new Error('getter throws');
      },
    };
    const handler = compose([audit({ log })], okResult);
    await expect(handler(ctx('tools/call', { name: 'x', arguments: args }))).resolves.toMatchObject({
      result: {},
    });
    await handler(ctx('tools/call', { name: 'y', arguments: {} }));
    await log.flush();
    // Events are formatted when their batch is written.
    expect(log.stats().dropped).toBe(1);
    expect(messages.join('\n')).toContain('cannot format a tool_call event');
    // The event that could not be kept is in the chain as a count.
    expect(records(file).map((r) => [r.event, r.count])).toEqual([
      ['audit_dropped', 1],
      ['tool_call', undefined],
    ]);
    await log.close();
  });

  it('[audit:arguments:capped] large arguments and fields are cut to a bounded line, with the original size', async () => {
    const { log, file, key } = await open({ maxArgumentBytes: 1024 });
    const big = { data: 'x'.repeat(1_000_000) };
    const many = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, i]));
    let deep: unknown = 'bottom';
    for (let i = 0; i < 40; i++) deep = { d: deep };
    log.record({ event: 'tool_call', tool: 't'.repeat(10_000), arguments: big });
    log.record({ event: 'tool_call', arguments: many });
    log.record({ event: 'tool_call', arguments: deep });
    await log.flush();
    const text = lines(file);
    for (const l of text) expect(l.length).toBeLessThan(4096);
    const [a, b, c] = text.map((l) => JSON.parse(l) as { tool?: string; arguments: Record<string, unknown> });
    // Cut to 512 characters and marked as cut, with no secrets configured as with some.
    expect(a!.tool).toBe(`${'t'.repeat(512)}…`);
    expect(a!.arguments).toMatchObject({ truncated: true, bytes: JSON.stringify(big).length });
    expect(String(a!.arguments.head)).toMatch(/^\{"data":"xxx/);
    expect(b!.arguments).toMatchObject({ truncated: true, bytes: JSON.stringify(many).length });
    expect(JSON.stringify(c!.arguments)).toContain('[too deep]');
    expect((await verifyAudit([file], await key())).ok).toBe(true);
    await log.close();
  });
});

describe('redaction', () => {
  it('[audit:redact:keys] credential keys are redacted at any depth, case-insensitively; other keys are kept', async () => {
    const args = {
      Password: 'p1',
      nested: [{ deeper: { API_KEY: 'k1', apiKey: 'k2', 'x-api-key': 'k3', list: [{ AccessToken: 't1' }] } }],
      Authorization: 'Bearer abc',
      client_secret: 's1',
      Credentials: { user: 'u', pass: 'v' },
      private_key: '-----BEGIN',
      passwd: 'p2',
      OAUTH: { anything: 1 },
      author: 'octocat',
      title: 'keep me',
      count: 3,
    };
    expect(redactArguments(args, [])).toEqual({
      Password: '[redacted]',
      nested: [
        {
          deeper: {
            API_KEY: '[redacted]',
            apiKey: '[redacted]',
            'x-api-key': '[redacted]',
            list: [{ AccessToken: '[redacted]' }],
          },
        },
      ],
      Authorization: '[redacted]',
      client_secret: '[redacted]',
      Credentials: '[redacted]',
      private_key: '[redacted]',
      passwd: '[redacted]',
      OAUTH: '[redacted]',
      author: 'octocat',
      title: 'keep me',
      count: 3,
    });
    // The input is not changed.
    expect(args.Password).toBe('p1');

    const { log, file } = await open();
    await compose([audit({ log })], okResult)(ctx('tools/call', { name: 'db__query', arguments: args }));
    await log.flush();
    const text = readFileSync(file, 'utf8');
    for (const value of ['p1', 'k1', 'k2', 'k3', 't1', 'Bearer abc', 's1', '-----BEGIN', 'p2'])
      expect(text).not.toContain(`"${value}"`);
    expect(records(file)[0]!.arguments).toMatchObject({ author: 'octocat', title: 'keep me' });
    await log.close();
  });

  it('[audit:redact:shapes] well-known token shapes are masked in arguments and fields, the shortest (a 15-character Slack token) too', async () => {
    const tokens = {
      slack: 'xoxb-1234567890',
      github: `ghp_${'a1B2'.repeat(9)}`,
      aws: 'AKIAABCDEFGHIJKLMNOP',
      warden: `mcpw_${'Z9y8X'.repeat(9)}abcd`,
    };
    expect(redactArguments({ ...tokens, note: `see ${tokens.slack} and ${tokens.aws}` }, [])).toEqual({
      slack: '[redacted:slack]',
      github: '[redacted:github]',
      aws: '[redacted:aws]',
      warden: '[redacted:mcp-warden]',
      note: 'see [redacted:slack] and [redacted:aws]',
    });
    const { log, file } = await open();
    await compose(
      [audit({ log })],
      okResult,
    )(ctx('tools/call', { name: `chat__send ${tokens.slack}`, arguments: { text: tokens.slack } }));
    await log.flush();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(tokens.slack);
    expect(records(file)[0]).toMatchObject({
      tool: 'chat__send [redacted:slack]',
      arguments: { text: '[redacted:slack]' },
    });
    await log.close();
  });

  it('[audit:redact:secret-values] managed secret values never reach the file: raw, JSON-escaped, URL-encoded, base64', async () => {
    const secrets: ManagedSecret[] = [
      { name: 'GH_TOKEN', value: 'ghp_CanaryAbc/def+ghi=42xyz', server: 'github' },
      { name: 'DB_PASS', value: 'can"ary\\pass\nsecond-line-canary', server: 'db' },
      { name: 'UNI', value: 'ключ-canary-€-value' },
    ];
    const [gh, db, uni] = secrets.map((s) => s.value) as [string, string, string];
    let current: readonly ManagedSecret[] = secrets;
    const { log, file } = await open({ secrets: () => current });
    const handler = compose([audit({ log })], () =>
      Promise.resolve<Response>({
        jsonrpc: '2.0',
        id: 1,
        error: { code: -32000, message: `upstream said ${gh}` },
      }),
    );
    await handler(
      ctx(
        'tools/call',
        {
          name: `srv__${gh}`,
          arguments: {
            raw: `token is ${gh} ok`,
            list: ['a', [`${db}`]],
            json: JSON.stringify({ inner: db, u: uni }),
            url: `https://example.com/?q=${encodeURIComponent(gh)}&r=${encodeURIComponent(uni)}`,
            b64: Buffer.from(gh).toString('base64'),
            b64url: Buffer.from(uni).toString('base64url'),
            header: `Basic ${Buffer.from(`user:${gh}`).toString('base64')}`,
            [gh]: 'as a key',
            pyjson: JSON.stringify(uni).replace(
              /[\u007f-\uffff]/g,
              (c) => `\\u${c.charCodeAt(0).toString(16)}`,
            ),
          },
        },
        { client: { id: `client-${gh}`, via: 'api-key' } },
      ),
    );
    log.record({ event: 'secret_access', secret: 'GH_TOKEN', detail: `read ${gh}`, reason: db });
    // After a reload the source answers a new array: its values are masked too.
    current = [...secrets, { name: 'NEW_ONE', value: 'fresh-canary-value-123' }];
    log.record({ event: 'config_reload', reason: 'fresh-canary-value-123 rotated' });
    await log.flush();
    const text = readFileSync(file, 'utf8');
    for (const s of current) for (const form of secretForms(s.value)) expect(text).not.toContain(form);
    // Decoded, no string holds a value either.
    const strings: string[] = [];
    const collect = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          strings.push(k);
          collect(x);
        }
    };
    for (const r of records(file)) collect(r);
    for (const s of current) for (const str of strings) expect(str).not.toContain(s.value);
    expect(text).toContain('[redacted:GH_TOKEN]');
    expect(text).toContain('[redacted:DB_PASS]');
    expect(text).toContain('[redacted:UNI]');
    expect(text).toContain('[redacted:NEW_ONE]');
    expect(records(file)[0]).toMatchObject({
      tool: 'srv__[redacted:GH_TOKEN]',
      client_id: 'client-[redacted:GH_TOKEN]',
      reason: 'upstream said [redacted:GH_TOKEN]',
    });
    await log.close();
  });

  it('[audit:redact:secret-values] a field value written in clear before a reload is masked once the reload makes it a secret', async () => {
    let current: readonly ManagedSecret[] = [];
    const { log, file } = await open({ secrets: () => current });
    const handler = compose([audit({ log })], () =>
      Promise.resolve<Response>({ jsonrpc: '2.0', id: 1, result: { content: [] } }),
    );
    const call = () =>
      handler(
        ctx(
          'tools/call',
          { name: 'srv__late-canary-value-77', arguments: {} },
          { client: { id: 'client-late-canary-value-77', via: 'api-key' } },
        ),
      );
    await call();
    await call();
    current = [{ name: 'LATE', value: 'late-canary-value-77' }];
    await call();
    await log.flush();
    const [first, second, third] = records(file);
    expect(first).toMatchObject({
      tool: 'srv__late-canary-value-77',
      client_id: 'client-late-canary-value-77',
    });
    expect(second).toMatchObject({ tool: first!.tool, client_id: first!.client_id });
    expect(third).toMatchObject({ tool: 'srv__[redacted:LATE]', client_id: 'client-[redacted:LATE]' });
    await log.close();
  });
});

describe('injection', () => {
  it('[audit:no-injection] CR, LF, U+2028/9, NEL, NUL, ANSI and bidi characters never make an extra line', async () => {
    const nasty = [
      'a\nb',
      'a\r\nb',
      'a\rb',
      'a\u2028b',
      'a\u2029b',
      'a\u0085b',
      'a\u0000b',
      '\u001b[31mred\u001b[0m',
      '\u009b31m',
      'evil\u202egnp.exe',
      '\ufeffbom',
      '"},"event":"forged","x":{"',
    ];
    const { log, file, key } = await open();
    const handler = compose([audit({ log })], okResult);
    for (const s of nasty) {
      await handler(
        ctx(
          'tools/call',
          { name: `srv__${s}`, arguments: { [s]: s, nested: [s] } },
          { client: { id: s, via: 'api-key' } },
        ),
      );
      // The fields after the arguments, and fields of other events (their names too).
      log.record({
        event: 'config_reload',
        reason: s,
        outcome: s as 'ok',
        [`x${s}`]: s,
        detail: { [s]: [s] },
      });
    }
    await log.flush();
    const raw = readFileSync(file);
    const text = raw.toString('utf8');
    // One physical line per call, whatever splits a viewer uses.
    expect(text.split('\n')).toHaveLength(2 * nasty.length + 1);
    expect(text).not.toMatch(UNSAFE);
    const recs = records(file);
    expect(recs.map((r) => r.event)).toEqual(nasty.flatMap(() => ['tool_call', 'config_reload']));
    // Escaped, not lost: each line decodes to exactly what was sent.
    nasty.forEach((s, i) => {
      expect(recs[2 * i]).toMatchObject({
        client_id: s,
        tool: `srv__${s}`,
        arguments: { [s]: s, nested: [s] },
      });
      expect(recs[2 * i + 1]).toMatchObject({ reason: s, outcome: s, [`x${s}`]: s, detail: { [s]: [s] } });
    });
    expect((await verifyAudit([file], await key())).ok).toBe(true);
    // The CLI's view is plain text too.
    const tail = await cli(['audit', 'tail', file, '-n', '100']);
    expect(tail.code).toBe(0);
    expect(tail.stdout.split('\n')).toHaveLength(2 * nasty.length + 1);
    expect(tail.stdout).not.toMatch(UNSAFE);
    await log.close();
  });
});

/** A clean 10-line log, its lines and its key file. */
async function tenLines() {
  const at = await open();
  for (let i = 1; i <= 10; i++)
    at.log.record({ event: 'tool_call', client_id: `c${i}`, tool: 'srv__t', outcome: 'ok' });
  await at.log.close();
  return { ...at, text: lines(at.file) };
}

describe('the chain', () => {
  it('[audit:chain:verify] a clean log verifies, through the API and the CLI, and the chain continues across restarts', async () => {
    const { file, keyFile, key, text } = await tenLines();
    expect(await verifyAudit([file], await key())).toMatchObject({
      ok: true,
      lines: 10,
      firstSeq: 1,
      lastSeq: 10,
    });
    const out = await cli(['audit', 'verify', file, '--key-file', keyFile]);
    expect(out).toMatchObject({ code: 0, stdout: 'ok: 10 lines, chain intact (first seq 1, last seq 10)\n' });
    const asJson = await cli(['audit', 'verify', file, '--key-file', keyFile, '--json']);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ ok: true, lines: 10, lastSeq: 10 });

    // A restart reads the last line and continues its seq and hash.
    const again = await open({}, { dir: dirname(file), file, keyFile });
    again.log.record({ event: 'server_start', server: 'github' });
    await again.log.close();
    const recs = records(file);
    expect(recs).toHaveLength(11);
    expect(recs[10]).toMatchObject({ seq: 11, prev: (JSON.parse(text[9]!) as { hash: string }).hash });
    expect(await verifyAudit([file], await key())).toMatchObject({ ok: true, lines: 11 });
  });

  it('[audit:chain:verify] the writer hash is HMAC-SHA256 over prev, a newline and the line without its hash', async () => {
    const key = await loadAuditKey(join(paths().dir, 'audit.key'));
    const hasher = new LineHasher(key);
    const prev = 'ab'.repeat(32);
    for (const body of ['{}', '{"x":"ключ € 😀"}', `{"big":"${'y'.repeat(100_000)}"}`, '{"small":1}'])
      expect(hasher.hex(prev, body)).toBe(createHmac('sha256', key).update(`${prev}\n${body}`).digest('hex'));
  });

  it('[audit:chain:verify] the CLI finds the log and key from the config, relative to the data directory', async () => {
    const at = paths();
    const home = join(at.dir, 'data');
    const { log } = await open(
      {},
      { dir: at.dir, file: join(home, 'logs', 'a.log'), keyFile: join(home, 'audit.key') },
    );
    log.record({ event: 'config_reload' });
    await log.close();
    const config = join(at.dir, 'mcp-warden.yaml');
    writeFileSync(config, 'gateway:\n  audit: { file: logs/a.log }\n');
    const env = { MCP_WARDEN_HOME: home };
    expect(await cli(['audit', 'verify', '--config', config], env)).toMatchObject({
      code: 0,
      stdout: 'ok: 1 line, chain intact (first seq 1, last seq 1)\n',
    });
    const tail = await cli(['audit', 'tail', '--config', config], env);
    expect(tail.stdout).toMatch(/^\S+Z {2}config_reload {2}- {2}- {2}-\n$/);
    // No log, or no key: a clear error, not a pass.
    const elsewhere = { MCP_WARDEN_HOME: join(at.dir, 'elsewhere') };
    const nolog = await cli(['audit', 'verify', '--config', config], elsewhere);
    expect(nolog.code).toBe(1);
    expect(nolog.stderr).toMatch(
      /no audit log at .*elsewhere\/logs\/a\.log; pass FILE, or set gateway\.audit\.file/,
    );
    const nokey = await cli(['audit', 'verify', join(home, 'logs', 'a.log')], elsewhere);
    expect(nokey.code).toBe(1);
    expect(nokey.stderr).toMatch(/no audit key at .*elsewhere\/audit\.key; pass --key-file/);
  });

  it('[audit:chain:tamper-detected] an edited, removed, swapped, inserted or cut line is named, with why', async () => {
    const { file, keyFile, key, text } = await tenLines();
    const k = await key();
    const check = async (content: string, line: number, reason: RegExp) => {
      writeFileSync(file, content);
      const r = await verifyAudit([file], k);
      expect(r.ok).toBe(false);
      expect(r.problem).toMatchObject({ line });
      expect(r.problem!.reason).toMatch(reason);
      return r;
    };
    const join_ = (ls: string[]) => ls.join('\n') + '\n';
    // Edited: a value changed, the JSON still valid.
    await check(join_(text.map((l, i) => (i === 3 ? l.replace('"c4"', '"c5"') : l))), 4, /^hash mismatch/);
    // Removed.
    await check(
      join_(text.filter((_, i) => i !== 3)),
      4,
      /prev does not match line 3 \(a line was removed or reordered/,
    );
    // Swapped.
    await check(
      join_([...text.slice(0, 3), text[4]!, text[3]!, ...text.slice(5)]),
      4,
      /prev does not match line 3/,
    );
    // Inserted: a forged line that links to line 3 but cannot have a valid hash.
    const forged = text[2]!
      .replace(/"seq":3,/, '"seq":4,')
      .replace(/"prev":"[0-9a-f]+"/, `"prev":"${(JSON.parse(text[2]!) as { hash: string }).hash}"`);
    await check(join_([...text.slice(0, 3), forged, ...text.slice(3)]), 4, /^hash mismatch/);
    // Inserted: a copy of a genuine line.
    await check(join_([...text.slice(0, 3), text[1]!, ...text.slice(3)]), 4, /prev does not match line 3/);
    // A line break inserted inside a line.
    await check(
      join_(text.map((l, i) => (i === 6 ? l.replace('"tool":', '\n"tool":') : l))),
      7,
      /not valid JSON/,
    );
    // The last line cut.
    await check(join_(text).slice(0, -30), 10, /^truncated/);
    // The first lines removed: the file starts mid-chain.
    await check(join_(text.slice(2)), 1, /starts mid-chain .*give the previous file too/);
    expect((await verifyAudit([file], k, { partial: true })).ok).toBe(true);
    // Rewritten with a plain hash chain (what an editor without the key can do): every hash is wrong.
    writeFileSync(file, join_(text));
    const other = paths();
    await loadAuditKey(other.keyFile);
    expect((await verifyAudit([file], await readAuditKey(other.keyFile))).problem).toMatchObject({
      line: 1,
      reason: expect.stringMatching(/^hash mismatch/) as unknown,
    });

    // The CLI: exit 1 and the line.
    writeFileSync(file, join_(text.map((l, i) => (i === 5 ? l.replace('"ok"', '"error"') : l))));
    const out = await cli(['audit', 'verify', file, '--key-file', keyFile]);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe('line 6: hash mismatch (edited, or written with another key)\n');
  });
});

describe('rotation', () => {
  it('[audit:reopen:sighup] on SIGHUP the log reopens its path and the new file continues the chain', async () => {
    const { log, file, key, messages } = await open();
    for (let i = 0; i < 5; i++) log.record({ event: 'tool_call', client_id: `before${i}` });
    await log.flush();
    // What logrotate does: move the file away, then signal the gateway.
    renameSync(file, `${file}.1`);
    const reopened = new Promise<void>((resolve) =>
      process.once('SIGHUP', () => void log.reopen().then(resolve)),
    );
    process.kill(process.pid, 'SIGHUP');
    await reopened;
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    for (let i = 0; i < 5; i++) log.record({ event: 'tool_call', client_id: `after${i}` });
    await log.close();
    const [old, cur] = [records(`${file}.1`), records(file)];
    expect(old.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(cur.map((r) => r.seq)).toEqual([6, 7, 8, 9, 10]);
    expect(cur[0]!.prev).toBe(old[4]!.hash);
    const k = await key();
    expect(await verifyAudit([`${file}.1`, file], k)).toMatchObject({
      ok: true,
      lines: 10,
      firstSeq: 1,
      lastSeq: 10,
    });
    expect((await verifyAudit([file], k)).problem?.reason).toMatch(/starts mid-chain/);
    expect(messages).toEqual([]);
  });

  it('[audit:reopen:sighup] without a signal, a moved or removed file is noticed and reopened; a restart continues from file.1', async () => {
    const { log, file, keyFile, key, messages } = await open({ checkMs: 50 });
    log.record({ event: 'server_start' });
    await log.flush();
    renameSync(file, `${file}.1`);
    await eventually(() => messages.some((m) => m.includes('was moved away or removed; reopening')), 5000);
    await eventually(() => existsSync(file), 5000);
    log.record({ event: 'server_stop' });
    await log.close();
    // logrotate ran while no gateway did: the new start finds the chain in file.1.
    renameSync(file, `${file}.2`);
    renameSync(`${file}.1`, `${file}.3`);
    renameSync(`${file}.2`, `${file}.1`);
    const next = await open({}, { dir: '', file, keyFile });
    next.log.record({ event: 'server_start' });
    await next.log.close();
    expect(await verifyAudit([`${file}.3`, `${file}.1`, file], await key())).toMatchObject({
      ok: true,
      lines: 3,
    });
  });
});

describe('write failures', () => {
  it('[audit:write-failure:reported] a failing write is reported once, the lines are kept, and written after recovery', async () => {
    const at = paths();
    mkdirSync(dirname(at.file), { recursive: true });
    symlinkSync('/dev/full', at.file); // every write: ENOSPC
    const { log, file, key, messages } = await open({ retryMs: 100 }, at);
    for (let i = 1; i <= 3; i++) log.record({ event: 'tool_call', client_id: `c${i}` });
    await expect(log.flush()).rejects.toMatchObject({ code: 'AUDIT_IO' });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/cannot write .*audit\.log \(ENOSPC\): 3 lines waiting/);
    log.record({ event: 'tool_call', client_id: 'c4' });
    await expect(log.flush()).rejects.toThrow(/ENOSPC.*4 lines waiting/);
    await new Promise((r) => setTimeout(r, 250)); // a few timed retries
    expect(messages).toHaveLength(1); // once per run of failures
    expect(log.stats()).toMatchObject({ written: 0, pending: 4, dropped: 0, failing: 'ENOSPC' });
    expect(log.stats().failed).toBeGreaterThanOrEqual(3);

    // The disk has room again (here: the path becomes a regular file).
    unlinkSync(file);
    await log.flush();
    expect(messages[1]).toMatch(
      /written again after \d+ failed attempts \(ENOSPC\); 4 waiting lines go out now/,
    );
    log.record({ event: 'tool_call', client_id: 'c5' });
    await log.flush();

    // A second run of failures is reported again, and retried on a timer with no flush or record.
    renameSync(file, `${file}.1`);
    symlinkSync('/dev/full', file);
    await log.reopen();
    log.record({ event: 'tool_call', client_id: 'c6' });
    await eventually(() => messages.length === 3, 5000);
    expect(messages[2]).toMatch(/cannot write .* \(ENOSPC\): 1 lines waiting/);
    unlinkSync(file);
    await eventually(() => log.stats().pending === 0, 5000);
    expect(messages[3]).toMatch(/written again/);
    await log.close();
    expect([...records(`${file}.1`), ...records(file)].map((r) => [r.seq, r.client_id])).toEqual([
      [1, 'c1'],
      [2, 'c2'],
      [3, 'c3'],
      [4, 'c4'],
      [5, 'c5'],
      [6, 'c6'],
    ]);
    expect(log.stats()).toMatchObject({ written: 6, pending: 0 });
    expect((await verifyAudit([`${file}.1`, file], await key())).ok).toBe(true);
  });

  it('[audit:write-failure:reported] a write cut mid-line (file size limit) is completed, never duplicated', async () => {
    const prlimit = (...args: string[]) => {
      try {
        return execFileSync('prlimit', ['--pid', String(process.pid), ...args], { encoding: 'utf8' }).trim();
      } catch (err) {
        throw new Error(`this test needs prlimit (util-linux): ${(err as Error).message}`, { cause: err });
      }
    };
    const before = prlimit('--fsize', '--output', 'SOFT', '--noheadings');
    const setLimit = (v: string) => prlimit(`--fsize=${v}:`);
    const ignore = () => {};
    process.on('SIGXFSZ', ignore); // the write fails with EFBIG instead of killing the worker
    const { log, file, key, messages } = await open({ retryMs: 60_000 });
    try {
      log.record({ event: 'server_start' });
      await log.flush();
      const size = statSync(file).size;
      setLimit(String(size + 150)); // room for part of the next line only
      for (let i = 0; i < 3; i++)
        log.record({ event: 'tool_call', client_id: `c${i}`, reason: 'r'.repeat(200) });
      await expect(log.flush()).rejects.toThrow(/EFBIG/);
      expect(statSync(file).size).toBe(size + 150);
      expect(log.stats()).toMatchObject({ written: 1, pending: 3 });
      setLimit(before);
      await log.flush();
      expect(records(file).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
      expect((await verifyAudit([file], await key())).ok).toBe(true);
      expect(messages[0]).toMatch(/cannot write .* \(EFBIG\)/);

      // Cut again, and the file is rotated before the retry: the new file gets the line whole.
      setLimit(String(statSync(file).size + 100));
      for (let i = 0; i < 2; i++)
        log.record({ event: 'tool_call', client_id: `d${i}`, reason: 'r'.repeat(200) });
      await expect(log.flush()).rejects.toThrow(/EFBIG/);
      renameSync(file, `${file}.1`);
      setLimit(before);
      await log.reopen();
      await log.flush();
    } finally {
      setLimit(before);
      process.off('SIGXFSZ', ignore);
    }
    await log.close();
    expect(messages.join('\n')).toContain(
      'is a new file; the line cut by the failed write is written again whole',
    );
    expect(records(file).map((r) => [r.seq, r.client_id])).toEqual([
      [5, 'd0'],
      [6, 'd1'],
    ]);
    // The old file keeps the cut start of seq 5, which verify names.
    const k = await key();
    expect((await verifyAudit([`${file}.1`], k)).problem).toMatchObject({
      line: 5,
      reason: expect.stringMatching(/^truncated/) as unknown,
    });
    expect((await verifyAudit([file], k, { partial: true })).ok).toBe(true);
  });

  it('[audit:write-failure:reported] a full queue drops loudly, and the count lands in the chain', async () => {
    const at = paths();
    mkdirSync(dirname(at.file), { recursive: true });
    symlinkSync('/dev/full', at.file);
    const { log, file, key, messages } = await open({ maxQueue: 5, retryMs: 60_000 }, at);
    for (let i = 1; i <= 8; i++) log.record({ event: 'tool_call', client_id: `c${i}` });
    expect(log.stats()).toMatchObject({ pending: 5, dropped: 3 });
    expect(messages.filter((m) => m.includes('DROPPING'))).toHaveLength(1);
    await expect(log.flush()).rejects.toMatchObject({ code: 'AUDIT_IO' });
    // Room again: the waiting lines go out, then the count, then what comes next.
    unlinkSync(file);
    await log.flush();
    log.record({ event: 'tool_call', client_id: 'c9' });
    await log.close();
    expect(records(file).map((r) => [r.event, r.client_id ?? r.count])).toEqual([
      ['tool_call', 'c1'],
      ['tool_call', 'c2'],
      ['tool_call', 'c3'],
      ['tool_call', 'c4'],
      ['tool_call', 'c5'],
      ['audit_dropped', 3],
      ['tool_call', 'c9'],
    ]);
    expect(messages.join('\n')).toContain('3 audit events were dropped');
    expect((await verifyAudit([file], await key())).ok).toBe(true);
  });

  it('[audit:write-failure:reported] lines that cannot be written by close are reported as lost', async () => {
    const at = paths();
    mkdirSync(dirname(at.file), { recursive: true });
    symlinkSync('/dev/full', at.file);
    const { log, messages } = await open({ retryMs: 60_000 }, at);
    log.record({ event: 'server_stop' });
    await expect(log.close()).rejects.toThrow(/1 audit line could not be written .* \(ENOSPC\) and are lost/);
    expect(messages.at(-1)).toMatch(/1 audit line could not be written/);
    log.record({ event: 'server_stop' });
    expect(log.stats().dropped).toBe(1);
  });
});

describe('load', () => {
  it('[audit:load:count] 10 000 concurrent calls give exactly 10 000 tool_call lines, in one valid chain, across a rotation', async () => {
    const { log, file, key } = await open();
    let done = 0;
    let rotation: Promise<void> | undefined;
    const handler = compose([audit({ log })], async () => {
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 3)));
      // Halfway through, logrotate moves the file and signals.
      if (++done === 5000) {
        rotation = log.flush().then(() => {
          renameSync(file, `${file}.1`);
          return log.reopen();
        });
      }
      return okResult();
    });
    const calls: Promise<Response>[] = [];
    for (let i = 0; i < 10_000; i++)
      calls.push(handler(ctx('tools/call', { name: 'srv__t', arguments: { i } })));
    await Promise.all(calls);
    await rotation;
    await log.close();
    const recs = [...records(`${file}.1`), ...records(file)];
    expect(recs).toHaveLength(10_000);
    expect(records(`${file}.1`).length).toBeGreaterThan(1000);
    expect(records(file).length).toBeGreaterThan(1000);
    expect(recs.every((r) => r.event === 'tool_call' && r.outcome === 'ok')).toBe(true);
    expect(new Set(recs.map((r) => (r.arguments as { i: number }).i)).size).toBe(10_000);
    expect(recs.map((r) => r.seq)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    expect(await verifyAudit([`${file}.1`, file], await key())).toMatchObject({ ok: true, lines: 10_000 });
    expect(log.stats()).toMatchObject({ written: 10_000, pending: 0, dropped: 0, failed: 0 });
  });
});

describe('files', () => {
  it('[audit:file-mode] the log is 0600 in a 0700 directory; the key is 0600, created once, shared by concurrent starts', async () => {
    const { log, file, keyFile } = await open();
    log.record({ event: 'server_start' });
    await log.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(file)).mode & 0o777).toBe(0o700);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(keyFile)).mode & 0o777).toBe(0o700);
    expect(readFileSync(keyFile, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/);
    const again = await loadAuditKey(keyFile);
    expect(again.export().toString('hex')).toBe(readFileSync(keyFile, 'utf8').trim());

    const fresh = join(paths().dir, 'k', 'audit.key');
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadAuditKey(fresh)));
    expect(new Set(keys.map((k) => k.export().toString('hex'))).size).toBe(1);

    writeFileSync(fresh, 'not a key\n', { mode: 0o600 });
    await expect(loadAuditKey(fresh)).rejects.toMatchObject({ code: 'AUDIT_IO' });
    const warnings: string[] = [];
    writeFileSync(fresh, `${'ab'.repeat(32)}\n`);
    chmodSync(fresh, 0o644);
    await loadAuditKey(fresh, (m) => warnings.push(m));
    expect(warnings.join()).toMatch(/readable by group or others/);
    // The key's value never appears in a message.
    expect(warnings.join()).not.toContain('abab');
  });

  it('[audit:file-mode] a file ending in a partial line (a crash) or written with another key is reported at open', async () => {
    const { log, file, keyFile, key } = await open();
    log.record({ event: 'server_start' });
    await log.close();
    appendFileSync(file, '{"ts":"2026-01-01T00:0');
    const again = await open({}, { dir: '', file, keyFile });
    expect(again.messages.join('\n')).toMatch(/ends in a partial line/);
    again.log.record({ event: 'server_start' });
    await again.log.close();
    const text = readFileSync(file, 'utf8').split('\n');
    expect(text).toHaveLength(4);
    expect(JSON.parse(text[2]!)).toMatchObject({ seq: 2 });
    expect((await verifyAudit([file], await key())).problem).toMatchObject({
      line: 2,
      reason: expect.stringMatching(/not valid JSON/) as unknown,
    });

    const other = await open({}, { dir: '', file, keyFile: join(paths().dir, 'other.key') });
    expect(other.messages.join('\n')).toMatch(/does not verify with this key/);
    await other.log.close();
  });
});

describe('config and CLI', () => {
  it('[audit:config:invalid] gateway.audit is validated when parsed, naming the offending path', async () => {
    expect(await parseAudit({ file: 'audit.log' }, '/data')).toEqual({
      file: '/data/audit.log',
      keyFile: '/data/audit.key',
      maxArgumentBytes: 8192,
    });
    expect(await parseAudit('/var/log/mcpw/audit.log', '/data')).toMatchObject({
      file: '/var/log/mcpw/audit.log',
    });
    expect(
      await parseAudit({ file: 'a.log', keyFile: '/k/audit.key', maxArgumentBytes: 2048 }, '/d'),
    ).toEqual({
      file: '/d/a.log',
      keyFile: '/k/audit.key',
      maxArgumentBytes: 2048,
    });
    await expect(parseAudit({ file: '' })).rejects.toThrow(/^gateway\.audit\.file: must name a file/);
    await expect(parseAudit({ file: 'a', maxArgumentBytes: 10 })).rejects.toThrow(
      /^gateway\.audit\.maxArgumentBytes:/,
    );
    await expect(parseAudit({ file: 'a', rotate: true })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^gateway\.audit/) as unknown,
    });
    await expect(parseAudit(42)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('[audit:cli:tail] tail prints the last lines, plain or as JSON, and follows the log across a rotation', async () => {
    const { log, file } = await open();
    for (let i = 1; i <= 5; i++)
      log.record({ event: 'tool_call', client_id: `c${i}`, tool: 'gh__t', outcome: 'ok', duration_ms: i });
    log.record({
      event: 'policy_denied',
      client_id: 'c6',
      tool: 'gh__rm',
      outcome: 'denied',
      reason: 'destructive',
    });
    await log.flush();
    const plain = await cli(['audit', 'tail', file, '-n', '2']);
    expect(plain.code).toBe(0);
    expect(plain.stdout.split('\n')).toEqual([
      expect.stringMatching(/^\S+Z {2}tool_call {2}c5 {2}gh__t {2}ok {2}5ms$/),
      expect.stringMatching(/^\S+Z {2}policy_denied {2}c6 {2}gh__rm {2}denied {2}\(destructive\)$/),
      '',
    ]);
    const asJson = await cli(['audit', 'tail', file, '-n', '3', '--json']);
    expect(
      asJson.stdout
        .split('\n')
        .slice(0, -1)
        .map((l) => (JSON.parse(l) as { seq: number }).seq),
    ).toEqual([4, 5, 6]);
    expect((await cli(['audit', 'tail', file, '-n', 'x'])).code).toBe(2);
    expect((await cli(['audit', 'tail', join(dirname(file), 'none.log')])).stderr).toMatch(/no audit log at/);
    expect((await cli(['audit', 'bogus'])).code).toBe(2);

    // --follow, until aborted: lines appended, the file moved away, the new file.
    const stop = new AbortController();
    let live = '';
    const following = (await import('../src/cli/audit.js')).run(
      ['tail', file, '-n', '0', '--follow', '--json'],
      { ...fakeCli(), stdout: (t) => (live += t) },
      stop.signal,
    );
    await new Promise((r) => setTimeout(r, 300));
    log.record({ event: 'tool_call', client_id: 'live1' });
    await log.flush();
    renameSync(file, `${file}.1`);
    log.record({ event: 'tool_call', client_id: 'live2' }); // into the old file until reopened
    await log.flush();
    await log.reopen();
    log.record({ event: 'tool_call', client_id: 'live3' });
    await log.close();
    const ids = () =>
      live
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { client_id: string }).client_id);
    await eventually(() => ids().length >= 3, 5000).catch(() => undefined);
    stop.abort();
    expect(await following).toBe(0);
    expect(ids()).toEqual(['live1', 'live2', 'live3']);
  });
});
