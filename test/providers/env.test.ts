import { describe, expect, it } from 'vitest';
import envProvider from '../../src/providers/env.js';
import { build } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

const vars: NodeJS.ProcessEnv = {};
providerContract('env (a process environment)', async () => ({
  provider: build(envProvider, {}, { name: 'env', env: vars }).provider,
  seed: async (name, value) => void (vars[name] = value),
}));

describe('env provider', () => {
  it('maps names through a prefix and is read-only', async () => {
    const { provider } = build(envProvider, { prefix: 'APP_' }, { env: { APP_TOKEN: 't', OTHER: 'o' } });
    await expect(provider.get('TOKEN')).resolves.toBe('t');
    await expect(provider.get('OTHER')).resolves.toBeUndefined();
    expect(await provider.list!()).toEqual([{ name: 'TOKEN', provider: 'test' }]);
    expect(provider.set).toBeUndefined();
  });
  it('rejects unknown options', () => {
    expect(() => build(envProvider, { prefx: 'A_' })).toThrow(/providers.test.prefx: unknown option/);
  });
});
