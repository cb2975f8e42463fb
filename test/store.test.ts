import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRef } from '../src/refs.js';
import { defaultChain, openStore } from '../src/store/open.js';
import { Store } from '../src/store/store.js';
import { tempDir } from './helpers/tmp.js';

function store(specs: ConstructorParameters<typeof Store>[0]['specs'], env: NodeJS.ProcessEnv = {}) {
  const warnings: string[] = [];
  return {
    s: new Store({ specs, home: join(tempDir(), 'h'), env, warn: (m) => warnings.push(m) }),
    warnings,
  };
}

describe('secret:// references', () => {
  it('parses chain names, provider paths and fields', () => {
    expect(parseRef('secret://GITHUB_TOKEN')).toEqual({ raw: 'secret://GITHUB_TOKEN', path: 'GITHUB_TOKEN' });
    expect(parseRef('secret://vault/kv/data/app#password')).toEqual({
      raw: 'secret://vault/kv/data/app#password',
      provider: 'vault',
      path: 'kv/data/app',
      field: 'password',
    });
  });
  it('refuses bad names before any backend is asked', () => {
    for (const bad of [
      'secret://',
      'secret://../x',
      'secret://a b',
      'secret://X#',
      'secret://9bad/x',
      'secret://p/',
      'GITHUB_TOKEN',
    ]) {
      expect(() => parseRef(bad), bad).toThrow(
        expect.objectContaining({ code: 'INVALID_REFERENCE' }) as Error,
      );
    }
  });
});

describe('store: the lookup chain', () => {
  it('the default chain is local, keychain where there is a session bus, env', () => {
    expect(defaultChain({}).map((s) => s.name)).toEqual(
      process.platform === 'linux' ? ['local', 'env'] : ['local', 'keychain', 'env'],
    );
    expect(defaultChain({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x' }).map((s) => s.name)).toEqual([
      'local',
      'keychain',
      'env',
    ]);
  });

  it('looks names up in chain order and resolves references in one batch', async () => {
    const { s } = store(
      [
        { name: 'local', type: 'file', options: {} },
        { name: 'env', type: 'env', options: {} },
      ],
      { FROM_ENV: 'e', BOTH: 'env-loses' },
    );
    const local = await s.provider('local');
    await local.set!('FROM_FILE', 'f');
    await local.set!('BOTH', 'file-wins');
    await local.set!('JSONISH', '{"user":"u","password":"p"}');
    expect(await s.lookup('BOTH')).toEqual({ value: 'file-wins', provider: 'local' });
    const got = await s.resolveRefs([
      'secret://FROM_FILE',
      'secret://FROM_ENV',
      'secret://env/BOTH',
      'secret://JSONISH#password',
    ]);
    expect(Object.fromEntries(got)).toEqual({
      'secret://FROM_FILE': 'f',
      'secret://FROM_ENV': 'e',
      'secret://env/BOTH': 'env-loses',
      'secret://JSONISH#password': 'p',
    });
  });

  it('"not found" names every provider asked; a failing provider is never "not found"', async () => {
    const { s } = store([
      { name: 'local', type: 'file', options: {} },
      { name: 'broken', type: 'credential-helper', options: { helper: 'not-installed-anywhere' } },
    ]);
    await (
      await s.provider('local')
    ).set!('HERE', 'h');
    await expect(s.lookup('HERE')).resolves.toEqual({ value: 'h', provider: 'local' });
    await expect(s.lookup('MISSING')).rejects.toMatchObject({
      code: 'PROVIDER_UNAVAILABLE',
      message: expect.stringContaining('not installed') as unknown,
    });
    const { s: ok } = store([{ name: 'local', type: 'file', options: {} }]);
    await expect(ok.lookup('MISSING')).rejects.toMatchObject({
      code: 'SECRET_NOT_FOUND',
      message: expect.stringContaining('providers local') as unknown,
    });
  });

  it('a corrupt secret is reported as corrupt, not skipped for a later provider', async () => {
    const home = join(tempDir(), 'h');
    const s = new Store({
      specs: [
        { name: 'local', type: 'file', options: {} },
        { name: 'env', type: 'env', options: {} },
      ],
      home,
      env: { X: 'from-env' },
      warn: () => undefined,
    });
    await (
      await s.provider('local')
    ).set!('X', 'x');
    writeFileSync(join(home, 'secrets', 'X.json'), '{');
    await expect(s.lookup('X')).rejects.toMatchObject({ code: 'SECRET_CORRUPT' });
  });

  it('refuses unknown provider types and names', async () => {
    expect(() => store([{ name: 'x', type: 'nope', options: {} }])).toThrow(/unknown type "nope"/);
    const { s } = store([{ name: 'local', type: 'file', options: {} }]);
    await expect(s.provider('other')).rejects.toMatchObject({ code: 'PROVIDER_UNKNOWN' });
    await expect(s.resolveRefs(['secret://other/X'])).rejects.toMatchObject({ code: 'PROVIDER_UNKNOWN' });
  });

  it('recommends the keychain where usable, else the file store', async () => {
    const { s } = store([
      { name: 'local', type: 'file', options: {} },
      { name: 'env', type: 'env', options: {} },
    ]);
    expect((await s.recommended()).provider.name).toBe('local');
    const bus = process.env.DBUS_SESSION_BUS_ADDRESS;
    const { s: withKeychain } = store(
      [
        { name: 'local', type: 'file', options: {} },
        { name: 'keychain', type: 'keychain', options: { service: `mcp-warden-test-rec-${process.pid}` } },
      ],
      { DBUS_SESSION_BUS_ADDRESS: bus },
    );
    expect((await withKeychain.recommended()).provider.name).toBe('keychain');
  });

  it('reads named instances and their order from a config file', async () => {
    const dir = tempDir();
    const cfg = join(dir, 'mcp-warden.yaml');
    writeFileSync(
      cfg,
      `providers:\n  mine:\n    type: dotenv\n    path: ${join(dir, '.env')}\n  local:\n    type: file\n`,
    );
    writeFileSync(join(dir, '.env'), 'FROM_DOTENV="yes it is"\n');
    const s = await openStore({ config: cfg, env: { MCP_WARDEN_HOME: join(dir, 'h') } });
    expect(s.chain).toEqual(['mine', 'local']);
    expect(await s.lookup('FROM_DOTENV')).toEqual({ value: 'yes it is', provider: 'mine' });
    writeFileSync(cfg, 'providers:\n  bad:\n    type: file\n    pth: /x\n');
    await expect((await openStore({ config: cfg, env: {} })).provider('bad')).rejects.toThrow(
      /providers.bad.pth: unknown option/,
    );
    const claude = join(dir, 'claude_desktop_config.json');
    writeFileSync(claude, JSON.stringify({ mcpServers: { github: { command: 'npx', args: ['-y', 'x'] } } }));
    expect((await openStore({ config: claude, env: {} })).chain).toEqual(['local', 'env']);
    writeFileSync(cfg, 'providers: [1, 2');
    await expect(openStore({ config: cfg, env: {} })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(cfg) as unknown,
    });
  });
});
