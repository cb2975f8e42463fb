import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
  existsSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import file from '../../src/providers/file.js';
import { build, tempDir } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

providerContract('file (real filesystem)', async () => ({
  provider: build(file, {}, { name: 'local', home: join(tempDir(), 'h') }).provider,
}));
providerContract('file with MCP_WARDEN_PASSPHRASE (scrypt)', async () => ({
  provider: build(
    file,
    {},
    {
      name: 'local',
      home: join(tempDir(), 'h'),
      env: { MCP_WARDEN_PASSPHRASE: 'correct horse battery staple' },
    },
  ).provider,
}));

const mode = (p: string) => statSync(p).mode & 0o777;

describe('file provider: on-disk format and safety', () => {
  it('makes the store 0700 and every file 0600, with no plaintext on disk', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    await provider.set!('TOKEN', 'plaintext-canary-91c2');
    expect(mode(home)).toBe(0o700);
    expect(mode(join(home, 'secrets'))).toBe(0o700);
    expect(mode(join(home, 'key'))).toBe(0o600);
    expect(mode(join(home, 'secrets', 'TOKEN.json'))).toBe(0o600);
    for (const f of [join(home, 'key'), join(home, 'secrets', 'TOKEN.json')]) {
      expect(readFileSync(f).includes('plaintext-canary-91c2')).toBe(false);
      expect(readFileSync(f).includes(Buffer.from('plaintext-canary-91c2').toString('base64'))).toBe(false);
    }
  });

  it('uses a fresh nonce on every write', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    const nonces = new Set<string>();
    for (let i = 0; i < 20; i++) {
      await provider.set!('SAME', 'same value');
      nonces.add(
        (JSON.parse(readFileSync(join(home, 'secrets', 'SAME.json'), 'utf8')) as { nonce: string }).nonce,
      );
    }
    expect(nonces.size).toBe(20);
  });

  it('a ciphertext copied to another name fails to decrypt (the name is associated data)', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    await provider.set!('ALPHA', 'alpha value');
    await provider.set!('BETA', 'beta value');
    const a = JSON.parse(readFileSync(join(home, 'secrets', 'ALPHA.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    // Swap only the sealed parts, keeping BETA's header: the name in the AAD no longer matches.
    const b = JSON.parse(readFileSync(join(home, 'secrets', 'BETA.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(
      join(home, 'secrets', 'BETA.json'),
      JSON.stringify({
        ...b,
        nonce: a.nonce,
        data: a.data,
        created: a.created,
        updated: a.updated,
        version: a.version,
      }),
    );
    await expect(provider.get('BETA')).rejects.toMatchObject({
      code: 'SECRET_CORRUPT',
      message: expect.stringContaining('"BETA"') as unknown,
    });
    // A whole file copied over another name is caught by its header.
    copyFileSync(join(home, 'secrets', 'ALPHA.json'), join(home, 'secrets', 'GAMMA.json'));
    await expect(provider.get('GAMMA')).rejects.toMatchObject({ code: 'SECRET_CORRUPT' });
    await expect(provider.get('ALPHA')).resolves.toBe('alpha value');
  });

  it('a flipped byte, edited metadata or a truncated file is SECRET_CORRUPT for that secret only', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    for (const n of ['OK', 'FLIP', 'META', 'TRUNC', 'GARBAGE']) await provider.set!(n, `value of ${n}`);
    const path = (n: string) => join(home, 'secrets', `${n}.json`);
    const flip = JSON.parse(readFileSync(path('FLIP'), 'utf8')) as { data: string };
    const bytes = Buffer.from(flip.data, 'base64');
    bytes[0] = bytes[0]! ^ 1;
    writeFileSync(path('FLIP'), JSON.stringify({ ...flip, data: bytes.toString('base64') }));
    const meta = JSON.parse(readFileSync(path('META'), 'utf8')) as { version: number };
    writeFileSync(path('META'), JSON.stringify({ ...meta, version: meta.version + 5 }));
    writeFileSync(path('TRUNC'), readFileSync(path('TRUNC')).subarray(0, 40));
    writeFileSync(path('GARBAGE'), Buffer.from([0, 1, 2, 255]));
    for (const n of ['FLIP', 'META', 'TRUNC', 'GARBAGE']) {
      await expect(provider.get(n), n).rejects.toMatchObject({
        code: 'SECRET_CORRUPT',
        message: expect.stringContaining(`"${n}"`) as unknown,
      });
    }
    await expect(provider.get('OK')).resolves.toBe('value of OK');
    // Listing still works and names every secret; setting a corrupt one again repairs it.
    expect((await provider.list!()).map((m) => m.name)).toEqual(['FLIP', 'GARBAGE', 'META', 'OK', 'TRUNC']);
    await provider.set!('FLIP', 'repaired');
    await expect(provider.get('FLIP')).resolves.toBe('repaired');
  });

  it('lists without the key: metadata is readable without decrypting', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    await provider.set!('ONE', '1');
    await provider.set!('ONE', '2');
    writeFileSync(join(home, 'key'), Buffer.alloc(32, 7)); // a different key: decryption would fail
    const fresh = build(file, {}, { home }).provider;
    const [m] = await fresh.list!();
    expect(m).toMatchObject({ name: 'ONE', provider: 'test', version: 2 });
    expect(Date.parse(m!.created!)).toBeLessThanOrEqual(Date.parse(m!.updated!));
    await expect(fresh.get('ONE')).rejects.toMatchObject({ code: 'KEY_MISMATCH' });
  });

  it('never makes a key for a read: no built-in fallback key', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    await expect(provider.get('NOTHING')).resolves.toBeUndefined();
    await expect(provider.list!()).resolves.toEqual([]);
    expect(existsSync(join(home, 'key'))).toBe(false);
  });

  it('a wrong passphrase is WRONG_PASSPHRASE, never garbage; the key file store is another key', async () => {
    const home = join(tempDir(), 'h');
    const right = build(file, {}, { home, env: { MCP_WARDEN_PASSPHRASE: 'right one' } }).provider;
    await right.set!('P', 'passphrase-protected');
    const wrong = build(file, {}, { home, env: { MCP_WARDEN_PASSPHRASE: 'wrong one' } }).provider;
    await expect(wrong.get('P')).rejects.toMatchObject({ code: 'WRONG_PASSPHRASE' });
    const keyfile = build(file, {}, { home }).provider;
    await expect(keyfile.get('P')).rejects.toMatchObject({
      code: 'KEY_MISMATCH',
      message: expect.stringContaining('MCP_WARDEN_PASSPHRASE') as unknown,
    });
    const kdf = JSON.parse(readFileSync(join(home, 'kdf.json'), 'utf8')) as { N: number; salt: string };
    expect(kdf.N).toBeGreaterThanOrEqual(2 ** 17);
    expect(Buffer.from(kdf.salt, 'base64').length).toBe(16);
    await expect(
      build(file, {}, { home, env: { MCP_WARDEN_PASSPHRASE: 'right one' } }).provider.get('P'),
    ).resolves.toBe('passphrase-protected');
  });

  it('refuses a group/world-writable store directory and a readable key file', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    await provider.set!('X', 'x');
    chmodSync(home, 0o777);
    await expect(provider.get('X')).rejects.toMatchObject({
      code: 'STORE_INSECURE',
      message: expect.stringContaining('chmod 700') as unknown,
    });
    await expect(provider.set!('Y', 'y')).rejects.toMatchObject({ code: 'STORE_INSECURE' });
    chmodSync(home, 0o700);
    chmodSync(join(home, 'secrets'), 0o770);
    await expect(provider.list!()).rejects.toMatchObject({ code: 'STORE_INSECURE' });
    chmodSync(join(home, 'secrets'), 0o700);
    chmodSync(join(home, 'key'), 0o644);
    await expect(build(file, {}, { home }).provider.get('X')).rejects.toMatchObject({
      code: 'STORE_INSECURE',
    });
  });

  it('refuses a store directory owned by another user', async () => {
    if (process.getuid?.() !== 0) return; // only root can hand a directory to someone else
    const { chownSync } = await import('node:fs');
    const home = join(tempDir(), 'h');
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, 65534, 65534);
    await expect(build(file, {}, { home }).provider.set!('X', 'x')).rejects.toMatchObject({
      code: 'STORE_INSECURE',
      message: expect.stringContaining('uid 65534') as unknown,
    });
  });

  it('a damaged key file is a clear error, and I/O failures are never "not found"', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    await provider.set!('X', 'x');
    writeFileSync(join(home, 'key'), 'short', { mode: 0o600 });
    await expect(build(file, {}, { home }).provider.get('X')).rejects.toMatchObject({
      code: 'SECRET_CORRUPT',
      message: expect.stringContaining('key file') as unknown,
    });
    // A secret path that is a directory: an I/O error, not undefined.
    mkdirSync(join(home, 'secrets', 'DIR.json'));
    await expect(provider.get('DIR')).rejects.toMatchObject({ code: 'STORE_IO' });
  });

  it('leaves no temporary or lock files behind', async () => {
    const home = join(tempDir(), 'h');
    const { provider } = build(file, {}, { home });
    await Promise.all(Array.from({ length: 30 }, (_, i) => provider.set!(`K${i % 3}`, `v${i}`)));
    expect(readdirSync(join(home, 'secrets')).sort()).toEqual(['K0.json', 'K1.json', 'K2.json']);
    expect((await provider.inspect!('K0'))?.version).toBe(10);
  });
});
