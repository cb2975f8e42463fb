import { WardenError, describe } from '../errors.js';
import { assertSecretName } from '../names.js';
import type { ProviderContext, SecretMeta, SecretProvider } from '../provider.js';
import { isProviderType, loadProviderType, providerTypes, type ProviderType } from '../providers/index.js';
import { parseRef, pickField } from '../refs.js';

/** One named backend instance: from config, or from the built-in default chain. */
export interface ProviderSpec {
  name: string;
  type: string;
  options: Record<string, unknown>;
}

export interface StoreOptions {
  specs: ProviderSpec[];
  home: string;
  env: NodeJS.ProcessEnv;
  warn: (message: string) => void;
}

export interface Found {
  value: string;
  provider: string;
}

/**
 * Named provider instances and the lookup chain (their order). Instances are built on first
 * use, so a command touches only the backends it needs.
 */
export class Store {
  private readonly specs = new Map<string, ProviderSpec>();
  private readonly built = new Map<string, Promise<SecretProvider>>();
  readonly chain: readonly string[];

  constructor(private readonly opts: StoreOptions) {
    for (const spec of opts.specs) {
      if (!isProviderType(spec.type)) {
        throw new WardenError(
          'CONFIG_INVALID',
          `providers.${spec.name}.type: unknown type "${spec.type}" (known: ${providerTypes.join(', ')})`,
        );
      }
      this.specs.set(spec.name, spec);
    }
    this.chain = opts.specs.map((s) => s.name);
  }

  has(name: string): boolean {
    return this.specs.has(name);
  }

  typeOf(name: string): string | undefined {
    return this.specs.get(name)?.type;
  }

  provider(name: string): Promise<SecretProvider> {
    let p = this.built.get(name);
    if (!p) {
      const spec = this.specs.get(name);
      if (!spec) {
        return Promise.reject(
          new WardenError(
            'PROVIDER_UNKNOWN',
            `no provider named "${name}" (configured: ${this.chain.join(', ') || 'none'})`,
          ),
        );
      }
      const ctx: ProviderContext = { name, home: this.opts.home, env: this.opts.env, warn: this.opts.warn };
      p = loadProviderType(spec.type as ProviderType).then((def) => def.create(spec.options, ctx));
      this.built.set(name, p);
      p.catch(() => this.built.delete(name));
    }
    return p;
  }

  async providers(names: readonly string[] = this.chain): Promise<SecretProvider[]> {
    return Promise.all(names.map((n) => this.provider(n)));
  }

  /**
   * Looks each name up along the chain, provider by provider, asking each provider for all the
   * names still missing at once. A provider that fails (locked keychain, unreachable helper)
   * does not stop the lookup; but a name found nowhere while a provider failed is reported as
   * that failure, never as "not found".
   */
  async lookupMany(names: readonly string[]): Promise<Map<string, Found>> {
    for (const n of names) assertSecretName(n);
    const found = new Map<string, Found>();
    const failures: string[] = [];
    let missing = [...new Set(names)];
    for (const pname of this.chain) {
      if (missing.length === 0) break;
      let p: SecretProvider;
      try {
        p = await this.provider(pname);
      } catch (err) {
        if (err instanceof WardenError && err.code === 'CONFIG_INVALID') throw err;
        failures.push(`${pname}: ${describe(err)}`);
        continue;
      }
      if (!p.capabilities.read) continue;
      const results = await Promise.allSettled(missing.map((n) => p.get(n)));
      const still: string[] = [];
      let failed: unknown;
      results.forEach((r, i) => {
        const n = missing[i]!;
        if (r.status === 'fulfilled' && r.value !== undefined)
          found.set(n, { value: r.value, provider: pname });
        else {
          if (r.status === 'rejected') {
            // A damaged secret is that secret's own error, not the provider's.
            if (
              r.reason instanceof WardenError &&
              ['SECRET_CORRUPT', 'KEY_MISMATCH', 'WRONG_PASSPHRASE', 'STORE_INSECURE'].includes(r.reason.code)
            ) {
              throw r.reason;
            }
            failed ??= r.reason;
          }
          still.push(n);
        }
      });
      if (failed !== undefined)
        failures.push(`${pname}: ${failed instanceof Error ? failed.message : describe(failed)}`);
      missing = still;
    }
    if (missing.length > 0) {
      const list = missing.map((n) => `"${n}"`).join(', ');
      const what = missing.length === 1 ? `secret ${list}` : `secrets ${list}`;
      if (failures.length > 0) {
        throw new WardenError(
          'PROVIDER_UNAVAILABLE',
          `${what} not found, and some providers could not be asked: ${failures.join('; ')}`,
        );
      }
      throw new WardenError(
        'SECRET_NOT_FOUND',
        `${what} not found in providers ${this.chain.join(', ')}; store it with: mcp-warden secret set ${missing[0]}`,
      );
    }
    return found;
  }

  async lookup(name: string): Promise<Found> {
    const found = await this.lookupMany([name]);
    return found.get(name)!;
  }

  /** Reads one value from one named provider. */
  async getFrom(providerName: string, path: string): Promise<string> {
    const p = await this.provider(providerName);
    if (!p.capabilities.read) {
      await p.get(assertSecretName(path)); // a write-only backend explains itself here
      throw new WardenError(
        'PROVIDER_UNSUPPORTED',
        `provider "${providerName}" (${p.type}) cannot read values back`,
      );
    }
    const v = p.getPath ? await p.getPath(path) : await p.get(assertSecretName(path));
    if (v === undefined)
      throw new WardenError('SECRET_NOT_FOUND', `secret "${path}" not found in provider ${providerName}`);
    return v;
  }

  /**
   * Resolves many `secret://` references at once: chain lookups in one batch, provider paths in
   * parallel. Every reference is parsed before any backend is asked.
   */
  async resolveRefs(raws: readonly string[]): Promise<Map<string, string>> {
    const refs = raws.map(parseRef);
    const chainNames = refs.filter((r) => r.provider === undefined).map((r) => r.path);
    for (const r of refs)
      if (r.provider !== undefined && !this.has(r.provider)) await this.provider(r.provider);
    const [byName, byPath] = await Promise.all([
      chainNames.length ? this.lookupMany(chainNames) : new Map<string, Found>(),
      Promise.all(
        refs
          .filter((r) => r.provider !== undefined)
          .map(async (r) => [r, await this.getFrom(r.provider!, r.path)] as const),
      ),
    ]);
    const out = new Map<string, string>();
    for (const r of refs)
      if (r.provider === undefined) out.set(r.raw, pickField(r, byName.get(r.path)!.value));
    for (const [r, v] of byPath) out.set(r.raw, pickField(r, v));
    return out;
  }

  /** Where a name currently lives: every chain provider that can list and holds it. */
  async locate(name: string): Promise<SecretProvider[]> {
    assertSecretName(name);
    const holders: SecretProvider[] = [];
    for (const p of await this.providers()) {
      if (await p.has(name).catch(() => false)) holders.push(p);
    }
    return holders;
  }

  /**
   * The default write target, the strategy `secret diagnose` recommends: the OS keychain where a
   * usable one is in the chain, else the encrypted file store, else the first writable provider.
   */
  async recommended(): Promise<{ provider: SecretProvider; reason: string }> {
    const candidates = (await Promise.allSettled(this.chain.map((n) => this.provider(n))))
      .filter((r): r is PromiseFulfilledResult<SecretProvider> => r.status === 'fulfilled')
      .map((r) => r.value)
      .filter((p) => p.capabilities.set);
    const keychain = candidates.find((p) => p.type === 'keychain');
    if (keychain) {
      const probe = keychain.probe ? await keychain.probe() : { usable: true, reason: '' };
      if (probe.usable) return { provider: keychain, reason: `the OS keychain is usable (${probe.reason})` };
    }
    const file = candidates.find((p) => p.type === 'file');
    if (file)
      return {
        provider: file,
        reason: keychain ? 'no usable OS keychain, so the encrypted file store' : 'the encrypted file store',
      };
    const first = candidates[0];
    if (!first)
      throw new WardenError(
        'PROVIDER_READ_ONLY',
        `no provider in the chain (${this.chain.join(', ')}) can store secrets`,
      );
    return { provider: first, reason: 'the first writable provider in the chain' };
  }

  /**
   * Every listable secret of the given providers (default: the chain, without `env`, which would
   * list the whole environment). A provider that fails is reported in `failures`, not hidden.
   */
  async list(names?: readonly string[]): Promise<{ secrets: SecretMeta[]; failures: string[] }> {
    const chosen = names ?? this.chain.filter((n) => this.typeOf(n) !== 'env');
    const secrets: SecretMeta[] = [];
    const failures: string[] = [];
    for (const name of chosen) {
      try {
        const p = await this.provider(name);
        if (!p.capabilities.list || !p.list) {
          if (names)
            throw new WardenError(
              'PROVIDER_UNSUPPORTED',
              `provider "${p.name}" (${p.type}) cannot list its secrets`,
            );
          continue;
        }
        secrets.push(...(await p.list()));
      } catch (err) {
        if (names && names.length === 1) throw err;
        failures.push(`${name}: ${describe(err)}`);
      }
    }
    return { secrets, failures };
  }
}
