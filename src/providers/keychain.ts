import type * as KeyringModule from '@napi-rs/keyring';
import { WardenError } from '../errors.js';
import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretProvider } from '../provider.js';

type Keyring = typeof KeyringModule;

/** The OS keychain: Secret Service on Linux, Keychain on macOS, Credential Manager on Windows. */
const PLATFORM_NAME: Record<string, string> = {
  linux: 'Secret Service',
  darwin: 'macOS Keychain',
  win32: 'Windows Credential Manager',
};

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
        throw new WardenError(
          'PROVIDER_UNAVAILABLE',
          `${where} support could not be loaded (${(err as Error).message}); reinstall mcp-warden`,
        );
      }
      try {
        return await fn(k, AbortSignal.timeout(TIMEOUT_MS));
      } catch (err) {
        const msg = (err as Error).message || String(err);
        const hint =
          process.platform === 'linux'
            ? '; is a Secret Service (gnome-keyring, KeePassXC) running and unlocked in this D-Bus session?'
            : '';
        throw new WardenError('PROVIDER_UNAVAILABLE', `${where} ${what} failed: ${msg}${hint}`);
      }
    }

    // Pinned to Secret Service on Linux: the library may otherwise fall back to the kernel's
    // keyutils, which forgets everything at logout and is no place for an API key.
    const options =
      process.platform === 'linux' ? { linux: { store: 'secret-service' as const } } : undefined;
    const entry = (k: Keyring, name: string) => new k.AsyncEntry(service, assertSecretName(name), options);

    /**
     * The library answers "no such item" (null, false) when it cannot reach the store at all (no
     * session bus), so a miss is only trusted once a call that does fail on an unreachable store
     * has succeeded in this process.
     */
    let reachable = false;
    async function confirmMiss(): Promise<void> {
      if (reachable) return;
      await call('search', (k, signal) => k.findCredentialsAsync(service, null, signal));
      reachable = true;
    }

    return {
      type: 'keychain',
      name: ctx.name,
      capabilities: { read: true, list: true, set: true, delete: true, versions: false },
      async get(name) {
        assertSecretName(name);
        const v = await call('read', (k, signal) => entry(k, name).getPassword(signal));
        if (v === null) await confirmMiss();
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
        const removed = await call('delete', (k, signal) => entry(k, name).deleteCredential(signal));
        if (!removed) await confirmMiss();
        return removed;
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
          // A write, not a read: with no default collection (a fresh gnome-keyring never unlocked)
          // reads answer "nothing there" while every write fails.
          const probe = '__mcp_warden_probe__';
          await call('write', (k, signal) =>
            new k.AsyncEntry(service, probe, options).setPassword('probe', signal),
          );
          await call('delete', (k, signal) =>
            new k.AsyncEntry(service, probe, options).deleteCredential(signal),
          );
          return { usable: true, reason: `${where}, service "${service}"` };
        } catch (err) {
          return { usable: false, reason: (err as Error).message };
        }
      },
    };
  },
);
