import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as oracle } from 'dotenv';
import { describe, expect, it } from 'vitest';
import dotenvProvider from '../../src/providers/dotenv.js';
import type { SecretProvider } from '../../src/provider.js';
import { formatEntry } from '../../src/store/dotenv-edit.js';
import { build, tempDir } from '../helpers/tmp.js';
import { providerContract } from './contract.js';

// Every contract value has a dotenv spelling (single quotes, or the unquoted form for the one
// that mixes ' and "), so nothing is skipped.
providerContract('dotenv (dotenv library as oracle)', async () => ({
  provider: build(dotenvProvider, { path: join(tempDir(), '.env') }, { name: 'dotenv', home: tempDir() })
    .provider,
}));

const FIXTURES = fileURLToPath(new URL('../fixtures/dotenv/', import.meta.url));
const corpus = readdirSync(FIXTURES)
  .filter((f) => f.endsWith('.env'))
  .sort();
const work = tempDir('mcpw-dotenv-');
const home = tempDir('mcpw-dotenv-home-');
let seq = 0;

/** A fresh copy of `text` as a .env file in its own directory, and a provider on it. */
function fresh(text: string | undefined): { path: string; dir: string; provider: SecretProvider } {
  const dir = join(work, `case-${seq++}`);
  mkdirSync(dir);
  const path = join(dir, '.env');
  if (text !== undefined) writeFileSync(path, text, { mode: 0o600 });
  return { path, dir, provider: build(dotenvProvider, { path }, { home }).provider };
}

/** Values that stress every quoting rule dotenv has; each has at least one dotenv spelling. */
const NEW_VALUES: Record<string, string> = {
  multiline: 'first line\nsecond line',
  single: "it's",
  double: 'say "hi"',
  backtick: 'run `ls` now',
  allQuotes: `it's "a" \`b\``,
  hash: 'a # b',
  leadingHash: '#not-a-comment',
  leadingSpaces: '   leading spaces',
  backslashN: 'literal\\nbackslash-n',
  multilineQuotes: 'it\'s\n"multi"\nline',
  multilineBackslashN: 'it\'s "x"\nwith \\n inside',
  trailingBackslash: 'C:\\dir\\',
  carriageReturn: 'a\rb',
  empty: '',
  unicode: 'pässwörd-🔑-密码',
  equals: 'k=v=w',
};

/** Values no dotenv spelling reads back unchanged. */
const UNREPRESENTABLE: Record<string, string> = {
  // Raw line breaks need a quote the value does not contain; escaped ones need double quotes,
  // where a literal \n would turn into a line break too.
  'all three quotes, a line break and a literal \\n': `it's "a" \`b\`\nsecond \\n line`,
  // Unquoted values stop at #, quoted ones at the first bare quote of their kind.
  'all three quotes and a #': `it's "a" \`b\` # c`,
  // A raw CR reads as a line break; only double quotes have \r, and they also turn \n into one.
  'a carriage return and a literal \\n': 'a\rb\\n',
};

/**
 * Lines that belong to no entry: comments, blank lines and junk that dotenv skips. A line that
 * is part of a multiline value (a `#` line inside a quoted key, the line with the closing quote)
 * is not standalone; it is recognised by being, escapes expanded, a piece of some parsed value.
 */
function standaloneLines(text: string): string[] {
  const multiline = Object.values(oracle(text)).filter((v) => v.includes('\n'));
  const inValue = (line: string): boolean => {
    const body = line
      .replace(/['"`]\s*(?:#.*)?$/, '')
      .replace(/\\n/g, '\n')
      .replace(/\\r/g, '\r');
    return body === ''
      ? multiline.some((v) => /^\n|\n\n|\n$/.test(v))
      : multiline.some((v) => v.includes(body));
  };
  return text.split('\n').filter((raw) => {
    const line = raw.replace(/\r$/, '');
    return Object.keys(oracle(line)).length === 0 && !inValue(line);
  });
}

function expectSubsequence(needles: string[], hay: string[], what: string): void {
  let at = 0;
  for (const needle of needles) {
    while (at < hay.length && hay[at] !== needle) at++;
    expect(at, `${what}: line ${JSON.stringify(needle)} kept, in order`).toBeLessThan(hay.length);
    at++;
  }
}

const count = (hay: string, needle: string) => hay.split(needle).length - 1;

/** No line of the old value survives the edit (secret fragments must not linger in the file). */
function expectNoFragments(before: string, after: string, oldValue: string, newValue: string): void {
  for (const frag of oldValue.split('\n').map((l) => l.trim())) {
    if (frag.length < 6 || newValue.includes(frag) || !before.includes(frag)) continue;
    expect(count(after, frag), `fragment ${JSON.stringify(frag)} removed`).toBeLessThan(count(before, frag));
  }
}

/** How many lines define `key`, to know whether the edit may reorder keys (duplicates collapse). */
function definitions(text: string, key: string): number {
  const esc = key.replace(/[.-]/g, '\\$&');
  return text.split('\n').filter((l) => new RegExp(`^\\s*(?:export\\s+)?${esc}\\s*(?:=|:\\s)`).test(l))
    .length;
}

function without(keys: string[], key: string): string[] {
  return keys.filter((k) => k !== key);
}

describe('dotenv provider: corpus of tricky files, dotenv.parse as the oracle', () => {
  it('has at least 15 corpus files', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(15);
  });

  describe.each(corpus)('%s', (fixture) => {
    const original = readFileSync(join(FIXTURES, fixture), 'utf8');
    const before = oracle(original);
    const keys = Object.keys(before);

    it('get, has and list agree with dotenv.parse for every key', async () => {
      const { provider } = fresh(original);
      expect((await provider.list!()).map((m) => m.name)).toEqual([...keys].sort());
      for (const key of keys) {
        await expect(provider.get(key), key).resolves.toBe(before[key]);
        await expect(provider.has(key), key).resolves.toBe(true);
      }
      await expect(provider.get('NOT_IN_THE_FILE')).resolves.toBeUndefined();
    });

    it('set changes only that key, in place, and keeps the other lines', async () => {
      for (const key of keys) {
        for (const [label, value] of Object.entries(NEW_VALUES)) {
          const what = `${key} := ${label}`;
          const { path, provider } = fresh(original);
          await provider.set!(key, value);
          const after = readFileSync(path, 'utf8');
          const parsed = oracle(after);
          expect(parsed, what).toEqual({ ...before, [key]: value });
          await expect(provider.get(key), what).resolves.toBe(value);
          expectSubsequence(standaloneLines(original), after.split('\n'), what);
          expectNoFragments(original, after, before[key]!, value);
          expect(without(Object.keys(parsed), key), what).toEqual(without(keys, key));
          if (definitions(original, key) === 1) expect(Object.keys(parsed), what).toEqual(keys);
          expect(after.endsWith('\n'), `${what}: trailing newline as before`).toBe(original.endsWith('\n'));
        }
      }
    });

    it('delete removes only that key and keeps the other lines', async () => {
      for (const key of keys) {
        const { path, provider } = fresh(original);
        await expect(provider.delete!(key), key).resolves.toBe(true);
        const after = readFileSync(path, 'utf8');
        const expected: Record<string, string> = { ...before };
        delete expected[key];
        expect(oracle(after), key).toEqual(expected);
        expect(Object.keys(oracle(after)), key).toEqual(without(keys, key));
        expectSubsequence(standaloneLines(original), after.split('\n'), `delete ${key}`);
        expectNoFragments(original, after, before[key]!, '');
        await expect(provider.get(key), key).resolves.toBeUndefined();
        await expect(provider.delete!(key), key).resolves.toBe(false);
      }
    });

    it('set of a new key appends it and leaves everything before it byte for byte', async () => {
      for (const [label, value] of Object.entries(NEW_VALUES)) {
        const { path, provider } = fresh(original);
        await provider.set!('BRAND_NEW', value);
        const after = readFileSync(path, 'utf8');
        expect(after.startsWith(original), label).toBe(true);
        expect(oracle(after), label).toEqual({ ...before, BRAND_NEW: value });
        expect(Object.keys(oracle(after)), label).toEqual([...keys, 'BRAND_NEW']);
        const eol = original.includes('\r\n') ? '\r\n' : '\n';
        expect(after.endsWith(eol), label).toBe(true);
        if (original !== '' && !/[\r\n]$/.test(original))
          expect(after.startsWith(original + eol), label).toBe(true);
      }
    });

    it('refuses an unrepresentable value with INVALID_VALUE and leaves the file byte-identical', async () => {
      for (const key of [...keys, 'BRAND_NEW']) {
        for (const [label, value] of Object.entries(UNREPRESENTABLE)) {
          const { path, dir, provider } = fresh(original);
          await expect(provider.set!(key, value), `${key}: ${label}`).rejects.toMatchObject({
            code: 'INVALID_VALUE',
          });
          expect(readFileSync(path, 'utf8'), `${key}: ${label}`).toBe(original);
          expect(readdirSync(dir)).toEqual(['.env']);
        }
      }
    });
  });
});

describe('dotenv provider: formatting values', () => {
  it('finds a spelling dotenv reads back for every value that has one', () => {
    for (const [label, value] of Object.entries(NEW_VALUES)) {
      expect(oracle(formatEntry('K', value)).K, label).toBe(value);
    }
  });

  it('names the key but never the value when a value cannot be written', () => {
    for (const value of Object.values(UNREPRESENTABLE)) {
      let err: unknown;
      try {
        formatEntry('SOME_KEY', value);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({
        code: 'INVALID_VALUE',
        message: expect.stringContaining('SOME_KEY') as unknown,
      });
      expect((err as Error).message).not.toContain('it\'s "a"');
    }
  });

  it('prefers the plain form for plain values', () => {
    expect(formatEntry('K', 'ghp_abc123')).toBe('K=ghp_abc123');
    expect(formatEntry('K', 'has space')).toBe("K='has space'");
  });
});

describe('dotenv provider: editing keeps what surrounds an entry', () => {
  const edit = async (text: string, key: string, value: string | undefined): Promise<string> => {
    const { path, provider } = fresh(text);
    if (value === undefined) await provider.delete!(key);
    else await provider.set!(key, value);
    return readFileSync(path, 'utf8');
  };

  it('keeps `export` and the indentation in front of the key', async () => {
    expect(await edit('  export A=1\nB=2\n', 'A', 'new')).toBe('  export A=new\nB=2\n');
  });

  it('keeps an inline comment after the value', async () => {
    expect(await edit('A=1 # rotate monthly\nB=2\n', 'A', 'two words')).toBe(
      "A='two words' # rotate monthly\nB=2\n",
    );
    expect(await edit("A='x'# tight\n", 'A', 'y')).toBe('A=y # tight\n');
  });

  it('replaces every line of a multiline value and nothing after it', async () => {
    const text = "A='line 1\nline 2'\n# about B\nB=2\n";
    expect(await edit(text, 'A', 'one')).toBe('A=one\n# about B\nB=2\n');
    expect(await edit(text, 'A', undefined)).toBe('# about B\nB=2\n');
  });

  it('follows dotenv where a quote closes by backtracking', async () => {
    // dotenv closes at the escaped quote on line 2 (the bare one on line 3 has junk after it).
    const text = "A='secret part one\nsecret part two\\'\njunk 'here\nB=2\n";
    expect(oracle(text)).toEqual({ A: 'secret part one\nsecret part two\\', B: '2' });
    expect(await edit(text, 'A', 'x')).toBe("A=x\njunk 'here\nB=2\n");
    expect(await edit(text, 'A', undefined)).toBe("junk 'here\nB=2\n");
  });

  it('treats a quoted value that starts on the next line as part of the entry', async () => {
    const text = "A=\n'on the next line'\nB=2\n";
    expect(oracle(text)).toEqual({ A: 'on the next line', B: '2' });
    expect(await edit(text, 'A', 'x')).toBe('A=x\nB=2\n');
  });

  it('picks another spelling when a neighbour would swallow the first one', async () => {
    // After A's `\'` dotenv runs A's quote on to the next bare one, so B='#1' would read as A's
    // value plus a comment; B="#1" stays B.
    const text = "A='ends in backslash\\'\nB=1\n";
    expect(oracle(text)).toEqual({ A: 'ends in backslash\\', B: '1' });
    expect(oracle("A='ends in backslash\\'\nB='#1'\n")).toEqual({ A: "ends in backslash\\'\nB=" });
    expect(await edit(text, 'B', '#1')).toBe('A=\'ends in backslash\\\'\nB="#1"\n');
  });

  it('refuses the one key a parsed object cannot hold', async () => {
    const { path, provider } = fresh('A=1\n');
    await expect(provider.set!('__proto__', 'x')).rejects.toMatchObject({ code: 'INVALID_NAME' });
    expect(readFileSync(path, 'utf8')).toBe('A=1\n');
  });

  it('collapses duplicate definitions into one at the place of the last', async () => {
    expect(await edit('A=1\nB=2\nA=3\n', 'A', 'x')).toBe('B=2\nA=x\n');
    expect(await edit('A=1\nB=2\nA=3\n', 'A', undefined)).toBe('B=2\n');
  });

  it('keeps the line endings of every other line in a mixed file', async () => {
    const text = '# lf\nA=1\r\nB=2\n';
    expect(await edit(text, 'A', 'x')).toBe('# lf\nA=x\r\nB=2\n');
    expect(await edit(text, 'B', 'y\nz')).toBe("# lf\nA=1\r\nB='y\r\nz'\n");
    expect(await edit(text, 'C', 'c')).toBe('# lf\nA=1\r\nB=2\nC=c\r\n');
  });

  it('keeps a missing final newline missing', async () => {
    expect(await edit('A=1\nB=2', 'B', 'x')).toBe('A=1\nB=x');
    expect(await edit('A=1\nB=2', 'C', 'x')).toBe('A=1\nB=2\nC=x\n');
    expect(await edit('A=1\nB=2', 'B', undefined)).toBe('A=1\n');
  });

  it('creates the file for the first set, and delete of an absent key or file is false', async () => {
    const { path, provider } = fresh(undefined);
    await expect(provider.delete!('A')).resolves.toBe(false);
    await expect(provider.list!()).resolves.toEqual([]);
    await provider.set!('A', 'v');
    expect(readFileSync(path, 'utf8')).toBe('A=v\n');
    await expect(provider.delete!('B')).resolves.toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('A=v\n');
  });
});

describe('dotenv provider: file safety', () => {
  const mode = (p: string) => statSync(p).mode & 0o777;

  it('creates a new file 0600', async () => {
    const { path, provider } = fresh(undefined);
    await provider.set!('A', 'v');
    expect(mode(path)).toBe(0o600);
  });

  it("keeps an existing file's mode, including bits the umask would drop", async () => {
    for (const m of [0o600, 0o640, 0o644, 0o664]) {
      const { path, provider } = fresh('A=1\n');
      chmodSync(path, m);
      await provider.set!('A', '2');
      expect(mode(path), m.toString(8)).toBe(m);
      await provider.delete!('A');
      expect(mode(path), m.toString(8)).toBe(m);
    }
  });

  it('writes atomically: no temporary or lock files are left, even for refused edits', async () => {
    const { dir, provider } = fresh('# keep\nA=1\n');
    for (let i = 0; i < 30; i++) await provider.set!(`K${i % 5}`, `value ${i}`);
    await expect(provider.set!('A', UNREPRESENTABLE['all three quotes and a #']!)).rejects.toMatchObject({
      code: 'INVALID_VALUE',
    });
    await provider.delete!('K0');
    expect(readdirSync(dir)).toEqual(['.env']);
  });

  it('loses no update when sets run concurrently', async () => {
    const { dir, path, provider } = fresh('# shared\n');
    await Promise.all(Array.from({ length: 20 }, (_, i) => provider.set!(`K${i}`, `v${i}`)));
    const parsed = oracle(readFileSync(path, 'utf8'));
    expect(Object.keys(parsed).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `K${i}`).sort());
    expect(readdirSync(dir)).toEqual(['.env']);
  });

  it('edits the target of a symlinked .env and keeps the link', async () => {
    const { dir, provider } = fresh(undefined);
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    writeFileSync(join(shared, 'real.env'), '# shared file\nA=1\n', { mode: 0o640 });
    symlinkSync('shared/real.env', join(dir, '.env'));
    await provider.set!('A', '2');
    expect(lstatSync(join(dir, '.env')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(shared, 'real.env'), 'utf8')).toBe('# shared file\nA=2\n');
    expect(mode(join(shared, 'real.env'))).toBe(0o640);
    expect(readdirSync(shared)).toEqual(['real.env']);
  });

  it('a path that is a directory is an I/O error, never "not found"', async () => {
    const { path, provider } = fresh(undefined);
    mkdirSync(path);
    await expect(provider.get('A')).rejects.toMatchObject({ code: 'STORE_IO' });
    await expect(provider.set!('A', 'v')).rejects.toMatchObject({ code: 'STORE_IO' });
  });

  it('refuses bad names before reading the file', async () => {
    const { provider } = fresh('A=1\n');
    await expect(provider.set!('../A', 'v')).rejects.toMatchObject({ code: 'INVALID_NAME' });
    await expect(provider.delete!('a b')).rejects.toMatchObject({ code: 'INVALID_NAME' });
  });
});
