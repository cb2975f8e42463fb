import { WardenError } from '../../../errors.js';
import { SECRET_NAME } from '../../../names.js';
import { DETECTORS, type DetectorId } from './detectors.js';

/**
 * The per-server allowlist (`gateway.leakGuard.allow.<server>`), for false positives: a detector
 * id (`jwt`: this server's results carry JWTs that are not credentials), `secret:NAME` (the
 * server may see and return its own secret), `literal:TEXT` (this exact string is a known
 * sample, such as AWS's documented AKIAIOSFODNN7EXAMPLE). The key `*` applies to every server.
 */
export interface Allow {
  detectors: ReadonlySet<DetectorId>;
  secrets: ReadonlySet<string>;
  literals: ReadonlySet<string>;
}

export const NOTHING_ALLOWED: Allow = { detectors: new Set(), secrets: new Set(), literals: new Set() };

export const ANY_SERVER = '*';

/** Why an allowlist entry is invalid, or undefined. Never repeats the entry (it may be a token). */
export function allowEntryProblem(entry: unknown): string | undefined {
  if (typeof entry !== 'string' || entry === '') return 'must be a non-empty string';
  if (entry.startsWith('secret:'))
    return SECRET_NAME.test(entry.slice(7)) ? undefined : 'secret: must be followed by a secret name';
  if (entry.startsWith('literal:'))
    return entry.length > 8 ? undefined : 'literal: must be followed by the exact text to allow';
  if ((DETECTORS as readonly string[]).includes(entry)) return undefined;
  return `not a detector id (${DETECTORS.join(', ')}), secret:NAME or literal:TEXT`;
}

/** Checks the allowlists and answers each server's, merged with the `*` one. */
export function compileAllow(allow: Readonly<Record<string, readonly string[]>>): Map<string, Allow> {
  if (typeof allow !== 'object' || allow === null || Array.isArray(allow))
    throw new WardenError('CONFIG_INVALID', 'gateway.leakGuard.allow: must map server names to lists');
  for (const [server, entries] of Object.entries(allow)) {
    if (!Array.isArray(entries))
      throw new WardenError('CONFIG_INVALID', `gateway.leakGuard.allow.${server}: must be a list`);
    entries.forEach((e, i) => {
      const problem = allowEntryProblem(e);
      if (problem)
        throw new WardenError('CONFIG_INVALID', `gateway.leakGuard.allow.${server}[${i}]: ${problem}`);
    });
  }
  const common = allow[ANY_SERVER] ?? [];
  const out = new Map<string, Allow>();
  for (const [server, entries] of Object.entries(allow)) out.set(server, build([...common, ...entries]));
  if (!out.has(ANY_SERVER)) out.set(ANY_SERVER, build([]));
  return out;
}

function build(entries: readonly string[]): Allow {
  const detectors = new Set<DetectorId>();
  const secrets = new Set<string>();
  const literals = new Set<string>();
  for (const e of entries) {
    if (e.startsWith('secret:')) secrets.add(e.slice(7));
    else if (e.startsWith('literal:')) literals.add(e.slice(8));
    else detectors.add(e as DetectorId);
  }
  return detectors.size + secrets.size + literals.size === 0
    ? NOTHING_ALLOWED
    : { detectors, secrets, literals };
}
