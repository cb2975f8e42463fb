import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUIREMENTS } from './requirements.js';

/**
 * Every gateway security requirement has an id (test/requirements.ts) and at least one test whose
 * title starts with `[id]`; a test title naming an id that is not listed fails too, so the list
 * stays the index of what is verified.
 */
const ID_IN_TITLE =
  /\b(?:it|test)(?:\.(?:each\([^)]*\)|concurrent|sequential))?\(\s*[`'"]((?:\[[a-z0-9-]+(?::[a-z0-9.-]+)+\]\s*)+)/g;

function titledIds(): Map<string, string[]> {
  const dir = import.meta.dirname;
  const found = new Map<string, string[]>();
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!f.endsWith('.test.ts') || f === 'requirements.test.ts') continue;
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(ID_IN_TITLE))
      for (const [, id] of m[1]!.matchAll(/\[([^\]]+)\]/g)) found.set(id!, [...(found.get(id!) ?? []), f]);
  }
  return found;
}

describe('requirement ids', () => {
  const found = titledIds();

  it('every listed requirement has a test titled with its id', () => {
    const missing = Object.keys(REQUIREMENTS).filter((id) => !found.has(id));
    expect(missing, `requirements without a test: ${missing.join(', ')}`).toEqual([]);
  });

  it('every id in a test title is a listed requirement', () => {
    const unknown = [...found.keys()].filter((id) => !Object.hasOwn(REQUIREMENTS, id));
    expect(unknown, `ids in test titles but not in test/requirements.ts: ${unknown.join(', ')}`).toEqual([]);
  });
});
