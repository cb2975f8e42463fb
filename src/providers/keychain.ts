import { WardenError } from '../errors.js';
import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretProvider } from '../provider.js';

type Keyring = typeof import('@napi-rs/keyring');

/** The OS keychain: Secret Service on Linux, Keychain on macOS, Credential Manager on Windows. */
const PLATFORM_NAME: Record<string, string> = { linux: 'Secret Service', darwin: 'macOS Keychain', win32: 'Windows Credential Manager' };

const TIMEOUT_MS = 10_000;

export default defineProvider(
  (raw, ctx) => {
    const o = new OptionReader(raw, `providers.${ctx.name}`).only('service');
    // The keychain "service" all our items share; tests and several stores on one login use their own.
    return { service: o.string('service') ?? ctx.env.MCP_WARDEN_KEYCHAIN_SERVICE ?? 'mcp-warden' };
  },
  ({ service }, ctx): SecretProvider => {
    const where = PLATFORM_NAME[process.platform] ?? 'the OS keychain';
    let lib: Promise<Keyring> | undefined;
    const keyring = () => (lib ??= import('@napi-rs/keyring'));

    /** Every failure of the platform store is "unavailable", never "not found". */
    async function call<T>(what: string, fn: (k: Keyring, signal: AbortSignal) => Promise<T>): Promise<T> {
      let k: Keyring;
      try {
        k = await keyring();
      } catch (err) {
        throw new WardenError('PROVIDER_UNAVAILABLE', `${where} support could not be loaded (${(err as Error).message}); reinstall mcp-warden`);
      }
      try {
        return await fn(k, AbortSignal.timeout(TIMEOUT_MS));
      } catch (err) {
        const msg = (err as Error).message || String(err);
        const hint = process.platform === 'linux' ? '; is a Secret Service (gnome-keyring, KeePassXC) running and unlocked in this D-Bus session?' : '';
        throw new WardenError('PROVIDER_UNAVAILABLE', `${where} ${what} failed: ${msg}${hint}`);
      }
    }

    const entry = (k: Keyring, name: string) => new k.AsyncEntry(service, assertSecretName(name));

    return {
      type: 'keychain',
      name: ctx.name,
      capabilities: { read: true, list: true, set: true, delete: true, versions: false },
      async get(name) {
        assertSecretName(name);
        const v = await call('read', (k, signal) => entry(k, name).getPassword(signal));
        return v ?? undefined;
      },
      async has(name) {
        return (await this.get(name)) !== undefined;
      },
      async inspect(name) {
        return (await this.has(name)) ? { name, provider: ctx.name } : undefined;
      },
      async set(name, value) {
        assertSecretName(name);
        await call('write', (k, signal) => entry(k, name).setPassword(value, signal));
        return { name, provider: ctx.name };
      },
      async delete(name) {
        assertSecretName(name);
        return call('delete', (k, signal) => entry(k, name).deleteCredential(signal));
      },
      async list() {
        // findCredentials returns the passwords too; they are dropped here and never leave.
        const creds = await call('list', (k, signal) => k.findCredentialsAsync(service, null, signal));
        return creds
          .map((c) => ({ name: c.account, provider: ctx.name }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      },
      async probe() {
        try {
          // A read of an item that does not exist: answers null on a usable keychain, fails on a
          // missing daemon, a locked or absent default collection, or no session bus.
          await call('read', (k, signal) => new k.AsyncEntry(service, '__mcp_warden_probe__').getPassword(signal));
          return { usable: true, reason: `${where}, service "${service}"` };
        } catch (err) {
          return { usable: false, reason: (err as Error).message };
        }
      },
    };
  },
);
