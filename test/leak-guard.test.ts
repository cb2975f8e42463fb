import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '../src/gateway/gateway.js';
import { SECRET_LEAK_BLOCKED, type Request, type Response } from '../src/gateway/jsonrpc.js';
import { parseLeakGuard } from '../src/gateway/middleware/leak-guard/config.js';
import { SHAPES_RE, mayHoldShape } from '../src/gateway/middleware/leak-guard/detectors.js';
import { FormIndex } from '../src/gateway/middleware/leak-guard/secrets.js';
import {
  type DetectorId,
  leakGuard,
  type LeakGuardOptions,
  type LeakInfo,
} from '../src/gateway/middleware/leak-guard/index.js';
import { NameTable } from '../src/gateway/names.js';
import type { CallContext, Client, ManagedSecret } from '../src/gateway/pipeline.js';
import type { Session } from '../src/gateway/session.js';
import { DEFAULTS } from '../src/gateway/settings.js';
import { secretForms } from '../src/run/forms.js';
import type { ServerConfig } from '../src/servers/schema.js';
import { processServer, expectConfigError } from './helpers/units.js';

/**
 * The secret-leak guard: every token shape (positive and negative samples), managed secrets in
 * each encoded form, redact and block on arguments and results, the per-server allowlist, and a
 * canary that must never show up in anything the guard reports. The flows run through a real
 * gateway (in process) and real upstream processes; the detectors through the stage directly.
 */

// ---- samples, made up at run time (no token-shaped literal in the repository) ----

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
function pick(alphabet: string, n: number): string {
  const bytes = randomBytes(n);
  let out = '';
  for (let i = 0; i < n; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}
const b64url = (s: string) => Buffer.from(s).toString('base64url');
const pem = (
  generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
).trim();

const POSITIVE: Record<DetectorId, string[]> = {
  github: [
    'ghp_' + pick(B62, 36),
    'gho_' + pick(B62, 36),
    'ghu_' + pick(B62, 36),
    'ghs_' + pick(B62, 36),
    'ghr_' + pick(B62, 36),
    'github_pat_' + pick(B62, 22) + '_' + pick(B62, 59),
  ],
  openai: ['sk-' + pick(B62, 48), 'sk-proj-' + pick(B62 + '-_', 120), 'sk-svcacct-' + pick(B62 + '-_', 100)],
  anthropic: ['sk-ant-api03-' + pick(B62 + '-_', 93) + 'AA', 'sk-ant-admin01-' + pick(B62 + '-_', 93) + 'AA'],
  aws: ['AKIA' + pick(UPPER, 16), 'ASIA' + pick(UPPER, 16)],
  slack: [
    'xoxb-1234567890-1234567890123-' + pick(B62, 24),
    'xoxp-' + pick('0123456789', 12) + '-' + pick(B62, 32),
  ],
  stripe: ['sk_live_' + pick(B62, 24), 'rk_live_' + pick(B62, 24), 'sk_test_' + pick(B62, 99)],
  'private-key': [
    pem,
    '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA' +
      pick(B62, 60) +
      '\n' +
      pick(B62, 64) +
      '\n-----END RSA PRIVATE KEY-----',
  ],
  jwt: [
    [b64url('{"alg":"HS256","typ":"JWT"}'), b64url('{"sub":"1234567890","name":"x"}'), pick(B62, 43)].join(
      '.',
    ),
  ],
  'mcp-warden': ['mcpw_' + pick(B62, 49)],
};

const AWS_SECRET = pick(B62 + '/+', 40);

const NEGATIVE = [
  'The quick brown fox asks: is sk- a prefix? ghp_ and AKIA are mentioned, eyJ too, xoxb- and mcpw_.',
  'task-' + pick('abcdef0123456789', 40) + ' and disk-usage-' + pick(B62, 40),
  randomUUID(),
  randomUUID().replace(/-/g, ''),
  pick('0123456789abcdef', 40), // a git SHA
  'commit ' + pick('0123456789abcdef', 40) + ' tree ' + pick('0123456789abcdef', 64),
  randomBytes(3000).toString('base64'),
  randomBytes(3000).toString('base64url'),
  'ghp_' + pick(B62, 35), // one short
  'xghp_' + pick(B62, 36), // inside a word
  'ghp_' + pick(B62, 36) + '_suffix', // glued to more word characters
  'AKIA' + pick(UPPER, 15),
  'AKIA' + pick('abcdefghijklmnop', 16),
  'sk-short',
  'sk_live_short',
  'xoxb-123',
  'mcpw_' + pick(B62, 48),
  'just forty base64 chars ' + AWS_SECRET + ' with no key name near them',
  '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA' + pick(B62, 40) + '\n-----END PUBLIC KEY-----',
  '-----BEGIN CERTIFICATE-----\nMIIB' + pick(B62, 60) + '\n-----END CERTIFICATE-----',
  'eyJhbGciOiJIUzI1NiJ9 alone, and eyJ.eyJ.x',
  'sk-ant-' + pick(B62, 10),
];

// ---- the stage on its own (a session whose identity knows one tool per server) ----

function identityWith(tools: [server: string, tool: string][]) {
  const table = new NameTable();
  for (const [server, tool] of tools) table.add(server, server, tool);
  return {
    tools: table,
    prompts: new NameTable(),
    resources: new Map<string, { server: string; name: string }>(),
  };
}

const client: Client = { id: 'c', via: 'api-key' };

async function through(
  stage: ReturnType<typeof leakGuard>,
  request: Request,
  result: Record<string, unknown> | ((req: Request) => Record<string, unknown>),
  tools: [string, string][] = [['a', 'say']],
): Promise<{ res: Response; ctx: CallContext; forwarded: Request | undefined }> {
  const session = { identity: identityWith(tools) } as unknown as Session;
  const ctx: CallContext = { session, request, front: 'http', client };
  let forwarded: Request | undefined;
  const res = await stage(ctx, async () => {
    forwarded = ctx.request;
    return {
      jsonrpc: '2.0',
      id: request.id,
      result: typeof result === 'function' ? result(ctx.request) : result,
    };
  });
  return { res, ctx, forwarded };
}

const text = (t: string) => ({ content: [{ type: 'text', text: t }] });
const callSay = (args: Record<string, unknown> = {}): Request => ({
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'a__say', arguments: args },
});
const firstText = (res: Response) => (res.result!.content as { text: string }[])[0]!.text;

describe('token shapes', () => {
  const stage = leakGuard({});

  it('[leak:shapes:prefilter] the literal prefilter passes every sample of every shape (it is a superset)', () => {
    for (const id of Object.keys(POSITIVE) as DetectorId[])
      for (const sample of POSITIVE[id]) {
        expect(mayHoldShape(sample), `${id}: ${sample.slice(0, 24)}`).toBe(true);
        SHAPES_RE.lastIndex = 0;
        expect(SHAPES_RE.test(sample)).toBe(true);
      }
    expect(mayHoldShape('an ordinary line about a__echo and 0123456789abcdef')).toBe(false);
  });

  /** Every sample of a detector, in plain text, on its own line, inside JSON in text, deep in structure. */
  async function expectRedacted(id: DetectorId) {
    expect(POSITIVE[id].length).toBeGreaterThan(0);
    for (const sample of POSITIVE[id]) {
      const { res } = await through(stage, callSay(), {
        content: [
          { type: 'text', text: `before ${sample} after` },
          { type: 'text', text: `line one\n${sample}\nline three` },
          { type: 'text', text: JSON.stringify({ credential: sample, note: 'x' }) },
        ],
        structuredContent: { deep: [{ token: sample }] },
      });
      const out = JSON.stringify(res);
      for (const line of sample.split('\n')) if (line.length >= 16) expect(out).not.toContain(line);
      const items = res.result!.content as { text: string }[];
      expect(items[0]!.text).toBe(`before [redacted:${id}] after`);
      expect(items[1]!.text).toBe(`line one\n[redacted:${id}]\nline three`);
      expect(JSON.parse(items[2]!.text)).toEqual({ credential: `[redacted:${id}]`, note: 'x' });
      expect(res.result!.structuredContent).toEqual({ deep: [{ token: `[redacted:${id}]` }] });
    }
  }

  it('[leak:shapes:github] GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_) are redacted', () =>
    expectRedacted('github'));
  it('[leak:shapes:openai] OpenAI keys (sk-, sk-proj-, sk-svcacct-) are redacted', () =>
    expectRedacted('openai'));
  it('[leak:shapes:anthropic] Anthropic keys (sk-ant-...) are redacted', () => expectRedacted('anthropic'));
  it('[leak:shapes:aws] AWS access key ids (AKIA, ASIA) are redacted', () => expectRedacted('aws'));
  it('[leak:shapes:slack] Slack tokens (xox[baprs]-) are redacted', () => expectRedacted('slack'));
  it('[leak:shapes:stripe] Stripe keys (sk_live_, rk_live_, sk_test_) are redacted', () =>
    expectRedacted('stripe'));
  it('[leak:shapes:private-key] PEM private keys are redacted header to footer', () =>
    expectRedacted('private-key'));
  it('[leak:shapes:jwt] JWTs are redacted', () => expectRedacted('jwt'));
  it('[leak:shapes:mcp-warden] mcp-warden client keys (mcpw_) are redacted', () =>
    expectRedacted('mcp-warden'));

  it('[leak:shapes:aws-secret] an AWS secret access key is redacted next to its name only, the name kept', async () => {
    for (const line of [
      `aws_secret_access_key = ${AWS_SECRET}`,
      `AWS_SECRET_ACCESS_KEY=${AWS_SECRET}`,
      `{"SecretAccessKey": "${AWS_SECRET}"}`,
      `aws_secret_access_key:\t'${AWS_SECRET}'`,
    ]) {
      const { res } = await through(stage, callSay(), text(line));
      expect(firstText(res)).toBe(line.replace(AWS_SECRET, '[redacted:aws]'));
    }
  });

  it('[leak:shapes:negative] ordinary text, UUIDs, git SHAs, base64 blobs and near misses pass untouched', async () => {
    for (const sample of NEGATIVE) {
      const result = { ...text(sample), structuredContent: { sample } };
      const { res } = await through(stage, callSay(), result);
      expect(res.result).toBe(result); // not even copied
    }
  });

  it('[leak:shapes:boundary] a token right after a control character or an escape sequence is still found', async () => {
    const token = POSITIVE.github[0]!;
    for (const before of ['\n', '\t', '\r\n', '\u0001', '\u001b[31m ', '"', '\\']) {
      const { res } = await through(stage, callSay(), text(`x${before}${token}`));
      expect(firstText(res)).not.toContain(token);
    }
  });

  it('[leak:shapes-off] shapes: false leaves token shapes alone but still redacts managed secrets', async () => {
    const secret = 'managed-' + pick(B62, 20);
    const off = leakGuard({ shapes: false, secrets: () => [{ name: 'DB_PASSWORD', value: secret }] });
    const token = POSITIVE.openai[0]!;
    const { res } = await through(off, callSay(), text(`${token} ${secret}`));
    expect(firstText(res)).toBe(`${token} [redacted:DB_PASSWORD]`);
  });
});

describe('managed secrets (stage)', () => {
  it('[leak:result:forms] each form of a managed secret is redacted: raw, JSON-escaped, base64, base64url, URL-encoded, in a Basic header', async () => {
    const value = 'pa"ss\\w/rd é ' + pick(B62, 12);
    const stage = leakGuard({ secrets: () => [{ name: 'DB_PASSWORD', value }] });
    const samples = [
      value,
      JSON.stringify({ password: value }),
      Buffer.from(value).toString('base64'),
      Buffer.from(value).toString('base64url'),
      'https://db.test/?p=' + encodeURIComponent(value),
      'Authorization: Basic ' + Buffer.from('admin:' + value).toString('base64'),
      'form=' + new URLSearchParams([['', value]]).toString().slice(1),
    ];
    for (const sample of samples) {
      const { res } = await through(stage, callSay(), text(`got ${sample} ok`));
      const out = firstText(res);
      expect(out).toContain('[redacted:DB_PASSWORD]');
      for (const form of secretForms(value)) expect(out).not.toContain(form);
    }
    // A JSON string inside text stays valid JSON once redacted.
    const { res } = await through(stage, callSay(), text(JSON.stringify({ a: [value, `x${value}y`] })));
    expect(JSON.parse(firstText(res))).toEqual({ a: ['[redacted:DB_PASSWORD]', 'x[redacted:DB_PASSWORD]y'] });
  });

  it('[leak:result:large] a secret in a long text, or among thousands of small fields, is found', async () => {
    const value = 'big-' + pick(B62, 24);
    const stage = leakGuard({ secrets: () => [{ name: 'BIG', value }] });
    const filler = 'lorem ipsum dolor sit amet '.repeat(4000);
    const long = await through(stage, callSay(), text(filler + value + filler));
    expect(firstText(long.res)).toBe(filler + '[redacted:BIG]' + filler);
    const token = POSITIVE.stripe[0]!;
    const rows = Array.from({ length: 5000 }, (_, i) => ({ id: i, name: `row ${i}` }));
    rows[3333]!.name = `row ${value}`;
    rows[4444]!.name = token;
    const many = await through(stage, callSay(), { structuredContent: { rows } });
    const out = (many.res.result!.structuredContent as { rows: { name: string }[] }).rows;
    expect(out[3333]!.name).toBe('row [redacted:BIG]');
    expect(out[4444]!.name).toBe('[redacted:stripe]');
    expect(out[1]).toBe(rows[1]); // untouched rows are shared, not copied
    expect(JSON.stringify(many.res)).not.toContain(value);
  });

  it('[leak:secrets:reload] the secret list is read again when the source answers a new array', async () => {
    const one = 'first-' + pick(B62, 16);
    const two = 'second-' + pick(B62, 16);
    let list: ManagedSecret[] = [{ name: 'ONE', value: one }];
    const stage = leakGuard({ secrets: () => list });
    expect(firstText((await through(stage, callSay(), text(`${one} ${two}`))).res)).toBe(
      `[redacted:ONE] ${two}`,
    );
    list = [{ name: 'TWO', value: two }];
    expect(firstText((await through(stage, callSay(), text(`${one} ${two}`))).res)).toBe(
      `${one} [redacted:TWO]`,
    );
  });

  it('[leak:secrets:short] values shorter than 4 characters are not looked for (they would mask ordinary text)', async () => {
    const stage = leakGuard({ secrets: () => [{ name: 'PIN', value: 'abc' }] });
    const result = text('abc abc');
    expect((await through(stage, callSay(), result)).res.result).toBe(result);
  });

  it('[leak:result:keys-and-errors] a secret in an object key or in an error a server answered is redacted too', async () => {
    const value = 'keyish-' + pick(B62, 20);
    const stage = leakGuard({ secrets: () => [{ name: 'K', value }] });
    const { res } = await through(stage, callSay(), { structuredContent: { [value]: 1, plain: value } });
    expect(res.result!.structuredContent).toEqual({ '[redacted:K]': 1, plain: '[redacted:K]' });
    const session = { identity: identityWith([['a', 'say']]) } as unknown as Session;
    const ctx: CallContext = { session, request: callSay(), front: 'http', client };
    const err = await stage(ctx, async () => ({
      jsonrpc: '2.0',
      id: 7,
      error: { code: -32000, message: `bad credentials ${value}`, data: { used: value } },
    }));
    expect(err.error).toEqual({
      code: -32000,
      message: 'bad credentials [redacted:K]',
      data: { used: '[redacted:K]' },
    });
  });

  it('[leak:deep] a secret at the bottom of a very deep value is still redacted', async () => {
    const value = 'deep-' + pick(B62, 20);
    const stage = leakGuard({ secrets: () => [{ name: 'DEEP', value }] });
    let deep: unknown = { v: value };
    for (let i = 0; i < 2000; i++) deep = [deep];
    const { res } = await through(stage, callSay(), { structuredContent: deep });
    const out = JSON.stringify(res);
    expect(out).not.toContain(value);
    expect(out).toContain('[redacted:DEEP]');
  });

  it('[leak:disabled] enabled: false passes everything through', async () => {
    const stage = leakGuard({
      enabled: false,
      mode: 'block',
      secrets: () => [{ name: 'X', value: 'xxxxxxxx' }],
    });
    const result = text(`xxxxxxxx ${POSITIVE.github[0]}`);
    const { res, ctx } = await through(stage, callSay({ a: 'xxxxxxxx' }), result);
    expect(res.result).toBe(result);
    expect(ctx.denial).toBeUndefined();
  });
});

describe('secret filter (secrets.ts)', () => {
  it('[leak:secrets:filter-exact] the skipping filter finds exactly the occurrences a naive search finds, for short and long values', () => {
    const alphabet = B62 + ' -_"\\/+=.é€\n';
    for (let trial = 0; trial < 150; trial++) {
      const count = 1 + (trial % 7);
      const values = Array.from({ length: count }, (_, i) => pick(alphabet, 4 + ((trial * 7 + i * 13) % 40)));
      const patterns = [...new Set(values.flatMap((v) => secretForms(v)))].map((text, label) => ({
        text,
        label,
      }));
      const index = new FormIndex(patterns);
      // A text of ordinary characters with a few forms planted at random places.
      let text = pick(alphabet, 50 + (trial % 300));
      for (let k = 0; k < 3; k++) {
        const form = patterns[(trial * 31 + k * 17) % patterns.length]!.text;
        const at = (trial * 13 + k * 101) % (text.length + 1);
        text = text.slice(0, at) + form + text.slice(at);
      }
      const found: string[] = [];
      index.scan(text, (start, end, label) => {
        expect(text.slice(start, end)).toBe(patterns[label]!.text);
        found.push(`${start}:${label}`);
      });
      const naive: string[] = [];
      for (const p of patterns)
        for (let at = text.indexOf(p.text); at !== -1; at = text.indexOf(p.text, at + 1))
          naive.push(`${at}:${p.label}`);
      expect(found.sort()).toEqual(naive.sort());
      expect(naive.length).toBeGreaterThanOrEqual(1); // a later plant may split an earlier one
    }
  });
});

describe('allowlist (stage)', () => {
  it('[leak:allowlist] a server’s allowlist exempts its detectors, secrets and literals, and no other server’s', async () => {
    const own = 'own-' + pick(B62, 20);
    const sample = 'AKIAIOSFODNN7EXAMPLE';
    const jwt = POSITIVE.jwt[0]!;
    const stage = leakGuard({
      secrets: () => [{ name: 'A_TOKEN', value: own, server: 'a' }],
      allow: { a: ['jwt', 'secret:A_TOKEN'], '*': [`literal:${sample}`] },
    });
    const tools: [string, string][] = [
      ['a', 'say'],
      ['b', 'say'],
    ];
    const body = `${jwt} ${own} ${sample}`;
    const a = await through(stage, callSay(), text(body), tools);
    expect(firstText(a.res)).toBe(body);
    const b = await through(
      stage,
      { ...callSay(), params: { name: 'b__say', arguments: {} } },
      text(body),
      tools,
    );
    expect(firstText(b.res)).toBe(`[redacted:jwt] [redacted:A_TOKEN] ${sample}`);
    // A literal exempts exactly that text: another access key id is still redacted for a.
    const other = 'AKIA' + pick(UPPER, 16);
    expect(firstText((await through(stage, callSay(), text(other), tools)).res)).toBe('[redacted:aws]');
  });
});

// ---- end to end: a real gateway and real upstream processes ----

// Answers with the value of $LEAK in the form asked for, echoes arguments, counts calls.
const UPSTREAM = String.raw`
const label = process.argv[1];
const V = process.env.LEAK;
const calls = {};
const forms = {
  raw: () => 'token is ' + V + '.',
  json: () => JSON.stringify({ token: V }),
  base64: () => Buffer.from(V).toString('base64'),
  base64url: () => Buffer.from(V).toString('base64url'),
  url: () => 'https://x.test/?t=' + encodeURIComponent(V),
  basic: () => 'Authorization: Basic ' + Buffer.from('user:' + V).toString('base64'),
  jwt: () => 'session ' + process.env.JWT,
};
const send = (m) => process.stdout.write(JSON.stringify(m) + '\n');
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  const ok = (result) => send({ jsonrpc: '2.0', id: m.id, result });
  const p = m.params || {};
  switch (m.method) {
    case 'initialize':
      return ok({ protocolVersion: p.protocolVersion, capabilities: { tools: {}, prompts: {}, resources: {} }, serverInfo: { name: label, version: '1' } });
    case 'tools/list':
      return ok({ tools: ['echo', 'leak', 'calls'].map((name) => ({ name, inputSchema: { type: 'object' } })) });
    case 'prompts/list':
      return ok({ prompts: [{ name: 'use' }] });
    case 'prompts/get':
      return ok({ messages: [{ role: 'user', content: { type: 'text', text: 'use ' + V + ' for ' + JSON.stringify(p.arguments) } }] });
    case 'resources/list':
      return ok({ resources: [{ uri: 'mem://' + label + '/secret', name: 'secret' }] });
    case 'resources/read':
      return ok({ contents: [{ uri: p.uri, mimeType: 'text/plain', text: V }] });
    case 'tools/call': {
      calls[p.name] = (calls[p.name] || 0) + 1;
      const a = p.arguments || {};
      if (p.name === 'calls') return ok({ content: [{ type: 'text', text: JSON.stringify(calls) }] });
      if (p.name === 'echo') return ok({ content: [{ type: 'text', text: JSON.stringify(a) }], structuredContent: a });
      if (a.form === 'error') return send({ jsonrpc: '2.0', id: m.id, error: { code: -32000, message: 'rejected ' + V } });
      if (a.form === 'structured') return ok({ content: [], structuredContent: { [V]: 'as a key', nested: [{ v: V }] } });
      return ok({ content: [{ type: 'text', text: forms[a.form]() }] });
    }
  }
  send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'Method not found' } });
});
`;

const CANARY = 'canary-"q\\u/' + pick(B62, 24);
const JWT = POSITIVE.jwt[0]!;
const SECRETS: ManagedSecret[] = [{ name: 'LEAK', value: CANARY, server: 'a' }];

function server(name: string): ServerConfig {
  return processServer(name, process.execPath, ['-e', UPSTREAM, name], { LEAK: CANARY, JWT });
}

const gateways: Gateway[] = [];

async function gatewayWith(opts: LeakGuardOptions) {
  const gw = new Gateway({
    settings: DEFAULTS,
    env: { PATH: process.env.PATH },
    log: () => undefined,
    stages: [leakGuard({ secrets: () => SECRETS, ...opts })],
  });
  gateways.push(gw);
  await gw.setServers([server('a'), server('b')].map((config) => ({ config, values: new Map() })));
  const session = gw.openSession({ deliver: () => true, canReceiveRequests: () => false }, { client });
  let id = 1;
  const call = async (method: string, params: Record<string, unknown>) => {
    const request: Request = { jsonrpc: '2.0', id: id++, method, params };
    const ctx: CallContext = { session, request, front: 'stdio', client };
    return { res: await gw.request(ctx), ctx };
  };
  await call('tools/list', {});
  return {
    call,
    tool: (name: string, args: Record<string, unknown>) => call('tools/call', { name, arguments: args }),
  };
}

afterAll(async () => {
  await Promise.all(gateways.map((g) => g.shutdown()));
});

/** Nothing the guard produced may hold the canary, or any spelling of it. */
function expectNoCanary(...things: unknown[]) {
  const all = JSON.stringify(things);
  for (const form of secretForms(CANARY)) expect(all).not.toContain(JSON.stringify(form).slice(1, -1));
  expect(all).not.toContain(CANARY.slice(-24));
}

describe('through the gateway (real upstream processes)', () => {
  let redact: Awaited<ReturnType<typeof gatewayWith>>;
  let block: Awaited<ReturnType<typeof gatewayWith>>;
  const leaks: LeakInfo[] = [];
  beforeAll(async () => {
    redact = await gatewayWith({ onLeak: (info) => leaks.push(info), allow: { a: ['jwt'] } });
    block = await gatewayWith({ mode: 'block', onLeak: (info) => leaks.push(info) });
  });

  it('[leak:result:redact] a managed secret in a result is redacted in every form, in tool, prompt and resource results', async () => {
    for (const form of ['raw', 'json', 'base64', 'base64url', 'url', 'basic']) {
      const { res, ctx } = await redact.tool('b__leak', { form });
      expect(res.error).toBeUndefined();
      expect(firstText(res)).toContain('[redacted:LEAK]');
      expect(ctx.denial).toBeUndefined();
      expectNoCanary(res);
    }
    const structured = await redact.tool('b__leak', { form: 'structured' });
    expect(structured.res.result!.structuredContent).toEqual({
      '[redacted:LEAK]': 'as a key',
      nested: [{ v: '[redacted:LEAK]' }],
    });
    const error = await redact.tool('b__leak', { form: 'error' });
    expect(error.res.error?.message).toBe('rejected [redacted:LEAK]');
    const prompt = await redact.call('prompts/get', { name: 'b__use', arguments: { x: '1' } });
    expect(JSON.stringify(prompt.res.result)).toContain('use [redacted:LEAK] for');
    const resource = await redact.call('resources/read', { uri: 'mem://b/secret' });
    expect(resource.res.result!.contents).toEqual([
      { uri: 'mem://b/secret', mimeType: 'text/plain', text: '[redacted:LEAK]' },
    ]);
    expectNoCanary(structured.res, error.res, prompt.res, resource.res);
    const mine = leaks.filter((l) => l.direction === 'result');
    expect(mine).toContainEqual({
      direction: 'result',
      server: 'b',
      tool: 'b__leak',
      detector: 'secret:LEAK',
      path: 'result.content[0].text',
    });
    expect(mine).toContainEqual(
      expect.objectContaining({ tool: 'mem://b/secret', server: 'b', path: 'result.contents[0].text' }),
    );
  });

  it('[leak:arguments:redact] a secret in arguments is redacted before the server sees it', async () => {
    const token = POSITIVE.slack[0]!;
    const { res } = await redact.tool('a__echo', { body: `use ${CANARY}`, list: [token, 'fine'] });
    // The echo is what the server received.
    expect(res.result!.structuredContent).toEqual({
      body: 'use [redacted:LEAK]',
      list: ['[redacted:slack]', 'fine'],
    });
    expectNoCanary(res);
    expect(leaks).toContainEqual({
      direction: 'arguments',
      server: 'a',
      tool: 'a__echo',
      detector: 'secret:LEAK',
      path: 'arguments.body',
    });
    expect(leaks).toContainEqual(expect.objectContaining({ detector: 'slack', path: 'arguments.list[0]' }));
  });

  it('[leak:arguments:block] in block mode a call whose arguments hold a secret never reaches the server', async () => {
    const { res, ctx } = await block.tool('a__echo', { nested: { deeper: [`x ${CANARY}`] } });
    expect(res.error?.code).toBe(SECRET_LEAK_BLOCKED);
    expect(res.error?.message).toMatch(
      /arguments of tool a__echo hold a secret \(managed secret:LEAK at arguments\.nested\.deeper\[0\]\)/,
    );
    expect(ctx.denial).toEqual({ event: 'secret_leak', status: 403, reason: res.error!.message });
    const calls = await block.tool('a__calls', {});
    // The server counted the `calls` call itself, and nothing else.
    expect(JSON.parse(firstText(calls.res))).toEqual({ calls: 1 });
    expectNoCanary(res, ctx.denial);
  });

  it('[leak:result:block] in block mode a result holding a secret is replaced by an error that never holds it', async () => {
    for (const form of ['raw', 'base64', 'structured', 'error']) {
      const { res, ctx } = await block.tool('a__leak', { form });
      expect(res.result).toBeUndefined();
      expect(res.error?.code).toBe(SECRET_LEAK_BLOCKED);
      expect(res.error?.message).toMatch(
        /^the result of tool a__leak held a secret \(managed secret:LEAK at (result|error)\./,
      );
      expect(ctx.denial).toMatchObject({ event: 'secret_leak', status: 403 });
      expectNoCanary(res, ctx.denial);
    }
    const resource = await block.call('resources/read', { uri: 'mem://a/secret' });
    expect(resource.res.error?.code).toBe(SECRET_LEAK_BLOCKED);
    expectNoCanary(resource.res);
    // A token shape blocks too.
    const jwt = await block.tool('a__leak', { form: 'jwt' });
    expect(jwt.res.error?.message).toMatch(/\(detector jwt at result\.content\[0\]\.text\)/);
    expect(JSON.stringify(jwt.res)).not.toContain(JWT);
  });

  it('[leak:allowlist:server] the allowlist is per server: a’s JWTs pass, b’s are redacted', async () => {
    expect(firstText((await redact.tool('a__leak', { form: 'jwt' })).res)).toBe(`session ${JWT}`);
    expect(firstText((await redact.tool('b__leak', { form: 'jwt' })).res)).toBe('session [redacted:jwt]');
  });

  it('[leak:no-value-in-reports] neither a denial, an error, nor onLeak ever holds the value, even when the tool name does', async () => {
    const named = await block.call('tools/call', { name: `a__echo${CANARY}`, arguments: { v: CANARY } });
    expect(named.res.error?.code).toBe(SECRET_LEAK_BLOCKED);
    expect(named.res.error?.message).toContain('a__echo[redacted:LEAK]');
    const named2 = await redact.call('tools/call', { name: `nope__${CANARY}`, arguments: { v: CANARY } });
    expectNoCanary(named.res, named.ctx.denial, named2.res, leaks);
    expect(leaks.length).toBeGreaterThan(5);
  });
});

describe('config', () => {
  it('[leak:config:parse] gateway.leakGuard is parsed with defaults, a wrong entry names its path and not its text', async () => {
    expect(await parseLeakGuard(undefined)).toEqual({
      enabled: true,
      mode: 'redact',
      shapes: true,
      allow: {},
    });
    const cfg = await parseLeakGuard({
      mode: 'block',
      shapes: false,
      allow: { github: ['jwt', 'secret:GITHUB_TOKEN', 'literal:AKIAIOSFODNN7EXAMPLE'], '*': ['slack'] },
    });
    expect(cfg).toEqual({
      enabled: true,
      mode: 'block',
      shapes: false,
      allow: { github: ['jwt', 'secret:GITHUB_TOKEN', 'literal:AKIAIOSFODNN7EXAMPLE'], '*': ['slack'] },
    });
    expect(typeof leakGuard(cfg)).toBe('function');
    const token = POSITIVE.github[0]!;
    for (const [raw, where] of [
      [{ mode: 'warn' }, 'gateway.leakGuard.mode'],
      [{ allow: { github: ['jwt', token] } }, 'gateway.leakGuard.allow.github[1]'],
      [{ allow: { github: ['secret:'] } }, 'gateway.leakGuard.allow.github[0]'],
      [{ allow: { github: 'jwt' } }, 'gateway.leakGuard.allow.github'],
      [{ enabled: 'no' }, 'gateway.leakGuard.enabled'],
      [{ extra: 1 }, 'gateway.leakGuard'],
    ] as const)
      await expectConfigError(() => parseLeakGuard(raw), where, token);
    // The stage checks the same when it is built from options directly.
    expect(() => leakGuard({ allow: { a: [token] } })).toThrow(
      /gateway\.leakGuard\.allow\.a\[0\]: not a detector id/,
    );
    expect(() => leakGuard({ mode: 'warn' as 'block' })).toThrow(/gateway\.leakGuard\.mode/);
  });
});
