import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { ProviderContext, ProviderDefinition, SecretProvider } from '../../src/provider.js';

/** A fresh 0700 temporary directory, removed after the file's tests. */
export function tempDir(prefix = 'mcpw-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Built {
  provider: SecretProvider;
  warnings: string[];
}

/** Builds a provider instance directly, collecting its warnings. */
export function build(
  def: ProviderDefinition,
  options: Record<string, unknown>,
  ctx: Partial<Omit<ProviderContext, 'warn'>> = {},
): Built {
  const warnings: string[] = [];
  const provider = def.create(options, {
    name: ctx.name ?? 'test',
    home: ctx.home ?? tempDir(),
    env: ctx.env ?? {},
    warn: (m) => warnings.push(m),
  });
  return { provider, warnings };
}
