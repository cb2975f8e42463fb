import type { z as Z } from 'zod';
import { WardenError } from '../../../errors.js';
import { SAFETY_DEFAULTS, TIERS, type SafetyOptions } from './index.js';

/**
 * `gateway.safety`:
 *
 * ```yaml
 * safety:
 *   allowDestructive: false          # destructive tools callable by every client
 *   allowDestructiveFor: [ci-bot]    # ...or by these client ids
 *   unannotated: moderate            # or destructive: the MCP spec's reading of no annotations
 *   deny: ["*__drop_*"]              # never callable by anyone
 *   tiers:                           # globs over exposed names, first match wins
 *     "github__delete_*": destructive
 *     "github__get_*": safe
 * ```
 *
 * Async because zod is imported when it is needed (it would cost every CLI command its load
 * time otherwise; see eslint.config.js), as the other config sections do.
 */
function build(z: typeof Z) {
  const globs = z.array(z.string().min(1, 'a glob must not be empty'));
  return z
    .object({
      allowDestructive: z.boolean().optional(),
      allowDestructiveFor: z.array(z.string().min(1, 'a client id must not be empty')).optional(),
      unannotated: z.enum(['moderate', 'destructive']).optional(),
      deny: globs.optional(),
      // A YAML mapping keeps the file's order (first match wins), except that keys that look
      // like array indexes ("123") come first in a JS object: no tool glob looks like one.
      tiers: z.record(z.string().min(1, 'a glob must not be empty'), z.enum(TIERS)).optional(),
    })
    .strict();
}

let schema: ReturnType<typeof build> | undefined;

export async function parseSafety(raw: unknown): Promise<SafetyOptions> {
  if (raw === undefined || raw === null) return { ...SAFETY_DEFAULTS };
  schema ??= build((await import('zod')).z);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new WardenError(
      'CONFIG_INVALID',
      `${pathOf(['gateway', 'safety', ...issue.path])}: ${issue.message}`,
    );
  }
  const s = parsed.data;
  return {
    allowDestructive: s.allowDestructive ?? SAFETY_DEFAULTS.allowDestructive,
    allowDestructiveFor: s.allowDestructiveFor ?? [],
    unannotated: s.unannotated ?? SAFETY_DEFAULTS.unannotated,
    deny: s.deny ?? [],
    tiers: Object.entries(s.tiers ?? {}),
  };
}

/** `gateway.safety.deny[0]`, from zod's issue path. */
export function pathOf(path: readonly PropertyKey[]): string {
  return path
    .reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : `${acc}.${String(seg)}`), '')
    .slice(1);
}
