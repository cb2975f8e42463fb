import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import dir from '../../src/providers/dir.js';
import { build, tempDir } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

const home = tempDir('mcpw-dir-home-');

/** Writes a secret file the way Docker, sops-nix and agenix do: the value, a newline, mode 0400. */
function plant(path: string, content: string, mode = 0o400): void {
  mkdirSync(dirname(path), { recursive: true });
  rmSync(path, { force: true });
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
}

function provider(root: string) {
  return build(dir, { path: root }, { name: 'secrets', home });
}

providerContract('dir (real files)', async () => {
  const root = tempDir('mcpw-dir-contract-');
  return {
    provider: provider(root).provider,
    seed: async (name, value) => plant(join(root, name), `${value}\n`),
  };
});

describe('dir provider: names and content', () => {
  it('finds snake_case and kebab-case files for an UPPER_CASE name', async () => {
    const root = tempDir();
    plant(join(root, 'openai_api_key'), 'sk-snake\n');
    plant(join(root, 'github-token'), 'ghp-kebab\n');
    const { provider: p } = provider(root);
    await expect(p.get('OPENAI_API_KEY')).resolves.toBe('sk-snake');
    await expect(p.get('openai_api_key')).resolves.toBe('sk-snake');
    await expect(p.get('GITHUB_TOKEN')).resolves.toBe('ghp-kebab');
    await expect(p.get('github-token')).resolves.toBe('ghp-kebab');
    await expect(p.has('GITHUB_TOKEN')).resolves.toBe(true);
    await expect(p.get('GITHUB')).resolves.toBeUndefined();
  });

  it('an exact match wins over a case-folded one', async () => {
    const root = tempDir();
    plant(join(root, 'api_key'), 'folded\n');
    plant(join(root, 'API_KEY'), 'exact\n');
    plant(join(root, 'api-key'), 'also folded\n');
    const { provider: p } = provider(root);
    await expect(p.get('API_KEY')).resolves.toBe('exact');
    await expect(p.get('api_key')).resolves.toBe('folded');
    await expect(p.get('api-key')).resolves.toBe('also folded');
  });

  it('trims exactly one trailing newline, LF or CRLF', async () => {
    const root = tempDir();
    const cases: Record<string, [string, string]> = {
      lf: ['v\n', 'v'],
      crlf: ['v\r\n', 'v'],
      two: ['v\n\n', 'v\n'],
      twoCrlf: ['v\r\n\r\n', 'v\r\n'],
      none: ['v', 'v'],
      lone_cr: ['v\r', 'v\r'],
      only: ['\n', ''],
      empty: ['', ''],
      inner: ['a\nb\n', 'a\nb'],
      spaces: ['  v  \n', '  v  '],
    };
    for (const [name, [content]] of Object.entries(cases)) plant(join(root, name), content);
    const { provider: p } = provider(root);
    for (const [name, [, want]] of Object.entries(cases)) await expect(p.get(name), name).resolves.toBe(want);
  });

  it('warns once about group- or world-readable files, not about 0400 or 0600', async () => {
    const root = tempDir();
    plant(join(root, 'private_ro'), 'a\n', 0o400);
    plant(join(root, 'private_rw'), 'b\n', 0o600);
    plant(join(root, 'world'), 'world-canary-51d\n', 0o644);
    plant(join(root, 'group'), 'group-canary-8e0\n', 0o640);
    const { provider: p, warnings } = provider(root);
    await p.get('private_ro');
    await p.get('private_rw');
    expect(warnings).toEqual([]);
    await expect(p.get('world')).resolves.toBe('world-canary-51d');
    await expect(p.get('group')).resolves.toBe('group-canary-8e0');
    await p.get('world');
    await p.list!();
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/world.*every user.*mode 644.*chmod 600/);
    expect(warnings[1]).toMatch(/group.*its group.*mode 640/);
    // A warning names the file, never its content.
    expect(warnings.join('\n')).not.toContain('canary');
  });

  it('is read-only, lists with mtimes and inspects without the value', async () => {
    const root = tempDir();
    plant(join(root, 'token'), 'inspect-canary-3b1\n');
    const { provider: p } = provider(root);
    expect(p.capabilities).toMatchObject({ read: true, list: true, set: false, delete: false });
    expect(p.set).toBeUndefined();
    expect(p.delete).toBeUndefined();
    const meta = await p.inspect!('TOKEN');
    expect(meta).toMatchObject({ name: 'TOKEN', provider: 'secrets' });
    expect(Date.parse(meta!.updated!)).not.toBeNaN();
    expect(JSON.stringify([meta, await p.list!()])).not.toContain('inspect-canary');
    await expect(p.inspect!('ABSENT')).resolves.toBeUndefined();
  });

  it('rejects unknown options', () => {
    expect(() => build(dir, { path: '/run/secrets', mode: 1 })).toThrow(/unknown option/);
  });
});

describe('dir provider: sops-nix and agenix layouts', () => {
  it('sops-nix: root is a symlink to a versioned dir with nested secrets', async () => {
    const base = tempDir();
    const gen1 = join(base, 'secrets.d', '1');
    plant(join(gen1, 'api-key'), 'top level\n');
    plant(join(gen1, 'db', 'password'), 'db pass\n');
    plant(join(gen1, 'nested', 'deeper', 'x'), 'deep\n');
    const root = join(base, 'secrets');
    symlinkSync('secrets.d/1', root);
    const { provider: p, warnings } = provider(root);
    await expect(p.get('API_KEY')).resolves.toBe('top level');
    await expect(p.getPath!('api-key')).resolves.toBe('top level');
    await expect(p.getPath!('db/password')).resolves.toBe('db pass');
    await expect(p.getPath!('nested/deeper/x')).resolves.toBe('deep');
    await expect(p.getPath!('db/absent')).resolves.toBeUndefined();
    expect((await p.list!()).map((m) => m.name)).toEqual(['api-key', 'db/password', 'nested/deeper/x']);
    // A directory is not a secret: not found by name, so a lookup chain moves on.
    await expect(p.get('db')).resolves.toBeUndefined();
    await expect(p.has('db')).resolves.toBe(false);
    await expect(p.getPath!('db')).resolves.toBeUndefined();
    expect(warnings).toEqual([]);

    // A switch to the next generation is seen at once: nothing is cached.
    plant(join(base, 'secrets.d', '2', 'db', 'password'), 'rotated\n');
    rmSync(root);
    symlinkSync(join(base, 'secrets.d', '2'), root);
    await expect(p.getPath!('db/password')).resolves.toBe('rotated');
    await expect(p.get('API_KEY')).resolves.toBeUndefined();
  });

  it('agenix: /run/agenix -> /run/agenix.d/N with kebab-case files', async () => {
    const base = tempDir();
    plant(join(base, 'agenix.d', '7', 'github-token'), 'ghp_agenix\n');
    plant(join(base, 'agenix.d', '7', 'openai-api-key'), 'sk-agenix\n');
    const root = join(base, 'agenix');
    symlinkSync(join(base, 'agenix.d', '7'), root);
    const { provider: p } = provider(root);
    await expect(p.get('GITHUB_TOKEN')).resolves.toBe('ghp_agenix');
    await expect(p.get('OPENAI_API_KEY')).resolves.toBe('sk-agenix');
    await expect(p.getPath!('github-token')).resolves.toBe('ghp_agenix');
    expect((await p.list!()).map((m) => m.name)).toEqual(['github-token', 'openai-api-key']);
  });

  it('follows a symlink that stays inside the root', async () => {
    const root = tempDir();
    plant(join(root, 'real'), 'target value\n');
    symlinkSync('real', join(root, 'alias'));
    const { provider: p } = provider(root);
    await expect(p.get('alias')).resolves.toBe('target value');
    await expect(p.getPath!('alias')).resolves.toBe('target value');
  });
});

describe('dir provider: traversal and I/O errors', () => {
  function outsideSetup() {
    const base = tempDir();
    const root = join(base, 'root');
    plant(join(base, 'outside'), 'outside-canary\n');
    plant(join(base, 'outdir', 'file'), 'outside-dir-canary\n');
    plant(join(root, 'inside'), 'in\n');
    symlinkSync(join(base, 'outside'), join(root, 'escape'));
    symlinkSync('../outdir', join(root, 'escdir'));
    return { base, root, ...provider(root) };
  }

  it('refuses .., absolute and empty paths with INVALID_REFERENCE', async () => {
    const { provider: p } = outsideSetup();
    for (const bad of [
      '../outside',
      '/etc/passwd',
      'a/../../outside',
      '..',
      '',
      'a//b',
      'inside/',
      'x\0y',
      '..\\outside',
    ]) {
      await expect(p.getPath!(bad), JSON.stringify(bad)).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
    }
    await expect(p.getPath!('inside')).resolves.toBe('in');
  });

  it('refuses a symlink inside the root that points outside it', async () => {
    const { provider: p } = outsideSetup();
    await expect(p.getPath!('escape')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
    await expect(p.get('escape')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
    await expect(p.get('ESCAPE')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
    await expect(p.getPath!('escdir/file')).rejects.toMatchObject({ code: 'INVALID_REFERENCE' });
  });

  it('lists nothing that lies outside the root, and survives a symlink loop', async () => {
    const { root, provider: p } = outsideSetup();
    mkdirSync(join(root, 'sub'));
    plant(join(root, 'sub', 'leaf'), 'leaf\n');
    symlinkSync('..', join(root, 'sub', 'up'));
    symlinkSync('.', join(root, 'self'));
    const names = (await p.list!()).map((m) => m.name);
    expect(names).toEqual(['inside', 'sub/leaf']);
    expect(JSON.stringify(await p.list!())).not.toContain('canary');
  });

  it('a dangling symlink or a missing root is "not found"; a path through a file too', async () => {
    const base = tempDir();
    const root = join(base, 'root');
    const { provider: missing } = provider(root);
    await expect(missing.get('X')).resolves.toBeUndefined();
    await expect(missing.list!()).resolves.toEqual([]);
    await expect(missing.probe!()).resolves.toMatchObject({
      usable: false,
      reason: expect.stringContaining('does not exist') as unknown,
    });
    plant(join(root, 'file'), 'f\n');
    symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
    const { provider: p } = provider(root);
    await expect(p.get('dangling')).resolves.toBeUndefined();
    await expect(p.has('dangling')).resolves.toBe(false);
    await expect(p.getPath!('dangling')).resolves.toBeUndefined();
    await expect(p.getPath!('file/x')).resolves.toBeUndefined(); // ENOTDIR
    await expect(p.probe!()).resolves.toMatchObject({ usable: true });
  });

  it('a FIFO is an error, never a hang and never "not found"', async () => {
    const root = tempDir();
    execFileSync('mkfifo', [join(root, 'pipe')]);
    const { provider: p } = provider(root);
    await expect(p.getPath!('pipe')).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      message: expect.stringContaining('not a regular file') as unknown,
    });
    await expect(p.get('PIPE')).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
  }, 5_000);

  it('other I/O errors (a symlink loop: ELOOP) are PROVIDER_UNAVAILABLE, not undefined', async () => {
    const root = tempDir();
    symlinkSync('b', join(root, 'a'));
    symlinkSync('a', join(root, 'b'));
    const { provider: p } = provider(root);
    await expect(p.getPath!('a')).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      message: expect.stringContaining('ELOOP') as unknown,
    });
    await expect(p.get('a')).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    await expect(p.has('a')).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
  });

  it('a root that is a file is PROVIDER_UNAVAILABLE', async () => {
    const root = join(tempDir(), 'not-a-dir');
    plant(root, 'x\n');
    const { provider: p } = provider(root);
    await expect(p.list!()).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    await expect(p.get('X')).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    await expect(p.probe!()).resolves.toMatchObject({ usable: false });
  });
});
