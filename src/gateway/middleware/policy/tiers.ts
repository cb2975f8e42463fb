import { WardenError } from '../../../errors.js';
import { globMatcher } from '../../pipeline.js';

/**
 * How dangerous a tool is. The issue defines the tiers by the tool's annotations:
 *  - `safe`: `readOnlyHint: true` (it wins over a `destructiveHint` given alongside it);
 *  - `destructive`: `destructiveHint: true`;
 *  - `moderate`: the rest.
 *
 * The MCP spec reads a missing `destructiveHint` as `true` whenever `readOnlyHint` is not true,
 * so to the spec every unannotated tool is destructive. Most servers annotate nothing: following
 * the spec there would deny nearly every tool by default and teach users to switch the guard
 * off. We follow the issue (unannotated = moderate) and let `unannotated: destructive` pick the
 * spec's reading. "Unannotated" means: `readOnlyHint` not true and no `destructiveHint` given;
 * an explicit `destructiveHint: false` is moderate either way. Config overrides (`tiers`, globs
 * over exposed names, first match wins) come before any annotation.
 */
export const TIERS = ['safe', 'moderate', 'destructive'] as const;
export type Tier = (typeof TIERS)[number];

export interface Annotations {
  readOnlyHint?: unknown;
  destructiveHint?: unknown;
}

export function tierOfAnnotations(
  annotations: Annotations | undefined,
  unannotated: 'moderate' | 'destructive' = 'moderate',
): Tier {
  if (annotations?.readOnlyHint === true) return 'safe';
  const hint = annotations?.destructiveHint;
  if (hint === true) return 'destructive';
  return hint === undefined ? unannotated : 'moderate';
}

/** Entries of a per-name cache before it is emptied: names come from clients, so it is bounded. */
const CACHE_LIMIT = 10_000;

/** A cache of what a tool name alone decides (override tier, deny list), bounded in size. */
export class NameCache<T> {
  private readonly map = new Map<string, T>();
  constructor(private readonly compute: (name: string) => T) {}

  get(name: string): T {
    let v = this.map.get(name);
    if (v === undefined && !this.map.has(name)) {
      if (this.map.size >= CACHE_LIMIT) this.map.clear();
      v = this.compute(name);
      this.map.set(name, v);
    }
    return v as T;
  }
}

/**
 * The tier function for a set of overrides: `(exposed name, annotations) → tier`. The globs are
 * compiled once; what a name matches is cached per name.
 */
export function compileTiers(
  overrides: readonly (readonly [glob: string, tier: Tier])[],
  unannotated: 'moderate' | 'destructive' = 'moderate',
): (name: string, annotations: Annotations | undefined) => Tier {
  for (const [glob, tier] of overrides)
    if (!(TIERS as readonly string[]).includes(tier))
      throw new WardenError(
        'CONFIG_INVALID',
        `gateway.safety.tiers.${glob}: "${String(tier)}" is not a tier (safe, moderate or destructive)`,
      );
  if (unannotated !== 'moderate' && unannotated !== 'destructive')
    throw new WardenError('CONFIG_INVALID', 'gateway.safety.unannotated: must be moderate or destructive');
  if (overrides.length === 0) return (_name, annotations) => tierOfAnnotations(annotations, unannotated);
  const tests = overrides.map(([glob, tier]) => ({ match: globMatcher([glob]), tier }));
  const override = new NameCache<Tier | null>((name) => tests.find((t) => t.match(name))?.tier ?? null);
  return (name, annotations) => override.get(name) ?? tierOfAnnotations(annotations, unannotated);
}
