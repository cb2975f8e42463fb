import { createHash } from 'node:crypto';

/**
 * Names of tools and prompts behind one endpoint: `<prefix>__<name>`. The prefix is the server's
 * name (or its `prefix:`), reduced to letters, digits, `-` and single `_`, so the first `__` in
 * an exposed name always ends the prefix. Exposed names stay inside the characters the spec
 * allows for tool names (A-Z a-z 0-9 _ - .) and within 128 of them, which also keeps them
 * acceptable to model APIs; a name that would not is shortened with a hash. A server may be
 * unprefixed (`prefix: false`); a name that would then collide with one already taken gets the
 * prefixed form. The table built while listing is the authority on what a name means.
 */
export const SEPARATOR = '__';
const MAX = 128;
const ALLOWED = /^[A-Za-z0-9_.-]+$/;

export function prefixFor(server: string, configured?: string | false): string | null {
  if (configured === false) return null;
  const base = (configured ?? server)
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .replace(/_{2,}/g, '_')
    .replace(/^_+|_+$/g, '');
  return base === '' ? 'server' : base;
}

function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 8);
}

/** The exposed form of `name` under `prefix` (null: none), always valid. */
export function expose(prefix: string | null, server: string, name: string): string {
  const plain = prefix === null ? name : `${prefix}${SEPARATOR}${name}`;
  if (plain.length <= MAX && ALLOWED.test(plain)) return plain;
  const clean = plain.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, MAX - 9);
  return `${clean}-${shortHash(`${server}\0${name}`)}`;
}

export interface Target {
  server: string;
  name: string;
}

/**
 * Exposed name → (server, original name), for tools or prompts of one identity. Built from the
 * servers' lists in config order, so the same servers give the same names every time.
 */
export class NameTable {
  private readonly byName = new Map<string, Target>();

  clear(): void {
    this.byName.clear();
  }

  /** Records a server's name and answers what it is exposed as. */
  add(prefix: string | null, server: string, name: string): string {
    let exposed = expose(prefix, server, name);
    const taken = this.byName.get(exposed);
    if (taken && (taken.server !== server || taken.name !== name)) {
      exposed = expose(prefix ?? prefixFor(server), server, name);
      if (this.byName.has(exposed))
        exposed = `${exposed.slice(0, MAX - 9)}-${shortHash(`${server}\0${name}`)}`;
    }
    this.byName.set(exposed, { server, name });
    return exposed;
  }

  get(exposed: string): Target | undefined {
    return this.byName.get(exposed);
  }

  /** For a name the table has not seen: the prefix before the first separator names the server. */
  guess(exposed: string, prefixes: Map<string, string>): Target | undefined {
    const at = exposed.indexOf(SEPARATOR);
    if (at <= 0) return undefined;
    const server = prefixes.get(exposed.slice(0, at));
    return server === undefined ? undefined : { server, name: exposed.slice(at + SEPARATOR.length) };
  }
}
