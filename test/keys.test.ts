import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { updateKeyFile } from '../src/gateway/middleware/auth/key-file.js';
import {
  KEY_PATTERN,
  crc32,
  generateKey,
  hashKey,
  isKeyShaped,
  keyIdOf,
} from '../src/gateway/middleware/auth/key-format.js';
import { KeyRing, sameText } from '../src/gateway/middleware/auth/keys.js';
import { runCli } from './helpers/cli.js';
import { startCli } from './helpers/run-proc.js';
import { tempDir } from './helpers/tmp.js';

/** Every case gets its own data directory. */
function fresh() {
  const dir = tempDir('mcpw-keys-');
  const home = join(dir, 'home');
  const env = { MCP_WARDEN_HOME: home, HOME: dir };
  return {
    dir,
    home,
    file: join(home, 'gateway-keys.json'),
    env,
    cli: (...args: string[]) => runCli(['keys', ...args], { env, cwd: dir }),
  };
}

const rings: KeyRing[] = [];
afterEach(() => {
  for (const r of rings.splice(0)) r.close();
});
async function ring(file: string, opts: Partial<Parameters<typeof KeyRing.open>[0]> = {}) {
  const r = await KeyRing.open({ file, ...opts });
  rings.push(r);
  return r;
}

/** Polls `check` every 20 ms until it holds or `ms` pass; answers how long it took. */
async function within(ms: number, check: () => boolean): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - start;
}

type LsRow = { keyId: string; clientId: string; state: string; until?: string; [k: string]: unknown };
const lsJson = (out: string) => JSON.parse(out) as LsRow[];

describe('key format', () => {
  it('[auth:key:prefix-checksum] a key is mcpw_ + 43 base62 of 256 bits + a 6-char CRC-32 checksum', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = generateKey();
      expect(k).toMatch(/^mcpw_[0-9A-Za-z]{49}$/);
      expect(isKeyShaped(k)).toBe(true);
      seen.add(k);
    }
    expect(seen.size).toBe(200);
    // The checksum is zlib's CRC-32 of everything before it, in base62: scanners can check offline.
    expect(crc32('mcpw_abc')).toBe(zlibCrc32('mcpw_abc'));
    const k = generateKey();
    let n = zlibCrc32(k.slice(0, 48));
    let check = '';
    for (let i = 0; i < 6; i++) {
      check = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'[n % 62]! + check;
      n = Math.floor(n / 62);
    }
    expect(k.slice(48)).toBe(check);
  });

  it('[auth:key:checksum-rejects-typos] a changed character, a short key or another prefix is not key-shaped', () => {
    const k = generateKey();
    const flipped = k.slice(0, 20) + (k[20] === 'a' ? 'b' : 'a') + k.slice(21);
    expect(isKeyShaped(flipped)).toBe(false);
    expect(isKeyShaped(k.slice(0, -1))).toBe(false);
    expect(isKeyShaped('mcpx_' + k.slice(5))).toBe(false);
    expect(isKeyShaped('eyJhbGciOiJIUzI1NiJ9.e30.sig')).toBe(false);
  });

  it('[auth:key:leak-pattern] KEY_PATTERN finds a key inside text and not inside a longer token', () => {
    const k = generateKey();
    expect(KEY_PATTERN.exec(`token=${k}; more`)?.[0]).toBe(k);
    expect(KEY_PATTERN.test(`x${k}`)).toBe(false);
    expect(KEY_PATTERN.test(`${k}Z`)).toBe(false);
  });
});

describe('keys create / ls', () => {
  it('[auth:key:hash-only] create prints the key once on stdout and stores only its SHA-256 hash', () => {
    const { cli, file } = fresh();
    const r = cli(
      'create',
      'ci',
      '--description',
      'CI bot',
      '--servers',
      'github,docs',
      '--tools',
      'github__*',
    );
    expect(r.code).toBe(0);
    const key = r.stdout.trim();
    expect(r.stdout).toBe(`${key}\n`);
    expect(isKeyShaped(key)).toBe(true);
    expect(r.stderr).toMatch(/^created key k_[0-9a-f]{8} for client ci .*shown only now/);
    expect(r.stderr).not.toContain(key);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(5, 30));
    const doc = JSON.parse(text) as { format: string; version: number; keys: Record<string, unknown>[] };
    expect(doc).toMatchObject({ format: 'mcp-warden-keys', version: 1 });
    expect(doc.keys).toEqual([
      {
        id: keyIdOf(hashKey(key)),
        clientId: 'ci',
        hash: hashKey(key),
        created: expect.any(String) as string,
        description: 'CI bot',
        servers: ['github', 'docs'],
        tools: ['github__*'],
      },
    ]);
  });

  it('[keys:create:json] --json prints the key with its id and metadata, never the hash', () => {
    const { cli, file } = fresh();
    const r = cli('create', 'bot', '--json', '--allow-destructive', '--expires', '90d');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ clientId: 'bot', allowDestructive: true });
    expect(isKeyShaped(out.key as string)).toBe(true);
    expect(out.keyId).toBe(keyIdOf(hashKey(out.key as string)));
    expect(r.stdout).not.toContain(hashKey(out.key as string));
    const days = (Date.parse(out.expires as string) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThan(90.1);
    expect(readFileSync(file, 'utf8')).not.toContain(out.key as string);
  });

  it('[keys:create:expires-date] --expires takes an ISO date, and refuses one in the past', () => {
    const { cli } = fresh();
    const r = cli('create', 'a', '--json', '--expires', '2099-01-31');
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { expires: string }).expires).toBe('2099-01-31T00:00:00.000Z');
    const past = cli('create', 'a', '--expires', '2001-01-01');
    expect(past.code).toBe(2);
    expect(past.stderr).toBe('mcp-warden: --expires "2001-01-01": that is in the past\n');
  });

  it('[keys:ls:no-secret] ls and ls --json show ids, clients, times and states; never a key or a hash', () => {
    const { cli } = fresh();
    const a = cli('create', 'alpha').stdout.trim();
    const b = cli('create', 'beta', '--expires', '1d', '--description', 'nightly').stdout.trim();
    const text = cli('ls');
    expect(text.code).toBe(0);
    const rows = lsJson(cli('ls', '--json').stdout);
    for (const out of [text.stdout, JSON.stringify(rows)]) {
      for (const k of [a, b]) {
        expect(out).not.toContain(k);
        expect(out).not.toContain(hashKey(k));
        expect(out).toContain(keyIdOf(hashKey(k)));
      }
    }
    expect(text.stdout.split('\n')[0]).toMatch(/^KEY ID +CLIENT +CREATED +EXPIRES +STATE/);
    expect(rows.map((r) => [r.clientId, r.state])).toEqual([
      ['alpha', 'active'],
      ['beta', 'active'],
    ]);
    expect(rows[1]).toMatchObject({ description: 'nightly', expires: expect.any(String) as string });
  });

  it('[keys:ls:empty] ls with no key file says so on stderr; --json prints []', () => {
    const { cli } = fresh();
    expect(cli('ls')).toMatchObject({ code: 0, stdout: '' });
    expect(cli('ls', '--json')).toMatchObject({ code: 0, stdout: '[]\n' });
  });

  it('[keys:file-modes] the key file is 0600 in a 0700 directory, and no lock is left behind', () => {
    const { cli, file, home } = fresh();
    expect(cli('create', 'ci').code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(home).mode & 0o777).toBe(0o700);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it('[keys:file:from-config] without --file the key file is the config gateway.auth.keys, relative to the config', () => {
    const { cli, dir } = fresh();
    mkdirSync(join(dir, 'conf'));
    writeFileSync(join(dir, 'mcp-warden.yaml'), 'gateway:\n  auth:\n    keys: conf/keys.json\n');
    expect(cli('create', 'ci').code).toBe(0);
    expect(existsSync(join(dir, 'conf', 'keys.json'))).toBe(true);
    expect(lsJson(cli('ls', '--json', '--file', join(dir, 'conf', 'keys.json')).stdout)).toHaveLength(1);
  });

  it('[keys:concurrent-create] eight concurrent creates lose none of the keys', async () => {
    const { env, dir, file } = fresh();
    const runs = Array.from({ length: 8 }, (_, i) =>
      startCli(['keys', 'create', `c${i}`], { env, cwd: dir }),
    );
    const done = await Promise.all(runs.map((r) => r.done));
    expect(done.map((d) => d.code)).toEqual(Array(8).fill(0));
    const r = await ring(file, { watch: false });
    expect(r.size).toBe(8);
    for (const [i, d] of done.entries()) {
      const v = r.verify(d.stdout.trim());
      expect(v.ok && v.entry.clientId).toBe(`c${i}`);
    }
  });
});

describe('keys revoke / rotate / expiry', () => {
  it('[keys:revoke:client] revoke CLIENT_ID revokes every key of that client, and only those', async () => {
    const { cli, file } = fresh();
    const a1 = cli('create', 'a').stdout.trim();
    const a2 = cli('create', 'a').stdout.trim();
    const b = cli('create', 'b').stdout.trim();
    const r = cli('revoke', 'a');
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toMatch(/^revoked 2 keys: k_[0-9a-f]{8}, k_[0-9a-f]{8}\n$/);
    const kr = await ring(file, { watch: false });
    expect(kr.verify(a1)).toMatchObject({ ok: false, reason: 'revoked' });
    expect(kr.verify(a2)).toMatchObject({ ok: false, reason: 'revoked' });
    expect(kr.verify(b).ok).toBe(true);
    expect(lsJson(cli('ls', '--json').stdout).map((x) => x.state)).toEqual(['revoked', 'revoked', 'active']);
    expect(cli('revoke', 'a').stderr).toBe('nothing to revoke: every key of a is already revoked\n');
  });

  it('[keys:revoke:key-id] revoke KEY_ID revokes that one key; an unknown one fails with exit 1', async () => {
    const { cli, file } = fresh();
    const a1 = cli('create', 'a').stdout.trim();
    const a2 = cli('create', 'a').stdout.trim();
    expect(cli('revoke', keyIdOf(hashKey(a1))).code).toBe(0);
    const kr = await ring(file, { watch: false });
    expect(kr.verify(a1)).toMatchObject({ ok: false, reason: 'revoked' });
    expect(kr.verify(a2).ok).toBe(true);
    const unknown = cli('revoke', 'k_00000000');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^mcp-warden: no key k_00000000 in .*; see keys ls\n$/);
  });

  it('[auth:rotate:grace] rotate makes a new key with the same scope; the old one works until the grace ends', async () => {
    const { cli, file } = fresh();
    const old = cli(
      'create',
      'ci',
      '--servers',
      'github',
      '--tools',
      'github__*',
      '--expires',
      '30d',
    ).stdout.trim();
    const r = cli('rotate', 'ci', '--grace', '1h', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { key: string; servers: string[]; tools: string[]; expires: string };
    expect(out).toMatchObject({ servers: ['github'], tools: ['github__*'] });
    expect(out.key).not.toBe(old);
    // Same lifetime as the old key, counted from now.
    expect(Math.abs(Date.parse(out.expires) - Date.now() - 30 * 86_400_000)).toBeLessThan(60_000);
    const rows = lsJson(cli('ls', '--json').stdout);
    expect(rows.map((x) => x.state)).toEqual(['rotating-out', 'active']);
    const graceEnd = Date.parse(rows[0]!.until!);
    expect(Math.abs(graceEnd - Date.now() - 3_600_000)).toBeLessThan(60_000);
    let now = Date.now();
    const kr = await ring(file, { watch: false, now: () => now });
    expect(kr.verify(old).ok).toBe(true);
    expect(kr.verify(out.key).ok).toBe(true);
    now = graceEnd - 1;
    expect(kr.verify(old).ok).toBe(true);
    now = graceEnd;
    expect(kr.verify(old)).toMatchObject({ ok: false, reason: 'expired' });
    expect(kr.verify(out.key).ok).toBe(true);
  });

  it('[keys:rotate:grace-zero] rotate --grace 0 ends the old key now; a client without keys cannot rotate', async () => {
    const { cli, file } = fresh();
    const old = cli('create', 'ci').stdout.trim();
    const r = cli('rotate', 'ci', '--grace', '0');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stopped working now/);
    const kr = await ring(file, { watch: false });
    expect(kr.verify(old)).toMatchObject({ ok: false, reason: 'expired' });
    expect(kr.verify(r.stdout.trim()).ok).toBe(true);
    expect(lsJson(cli('ls', '--json').stdout)[0]!.state).toBe('rotated-out');
    const none = cli('rotate', 'nobody');
    expect(none.code).toBe(1);
    expect(none.stderr).toBe(
      'mcp-warden: client nobody has no active key to rotate; make one with keys create nobody\n',
    );
  });

  it('[auth:key:expiry] a key stops working at its expiry, checked at each call without a reload', async () => {
    const { file } = fresh();
    const key = generateKey();
    const expires = Date.now() + 60_000;
    await updateKeyFile(file, (entries) => {
      entries.push({
        id: keyIdOf(hashKey(key)),
        clientId: 'ci',
        hash: hashKey(key),
        created: new Date().toISOString(),
        expires: new Date(expires).toISOString(),
      });
    });
    let now = Date.now();
    const kr = await ring(file, { watch: false, now: () => now });
    expect(kr.verify(key).ok).toBe(true);
    now = expires;
    expect(kr.verify(key)).toMatchObject({ ok: false, reason: 'expired' });
  });
});

describe('KeyRing', () => {
  it('[auth:key:verify-reasons] unknown, malformed and valid keys are told apart', async () => {
    const { cli, file } = fresh();
    const key = cli('create', 'ci').stdout.trim();
    const kr = await ring(file, { watch: false });
    expect(kr.verify(key)).toMatchObject({ ok: true, entry: { clientId: 'ci' } });
    expect(kr.verify(generateKey())).toEqual({ ok: false, reason: 'unknown' });
    expect(kr.verify('not-a-key')).toEqual({ ok: false, reason: 'malformed' });
    expect(kr.verify(key.slice(0, -1) + (key.endsWith('a') ? 'b' : 'a'))).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('[auth:reload:no-restart] a running KeyRing sees keys created and revoked by another process within 1.5 s', async () => {
    const { cli, file } = fresh();
    const first = cli('create', 'a').stdout.trim();
    const kr = await ring(file);
    expect(kr.verify(first).ok).toBe(true);
    const second = cli('create', 'b').stdout.trim();
    await within(1500, () => kr.verify(second).ok);
    expect(cli('revoke', 'a').code).toBe(0);
    await within(1500, () => !kr.verify(first).ok);
    expect(kr.verify(first)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('[auth:key:connection-memo] the key a connection proved is known again without a hash, yet revocation, expiry and other keys are still judged', async () => {
    const { cli, file } = fresh();
    const alice = cli('create', 'alice', '--expires', '1d').stdout.trim();
    const bob = cli('create', 'bob').stdout.trim();
    let now = Date.now();
    const kr = await ring(file, { watch: false, now: () => now });
    const conn = {};
    expect(kr.verify(alice, conn)).toMatchObject({ ok: true, entry: { clientId: 'alice' } });
    expect(kr.verify(alice, conn)).toMatchObject({ ok: true, entry: { clientId: 'alice' } });
    // Another key on the same connection (a proxy's pooled connection) is verified on its own.
    expect(kr.verify(bob, conn)).toMatchObject({ ok: true, entry: { clientId: 'bob' } });
    const typo = `${alice.slice(0, 10)}${alice[10] === 'a' ? 'b' : 'a'}${alice.slice(11)}`;
    expect(kr.verify(typo, conn)).toEqual({ ok: false, reason: 'malformed' });
    expect(kr.verify(alice, conn)).toMatchObject({ ok: true, entry: { clientId: 'alice' } });
    // Expiry is checked on the remembered key too.
    now += 2 * 86_400_000;
    expect(kr.verify(alice, conn)).toMatchObject({ ok: false, reason: 'expired' });
    // A revocation (a reload) is seen by a connection that proved the key before it.
    expect(cli('revoke', 'alice').code).toBe(0);
    now = Date.now();
    await kr.reload();
    expect(kr.verify(alice, conn)).toMatchObject({ ok: false, reason: 'revoked' });
    expect(sameText(alice, alice.slice())).toBe(true);
    expect(sameText(alice, typo)).toBe(false);
    expect(sameText(alice, alice.slice(0, -1))).toBe(false);
  });

  it('[auth:reload:check-on-verify] without a file watch, verify notices a changed file within about a second', async () => {
    const { cli, file } = fresh();
    cli('create', 'a');
    const reloads: number[] = [];
    const kr = await ring(file, { watch: false, onReload: (n) => reloads.push(n) });
    const second = cli('create', 'b').stdout.trim();
    const took = await within(1500, () => kr.verify(second).ok);
    expect(took).toBeLessThan(1500);
    expect(reloads).toEqual([2]);
  });

  it('[auth:reload:bad-file-keeps-keys] a broken key file written meanwhile is reported and the loaded keys stay', async () => {
    const { cli, file } = fresh();
    const key = cli('create', 'a').stdout.trim();
    const warnings: string[] = [];
    const kr = await ring(file, { warn: (l) => warnings.push(l) });
    writeFileSync(`${file}.new`, '{"format": "mcp-warden-keys", "version": 1, "keys": [ {"id": 5} ]}');
    renameSync(`${file}.new`, file);
    await within(1500, () => warnings.length > 0);
    expect(warnings[0]).toMatch(/keys\[0\]\.id: expected k_ and 8 hex; keeping the keys loaded before$/);
    expect(kr.verify(key).ok).toBe(true);
  });

  it('[auth:key-file:insecure] a key file others can write to is refused', async () => {
    const { cli, file } = fresh();
    cli('create', 'a');
    chmodSync(file, 0o666);
    await expect(KeyRing.open({ file, watch: false })).rejects.toThrow(/group or others can write to it/);
  });

  it('[auth:key-file:absent] with no key file yet the ring is empty, warns once, and picks up the first key', async () => {
    const { cli, file } = fresh();
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    const warnings: string[] = [];
    const kr = await ring(file, { warn: (l) => warnings.push(l) });
    expect(kr.size).toBe(0);
    expect(warnings).toEqual([
      `keys: no key file at ${file} yet; create a key with mcp-warden keys create CLIENT_ID`,
    ]);
    const key = cli('create', 'a').stdout.trim();
    await within(1500, () => kr.verify(key).ok);
  });
});

describe('legacy .mcp_keys.json', () => {
  const legacy = {
    clients: [
      { api_key: 'sk-legacy-alpha-0123456789', client_id: 'alpha', description: 'old alpha', enabled: true },
      { api_key: 'sk-legacy-beta-0123456789', client_id: 'beta', enabled: false },
    ],
  };

  it('[auth:legacy-keys:warn] a legacy file as key file is read with a warning and its keys verify in constant time', async () => {
    const { dir } = fresh();
    const file = join(dir, '.mcp_keys.json');
    writeFileSync(file, JSON.stringify(legacy), { mode: 0o600 });
    const warnings: string[] = [];
    const kr = await ring(file, { warn: (l) => warnings.push(l), watch: false });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /legacy \.mcp_keys\.json with plaintext keys; convert it with mcp-warden keys import/,
    );
    expect(warnings[0]).not.toContain('sk-legacy');
    expect(kr.verify('sk-legacy-alpha-0123456789')).toMatchObject({ ok: true, entry: { clientId: 'alpha' } });
    expect(kr.verify('sk-legacy-beta-0123456789')).toMatchObject({ ok: false, reason: 'revoked' });
    expect(kr.verify('sk-legacy-gamma')).toEqual({ ok: false, reason: 'malformed' });
    expect(kr.verify(generateKey())).toEqual({ ok: false, reason: 'unknown' });
  });

  it('[keys:legacy:top-level-array] a top-level array of clients is legacy too; ls warns and shows no key', () => {
    const { cli, dir } = fresh();
    const file = join(dir, 'old.json');
    writeFileSync(file, JSON.stringify(legacy.clients), { mode: 0o600 });
    const r = cli('ls', '--json', '--file', file);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^mcp-warden: warning: .* is a legacy \.mcp_keys\.json/);
    expect(r.stdout).not.toContain('sk-legacy');
    expect(lsJson(r.stdout).map((x) => [x.clientId, x.state])).toEqual([
      ['alpha', 'active'],
      ['beta', 'revoked'],
    ]);
    const create = cli('create', 'x', '--file', file);
    expect(create.code).toBe(1);
    expect(create.stderr).toMatch(/is a legacy \.mcp_keys\.json holding plaintext keys; convert it first/);
  });

  it('[auth:legacy-keys:import] keys import hashes the keys, disabled ones revoked; the plaintext never lands in our file', async () => {
    const { cli, dir, file } = fresh();
    const src = join(dir, '.mcp_keys.json');
    writeFileSync(src, JSON.stringify(legacy), { mode: 0o600 });
    const r = cli('import', src);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `imported 2 keys into ${file} (1 disabled, imported revoked)\n` +
        `${src} still holds these keys in plaintext: delete it now (or rerun with --remove)\n`,
    );
    expect(existsSync(src)).toBe(true);
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain('sk-legacy');
    expect(text).toContain(hashKey('sk-legacy-alpha-0123456789'));
    const kr = await ring(file, { watch: false });
    expect(kr.verify('sk-legacy-alpha-0123456789')).toMatchObject({
      ok: true,
      entry: { clientId: 'alpha', description: 'old alpha' },
    });
    expect(kr.verify('sk-legacy-beta-0123456789')).toMatchObject({ ok: false, reason: 'revoked' });
    // Importing again adds nothing.
    expect(cli('import', src).stderr).toMatch(/^imported 0 keys into .*; 2 already there\n/);
  });

  it('[keys:import:remove] --remove deletes the plaintext file once the import is written', () => {
    const { cli, dir, file } = fresh();
    const src = join(dir, '.mcp_keys.json');
    writeFileSync(src, JSON.stringify(legacy), { mode: 0o600 });
    const r = cli('import', src, '--remove');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`deleted ${src}\n`);
    expect(existsSync(src)).toBe(false);
    expect(lsJson(cli('ls', '--json').stdout)).toHaveLength(2);
    expect(readFileSync(file, 'utf8')).not.toContain('sk-legacy');
  });

  it('[keys:import:in-place] importing the configured key file itself replaces the plaintext with hashes', () => {
    const { cli, dir } = fresh();
    const src = join(dir, 'keys.json');
    writeFileSync(src, JSON.stringify(legacy), { mode: 0o600 });
    const r = cli('import', src, '--file', src);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`${src} now holds only hashes`);
    const text = readFileSync(src, 'utf8');
    expect(text).not.toContain('sk-legacy');
    expect(JSON.parse(text)).toMatchObject({ format: 'mcp-warden-keys' });
  });

  it('[keys:import:bad-input] a bad import file fails in one line that quotes no key', () => {
    const { cli, dir } = fresh();
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"clients": [{"api_key": "sk-secret-in-broken-json" "client_id": "x"}]}');
    const r = cli('import', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mcp-warden: .*bad\.json: not valid JSON \(at .*\)\n$/);
    expect(r.stderr).not.toContain('sk-secret');
    writeFileSync(bad, JSON.stringify({ clients: [{ api_key: 'sk-secret-x', client_id: 'has space' }] }));
    const r2 = cli('import', bad);
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/^mcp-warden: .*: clients\[0\]\.client_id: expected letters/);
    expect(r2.stderr).not.toContain('sk-secret');
    writeFileSync(bad, JSON.stringify({ users: [] }));
    expect(cli('import', bad).stderr).toMatch(/not a \.mcp_keys\.json/);
    expect(cli('import', join(dir, 'missing.json')).stderr).toMatch(
      /^mcp-warden: cannot read .*missing\.json/,
    );
  });
});

describe('usage', () => {
  it('[keys:usage:one-line-errors] bad usage of each command is one line on stderr and exit 2', () => {
    const { cli } = fresh();
    const cases: [string[], RegExp][] = [
      [['create'], /keys create takes one CLIENT_ID/],
      [['create', 'a', 'b'], /keys create takes one CLIENT_ID/],
      [['create', 'bad id'], /"bad id" is not a client id/],
      [['create', 'k_12345678'], /is not a client id/],
      [['create', 'a', '--expires', '3x'], /--expires "3x": expected a duration/],
      [['create', 'a', '--expires', '0d'], /--expires "0d": expected a duration/],
      [['create', 'a', '--servers', 'a b'], /--servers: "a b" is not a server name/],
      [['create', 'a', '--tools', 'x/y'], /--tools: "x\/y" is not a tool glob/],
      [['create', 'a', '--bogus'], /Unknown option '--bogus'/],
      [['ls', 'extra'], /keys ls takes no arguments/],
      [['revoke'], /keys revoke takes one CLIENT_ID or KEY_ID/],
      [['revoke', 'bad id'], /neither a client id nor a key id/],
      [['rotate'], /keys rotate takes one CLIENT_ID/],
      [['rotate', 'a', '--grace', 'soon'], /--grace "soon": expected a duration .* \(or 0\)/],
      [['import'], /keys import takes one FILE/],
      [['frobnicate'], /unknown command "keys frobnicate" \(known: create, ls, revoke, rotate, import\)/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(/^mcp-warden: [^\n]*\n$/);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  it('[keys:help] --help on keys and on each command prints the usage and exits 0', () => {
    const { cli } = fresh();
    for (const args of [['--help'], ['create', '--help'], ['ls', '-h'], ['rotate', '--help']]) {
      const r = cli(...args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: mcp-warden keys <command>/);
    }
  });
});
