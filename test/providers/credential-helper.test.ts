import { execFileSync } from 'node:child_process';
import { mkdirSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import helper from '../../src/providers/credential-helper.js';
import { build, tempDir } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

/** docker-credential-secretservice talks to the gnome-keyring of the global setup's D-Bus session. */
providerContract('credential-helper: docker-credential-secretservice (gnome-keyring)', async () => ({
  provider: build(
    helper,
    { helper: 'secretservice', prefix: `mcp-warden-test-${process.pid}://` },
    { env: process.env },
  ).provider,
}));

/** docker-credential-pass with a throwaway GPG key and password store made here. */
function passEnv(): NodeJS.ProcessEnv {
  const home = tempDir('mcpw-pass-');
  const env = {
    ...process.env,
    HOME: home,
    GNUPGHOME: join(home, 'gnupg'),
    PASSWORD_STORE_DIR: join(home, 'store'),
  };
  mkdirSync(env.GNUPGHOME, { mode: 0o700 });
  execFileSync(
    'gpg',
    [
      '--batch',
      '--passphrase',
      '',
      '--quick-gen-key',
      'mcp-warden-test@example.invalid',
      'default',
      'default',
      'never',
    ],
    { env, stdio: 'ignore' },
  );
  const fpr = execFileSync('gpg', ['--list-keys', '--with-colons'], { env, encoding: 'utf8' })
    .split('\n')
    .find((l) => l.startsWith('fpr:'))!
    .split(':')[9]!;
  execFileSync('pass', ['init', fpr], { env, stdio: 'ignore' });
  return env;
}

let pass: NodeJS.ProcessEnv;
providerContract('credential-helper: docker-credential-pass (throwaway GPG key)', async () => {
  pass = passEnv();
  return { provider: build(helper, { helper: 'pass' }, { env: pass }).provider };
});

describe('credential-helper provider', () => {
  it('stores through pass as GPG-encrypted files, named by the base64 of the server URL', async () => {
    const env = passEnv();
    const { provider } = build(helper, { helper: 'pass' }, { env });
    await provider.set!('STORED_IN_PASS', 'gpg-canary-3b1');
    const dir = join(
      env.PASSWORD_STORE_DIR!,
      'docker-credential-helpers',
      Buffer.from('mcp-warden://STORED_IN_PASS').toString('base64'),
    );
    expect(existsSync(dir)).toBe(true);
    expect(readdirSync(dir)).toEqual(['STORED_IN_PASS.gpg']);
  });

  it('a helper that is not installed is unavailable, never "not found"', async () => {
    const { provider } = build(helper, { helper: 'does-not-exist-here' }, { env: process.env });
    await expect(provider.get('X')).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      message: expect.stringContaining('not installed') as unknown,
    });
  });

  it('a helper whose store is broken is unavailable, never "not found"', async () => {
    // pass with no initialised store and no GPG key.
    const home = tempDir('mcpw-nopass-');
    const env = {
      ...process.env,
      HOME: home,
      GNUPGHOME: join(home, 'gnupg'),
      PASSWORD_STORE_DIR: join(home, 'none'),
    };
    const { provider } = build(helper, { helper: 'pass' }, { env });
    await expect(provider.set!('X', 'value-never-echoed')).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
    });
    await expect(provider.set!('X', 'value-never-echoed')).rejects.not.toMatchObject({
      message: expect.stringContaining('value-never-echoed') as unknown,
    });
  });

  it('diagnose: pass without an initialised store is unusable, with one it is usable', async () => {
    const home = tempDir('mcpw-nopass-');
    const bare = build(
      helper,
      { helper: 'pass' },
      { env: { ...process.env, HOME: home, PASSWORD_STORE_DIR: join(home, 'none') } },
    );
    await expect(bare.provider.probe!()).resolves.toMatchObject({
      usable: false,
      reason: expect.stringContaining('pass init') as unknown,
    });
    await expect(
      build(helper, { helper: 'pass' }, { env: passEnv() }).provider.probe!(),
    ).resolves.toMatchObject({ usable: true });
  });

  it('rejects a helper given as a path', () => {
    expect(() => build(helper, { helper: '/tmp/evil' })).toThrow(/not a path/);
  });
});
