import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import keychain from '../../src/providers/keychain.js';
import { build } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

// Needs a Secret Service: the global setup provides gnome-keyring on a D-Bus session bus.
const service = `mcp-warden-test-${process.pid}-${Date.now()}`;
const env = { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS };

providerContract(
  `keychain (gnome-keyring, ${process.env.MCP_WARDEN_TEST_KEYRING ?? 'no bus'})`,
  async () => ({
    provider: build(keychain, { service }, { name: 'keychain', env }).provider,
  }),
);

describe('keychain provider', () => {
  it('probes usable against the running gnome-keyring', async () => {
    const { provider } = build(keychain, { service }, { env });
    await expect(provider.probe!()).resolves.toMatchObject({ usable: true });
  });

  it('items are visible to secret-tool under the service name (the real Secret Service)', async () => {
    const { provider } = build(keychain, { service }, { env });
    await provider.set!('SEEN_BY_SECRET_TOOL', 'from-mcp-warden');
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync(
      'secret-tool',
      ['lookup', 'service', service, 'username', 'SEEN_BY_SECRET_TOOL'],
      { encoding: 'utf8' },
    );
    expect(out).toBe('from-mcp-warden');
    await provider.delete!('SEEN_BY_SECRET_TOOL');
  });

  it('without a session bus it reports the keychain unavailable, never "not found"', () => {
    // In a child: the native library keeps its D-Bus connection for the life of a process.
    const out = inChild('dbus-less', ['env', '-u', 'DBUS_SESSION_BUS_ADDRESS', process.execPath, '-e'], {});
    expect(out.get).toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
    expect(out.probe).toMatchObject({ usable: false });
  });
});

describe('keychain provider without a usable collection', () => {
  it('a Secret Service with no unlocked keyring probes unusable (reads alone would look fine)', () => {
    // A fresh D-Bus session: gnome-keyring is activated on demand, with no login keyring unlocked.
    const home = mkdtempSync(join(tmpdir(), 'mcpw-locked-'));
    const out = inChild('locked', ['dbus-run-session', '--', process.execPath, '-e'], { HOME: home });
    expect(out.probe).toMatchObject({
      usable: false,
      reason: expect.stringContaining('Secret Service') as unknown,
    });
    expect(out.get).toEqual({ value: null });
  });
});

/** Runs the built keychain provider in a child process and reports get('ANY') and probe(). */
function inChild(
  service: string,
  command: string[],
  env: NodeJS.ProcessEnv,
): { get: unknown; probe: unknown } {
  const script = `import(${JSON.stringify(join(process.cwd(), 'dist/providers/keychain.js'))}).then(async (m) => {
    const p = m.default.create({ service: ${JSON.stringify(service)} }, { name: 'k', home: '/tmp', env: process.env, warn() {} });
    const get = await p.get('ANY').then((v) => ({ value: v ?? null }), (e) => ({ code: e.code, message: e.message }));
    console.log(JSON.stringify({ get, probe: await p.probe() }));
  })`;
  const [bin, ...args] = command;
  const r = spawnSync(bin!, [...args, script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`child printed no result: ${r.stderr}`);
  return JSON.parse(line) as { get: unknown; probe: unknown };
}
