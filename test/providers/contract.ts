import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WardenError } from '../../src/errors.js';
import type { SecretProvider } from '../../src/provider.js';

/**
 * The contract every backend passes, run once per backend against the real thing. Read-only
 * backends get their values planted from outside (`seed`); writable ones through `set`.
 */
export interface ContractSubject {
  provider: SecretProvider;
  /** Puts a value where a read-only provider reads it (a file, the environment). */
  seed?(name: string, value: string): Promise<void>;
  cleanup?(): Promise<void>;
}

export interface ContractOptions {
  /** Values this backend cannot hold, left out of the round-trip cases (say why at the call). */
  skipValues?: string[];
}

/** Values that break naive storage: quotes, newlines, unicode, `=`, leading and trailing blanks. */
export const TRICKY_VALUES: Record<string, string> = {
  plain: 'ghp_0123456789abcdefABCDEF0123456789abcd',
  spaces: '  leading and trailing  ',
  quotes: `it's a "quoted" value`,
  equals: 'a=b=c;d',
  hash: 'value # not a comment',
  multiline: '-----BEGIN KEY-----\nline two\nline three\n-----END KEY-----',
  unicode: 'pässwörd-🔑-密码',
  long: 'x'.repeat(4000),
  json: '{"user":"u","password":"p@ss"}',
};

export function providerContract(
  label: string,
  make: () => Promise<ContractSubject>,
  opts: ContractOptions = {},
): void {
  describe(`provider contract: ${label}`, () => {
    let s: ContractSubject;
    let p: SecretProvider;
    const uniq = `C${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
    const n = (k: string) => `${uniq}_${k}`;
    const put = async (name: string, value: string) => {
      if (s.seed) await s.seed(name, value);
      else await p.set!(name, value);
    };

    beforeAll(async () => {
      s = await make();
      p = s.provider;
    });
    afterAll(async () => {
      if (p?.capabilities.delete && p.list) {
        for (const m of await p.list()) if (m.name.startsWith(uniq)) await p.delete!(m.name);
      }
      await s?.cleanup?.();
    });

    it('declares capabilities that match its methods', () => {
      expect(typeof p.get).toBe('function');
      expect(typeof p.has).toBe('function');
      expect(!!p.list).toBe(p.capabilities.list);
      expect(!!p.set).toBe(p.capabilities.set);
      expect(!!p.delete).toBe(p.capabilities.delete);
      expect(p.capabilities.set || !!s.seed).toBe(true);
    });

    it('answers undefined and false for a name it does not hold', async () => {
      if (p.capabilities.read) await expect(p.get(n('absent'))).resolves.toBeUndefined();
      await expect(p.has(n('absent'))).resolves.toBe(false);
    });

    /** The value back, or for a write-only backend (Swarm) the proof that it says so. */
    const readBack = async (name: string, value: string) => {
      if (p.capabilities.read) return expect(p.get(name)).resolves.toBe(value);
      await expect(p.has(name)).resolves.toBe(true);
      await expect(p.get(name)).rejects.toMatchObject({ code: 'PROVIDER_UNSUPPORTED' });
    };

    for (const [k, value] of Object.entries(TRICKY_VALUES)) {
      if (opts.skipValues?.includes(k)) continue;
      it(`stores and returns the ${k} value byte for byte`, async () => {
        await put(n(k), value);
        await readBack(n(k), value);
        await expect(p.has(n(k))).resolves.toBe(true);
      });
    }

    it('lists names, never values', async () => {
      if (!p.list) return expect(p.capabilities.list).toBe(false);
      await put(n('listed'), 'list-canary-value-7f3a');
      const list = await p.list();
      const mine = list.filter((m) => m.name.startsWith(uniq)).map((m) => m.name);
      expect(mine).toContain(n('listed'));
      for (const m of list) expect(m.provider).toBe(p.name);
      expect(JSON.stringify(list)).not.toContain('list-canary-value-7f3a');
    });

    it('overwrites a value, and counts versions where it keeps them', async () => {
      if (!p.set) return expect(p.capabilities.set).toBe(false);
      const a = await p.set(n('over'), 'first');
      const b = await p.set(n('over'), 'second');
      await readBack(n('over'), 'second');
      if (p.capabilities.versions) expect(b.version).toBe((a.version ?? 0) + 1);
    });

    it('deletes: true when something was removed, then false', async () => {
      if (!p.delete) return expect(p.capabilities.delete).toBe(false);
      await p.set!(n('gone'), 'soon gone');
      await expect(p.delete(n('gone'))).resolves.toBe(true);
      await expect(p.has(n('gone'))).resolves.toBe(false);
      await expect(p.delete(n('gone'))).resolves.toBe(false);
    });

    it('holds many secrets side by side', async () => {
      const names = Array.from({ length: 12 }, (_, i) => n(`many${i}`));
      for (const [i, name] of names.entries()) await put(name, `value-${i}`);
      for (const [i, name] of names.entries()) await readBack(name, `value-${i}`);
      if (p.list) {
        const listed = new Set((await p.list()).map((m) => m.name));
        for (const name of names) expect(listed.has(name)).toBe(true);
      }
    });

    it('refuses traversal, slashes, globs and empty names before touching the backend', async () => {
      for (const bad of ['../escape', 'a/b', '..', '', '*', 'a b', '.hidden', 'x'.repeat(129), 'nul\0byte']) {
        const err = await p.get(bad).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, `get(${JSON.stringify(bad)})`).toBeInstanceOf(WardenError);
        expect((err as WardenError).code).toBe('INVALID_NAME');
        if (p.set) await expect(p.set(bad, 'v')).rejects.toMatchObject({ code: 'INVALID_NAME' });
      }
    });
  });
}
