import { describe, expect, it } from 'vitest';
import keychain from '../../src/providers/keychain.js';
import { build } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

// Needs a Secret Service: the global setup provides gnome-keyring on a D-Bus session bus.
const service = `mcp-warden-test-${process.pid}-${Date.now()}`;
const env = { DBUS_SESSION_BUS_ADDRESS: process.env.DBUS_SESSION_BUS_ADDRESS };

providerContract(`keychain (gnome-keyring, ${process.env.MCP_WARDEN_TEST_KEYRING ?? 'no bus'})`, async () => ({
  provider: build(keychain, { service }, { name: 'keychain', env }).provider,
}));

describe('keychain provider', () => {
  it('probes usable against the running gnome-keyring', async () => {
    const { provider } = build(keychain, { service }, { env });
    await expect(provider.probe!()).resolves.toMatchObject({ usable: true });
  });

  it('items are visible to secret-tool under the service name (the real Secret Service)', async () => {
    const { provider } = build(keychain, { service }, { env });
    await provider.set!('SEEN_BY_SECRET_TOOL', 'from-mcp-warden');
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('secret-tool', ['lookup', 'service', service, 'username', 'SEEN_BY_SECRET_TOOL'], { encoding: 'utf8' });
    expect(out).toBe('from-mcp-warden');
    await provider.delete!('SEEN_BY_SECRET_TOOL');
  });

  it('without a session bus it reports the keychain unavailable, never "not found"', async () => {
    const { provider } = build(keychain, { service }, { env: {} });
    const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
    delete process.env.DBUS_SESSION_BUS_ADDRESS;
    try {
      await expect(provider.get('ANY')).rejects.toMatchObject({ code: 'PROVIDER_UNAVAILABLE' });
      await expect(provider.probe!()).resolves.toMatchObject({ usable: false });
    } finally {
      process.env.DBUS_SESSION_BUS_ADDRESS = saved;
    }
  });
});
