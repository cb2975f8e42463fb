import { describe, expect, it } from 'vitest';
import { launch } from '../src/gateway/launch.js';
import { NameTable, expose, prefixFor } from '../src/gateway/names.js';
import { matchesTemplate } from '../src/gateway/identity.js';
import { Upstream } from '../src/gateway/upstream.js';
import { processServer } from './helpers/units.js';

/** The gateway's pure parts, and an upstream's restart backoff against a real crashing process. */
const VALID = /^[A-Za-z0-9_.-]{1,128}$/;

describe('namespacing', () => {
  it('prefixes with the server name reduced to a safe, unambiguous prefix', () => {
    expect(prefixFor('github')).toBe('github');
    expect(prefixFor('my.server')).toBe('my-server');
    expect(prefixFor('a__b_')).toBe('a_b');
    expect(prefixFor('x', false)).toBeNull();
    expect(expose('github', 'github', 'create_issue')).toBe('github__create_issue');
  });

  it('keeps every exposed name inside the allowed characters and 128 of them', () => {
    for (const name of ['has space', 'ünïcode', 'x'.repeat(300), 'slash/and:colon', ''])
      expect(expose('srv', 'srv', name)).toMatch(VALID);
    // Two long names differing only at the end stay distinct.
    expect(expose('s', 's', 'y'.repeat(200) + '1')).not.toBe(expose('s', 's', 'y'.repeat(200) + '2'));
  });

  it('never lets two servers’ tools collide, unprefixed or not', () => {
    const t = new NameTable();
    const a = t.add(null, 'one', 'search');
    const b = t.add(null, 'two', 'search');
    expect(a).toBe('search');
    expect(b).toBe('two__search');
    expect(t.get(a)).toEqual({ server: 'one', name: 'search' });
    expect(t.get(b)).toEqual({ server: 'two', name: 'search' });
    // A tool literally named like another server's prefixed form.
    const c = t.add(null, 'three', 'two__search');
    expect(c).not.toBe(b);
    expect(t.get(c)).toEqual({ server: 'three', name: 'two__search' });
  });

  it('guesses the server from the prefix for a name it has not listed', () => {
    const t = new NameTable();
    expect(t.guess('gh__list__repos', new Map([['gh', 'github']]))).toEqual({
      server: 'github',
      name: 'list__repos',
    });
    expect(t.guess('nope__x', new Map([['gh', 'github']]))).toBeUndefined();
  });
});

describe('resource templates', () => {
  it('matches the simple RFC 6570 forms', () => {
    expect(matchesTemplate('mem://items/{id}', 'mem://items/7')).toBe(true);
    expect(matchesTemplate('mem://items/{id}', 'mem://items/7/more')).toBe(false);
    expect(matchesTemplate('file:///{+path}', 'file:///a/b/c.txt')).toBe(true);
    expect(matchesTemplate('search://q{?term,limit}', 'search://q?term=x&limit=2')).toBe(true);
    expect(matchesTemplate('a.b://{x}', 'aXb://1')).toBe(false);
  });
});

describe('upstream restart backoff', () => {
  it('waits longer after each crash in a row (real process that dies at once)', async () => {
    const server = processServer('dies', process.execPath, ['-e', 'process.exit(1)']);
    const up = new Upstream({
      name: 'dies',
      start: () => launch(server, new Map(), { env: { PATH: process.env.PATH }, log: () => undefined }),
      clientCapabilities: {},
      events: { message: () => undefined, state: () => undefined },
      backoffMs: [100, 1000],
    });
    const attempts: number[] = [];
    for (let i = 0; i < 4; i++) {
      await up.ensure().catch(() => undefined);
      attempts.push(Date.now());
    }
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // 100, 200, 400 ms of backoff (plus the time to start node and see it die).
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(gaps[2]).toBeGreaterThanOrEqual(390);
    expect(up.state).toBe('crashed');
    await up.close();
  });
});
