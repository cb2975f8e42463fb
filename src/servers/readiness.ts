import { WardenError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { SecretNeed, ServerConfig } from './schema.js';

/**
 * Whether a server can start: every required secret present, non-empty and in the expected
 * format. A server that is not ready is disabled with the reasons; it never half-starts.
 */
export type State = 'ready' | 'disabled' | 'invalid' | 'off';

export interface Problem {
  secret: string;
  kind: 'missing' | 'unavailable' | 'empty' | 'whitespace' | 'pattern' | 'error';
  /** One line, never a value. */
  detail: string;
}

export interface Readiness {
  server: ServerConfig;
  state: State;
  problems: Problem[];
  /** Values for the needs that resolved, keyed by need name; only for `ready` servers. */
  values: Map<SecretNeed, string>;
}

async function resolveNeed(store: Store, need: SecretNeed): Promise<string> {
  if (need.ref) return (await store.resolveRefs([need.ref])).get(need.ref)!;
  return (await store.lookup(need.secret)).value;
}

function check(need: SecretNeed, value: string): Problem | undefined {
  const label = need.ref ?? need.secret;
  if (value === '') return { secret: label, kind: 'empty', detail: `${label} is empty` };
  if (value.trim() === '')
    return { secret: label, kind: 'whitespace', detail: `${label} is only whitespace` };
  if (value !== value.trim())
    return { secret: label, kind: 'whitespace', detail: `${label} has leading or trailing whitespace` };
  if (need.pattern && !new RegExp(need.pattern).test(value)) {
    return {
      secret: label,
      kind: 'pattern',
      detail: `${label} does not look right (expected to match /${need.pattern}/)`,
    };
  }
  return undefined;
}

export async function assess(store: Store, server: ServerConfig): Promise<Readiness> {
  const values = new Map<SecretNeed, string>();
  if (server.disabled) return { server, state: 'off', problems: [], values };
  const problems: Problem[] = [];
  const results = await Promise.allSettled(server.needs.map((n) => resolveNeed(store, n)));
  results.forEach((r, i) => {
    const need = server.needs[i]!;
    const label = need.ref ?? need.secret;
    if (r.status === 'fulfilled') {
      const p = check(need, r.value);
      if (p && need.required) problems.push(p);
      else if (!p) values.set(need, r.value);
      return;
    }
    const err = r.reason as unknown;
    const code = err instanceof WardenError ? err.code : undefined;
    if (code === 'SECRET_NOT_FOUND' && !need.required) return;
    problems.push({
      secret: label,
      kind:
        code === 'SECRET_NOT_FOUND' ? 'missing' : code === 'PROVIDER_UNAVAILABLE' ? 'unavailable' : 'error',
      detail:
        code === 'SECRET_NOT_FOUND'
          ? `${label} is missing (asked ${store.chain.join(', ')})`
          : err instanceof Error
            ? err.message
            : String(err),
    });
  });
  const state: State =
    problems.length === 0
      ? 'ready'
      : problems.every((p) => ['empty', 'whitespace', 'pattern'].includes(p.kind))
        ? 'invalid'
        : 'disabled';
  return { server, state, problems, values: state === 'ready' ? values : new Map<SecretNeed, string>() };
}
