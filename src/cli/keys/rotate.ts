import { WardenError } from '../../errors.js';
import { updateKeyFile, type KeyEntry } from '../../gateway/middleware/auth/key-file.js';
import { parse } from '../common.js';
import type { Cli } from '../io.js';
import {
  FILE_OPTION,
  HELP,
  addKey,
  clientId,
  duration,
  expiry,
  keyFile,
  printKey,
  type Common,
} from './common.js';

function endOf(e: KeyEntry): number | undefined {
  const ends = [e.expires, e.notAfter].filter((x) => x !== undefined).map((x) => Date.parse(x));
  return ends.length > 0 ? Math.min(...ends) : undefined;
}

function usable(e: KeyEntry, now: number): boolean {
  const end = endOf(e);
  return e.revokedAt === undefined && (end === undefined || now < end);
}

export async function rotate(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common & { grace?: string; expires?: string; json?: boolean }>(
    cli,
    args,
    { ...FILE_OPTION, grace: { type: 'string' }, expires: { type: 'string' }, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  const id = clientId(p.positionals, 'rotate');
  const now = Date.now();
  const grace = duration('--grace', p.values.grace ?? '24h', true);
  const explicit = p.values.expires !== undefined ? expiry(p.values.expires, now) : undefined;
  const file = await keyFile(cli, p.values);
  const made = await updateKeyFile(file, (entries) => {
    const old = entries.filter((e) => e.clientId === id && usable(e, now));
    if (old.length === 0)
      throw new WardenError(
        'KEY_UNKNOWN',
        `client ${id} has no active key to rotate; make one with keys create ${id}`,
      );
    const template = old.reduce((a, b) => (Date.parse(b.created) > Date.parse(a.created) ? b : a));
    // The new key lives as long as the old one was meant to, counted from now.
    const lifetime = template.expires && Date.parse(template.expires) - Date.parse(template.created);
    const expires = explicit ?? (lifetime ? new Date(now + lifetime).toISOString() : undefined);
    const notAfter = new Date(now + grace).toISOString();
    for (const e of old)
      if (e.notAfter === undefined || Date.parse(e.notAfter) > now + grace) e.notAfter = notAfter;
    const { description, servers, tools, allowDestructive } = template;
    const made = addKey(entries, id, now, { expires, description, servers, tools, allowDestructive });
    return { ...made, old: old.map((e) => e.id), notAfter };
  });
  const ends =
    grace === 0
      ? 'stopped working now'
      : `${made.old.length === 1 ? 'keeps' : 'keep'} working until ${made.notAfter}`;
  printKey(
    cli,
    p.values.json === true,
    made.key,
    made.entry,
    `rotated client ${id}: new key ${made.entry.id}; ${made.old.join(', ')} ${ends}`,
  );
  return 0;
}
