import { WardenError, describe } from '../errors.js';
import { isRef } from '../refs.js';
import type { Store } from '../store/store.js';

/**
 * The environment `run` gives its command: the inherited environment, then each env file in
 * order, a later definition replacing an earlier one; then every value that is a `secret://`
 * reference replaced by the secret, all references resolved in one batch.
 */

/** Inherited by run, never passed on: with it the command could open the whole store. */
export const NOT_INHERITED = ['MCP_WARDEN_PASSPHRASE'];

export interface EnvFile {
  /** As the user gave it, for messages. */
  path: string;
  vars: Record<string, string>;
}

export interface Reference {
  /** The variable. */
  name: string;
  ref: string;
  /** Where the variable was defined: `the environment` or an env file's path. */
  from: string;
}

export interface EnvPlan {
  env: Map<string, string>;
  refs: Reference[];
}

export function planEnv(inherited: NodeJS.ProcessEnv, files: readonly EnvFile[]): EnvPlan {
  const env = new Map<string, string>();
  const from = new Map<string, string>();
  for (const [k, v] of Object.entries(inherited)) {
    if (v === undefined || NOT_INHERITED.includes(k)) continue;
    env.set(k, v);
    from.set(k, 'the environment');
  }
  for (const f of files) {
    for (const [k, v] of Object.entries(f.vars)) {
      env.set(k, v);
      from.set(k, f.path);
    }
  }
  const refs: Reference[] = [];
  for (const [name, v] of env) if (isRef(v)) refs.push({ name, ref: v, from: from.get(name)! });
  return { env, refs };
}

/** The inherited environment without its references: what the `env` provider may answer from. */
export function withoutRefs(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !isRef(v)) out[k] = v;
  return out;
}

/**
 * Resolves every reference of the plan in one batch; answers each variable's value. When the
 * batch fails, each reference is asked alone to say which ones failed and why, in one line.
 */
export async function resolvePlan(store: Store, plan: EnvPlan): Promise<Map<string, string>> {
  const unique = [...new Set(plan.refs.map((r) => r.ref))];
  if (unique.length === 0) return new Map();
  let values: Map<string, string>;
  try {
    values = await store.resolveRefs(unique);
  } catch (err) {
    throw await attribute(store, plan.refs, err);
  }
  return new Map(plan.refs.map((r) => [r.name, values.get(r.ref)!]));
}

async function attribute(store: Store, refs: readonly Reference[], batchError: unknown): Promise<unknown> {
  const unique = [...new Set(refs.map((r) => r.ref))];
  const results = await Promise.allSettled(unique.map((r) => store.resolveRefs([r])));
  const reasons = new Map<string, unknown>();
  results.forEach((r, i) => r.status === 'rejected' && reasons.set(unique[i]!, r.reason));
  const failed = refs.filter((r) => reasons.has(r.ref));
  const first = failed[0];
  if (!first) return batchError;
  const reason = reasons.get(first.ref);
  const where = (r: Reference) => `${r.name}=${r.ref} (from ${r.from})`;
  const why = reason instanceof WardenError ? reason.message : describe(reason);
  let message = `cannot resolve ${where(first)}: ${why.replace(`reference ${first.ref}: `, '')}`;
  if (failed.length > 1) {
    const more = failed.slice(1);
    message += `; ${more.length} more unresolved: ${more.slice(0, 5).map(where).join(', ')}${more.length > 5 ? ', ...' : ''}`;
  }
  return new WardenError(reason instanceof WardenError ? reason.code : 'PROVIDER_FAILED', message, {
    cause: reason,
  });
}
