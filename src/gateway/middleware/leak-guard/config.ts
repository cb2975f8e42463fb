import type { z as Z } from 'zod';
import { WardenError } from '../../../errors.js';
import { allowEntryProblem } from './allow.js';
import { LEAK_GUARD_DEFAULTS, type LeakGuardConfig } from './index.js';

/**
 * `gateway.leakGuard`:
 *
 * ```yaml
 * leakGuard:
 *   mode: redact            # or block
 *   enabled: true
 *   shapes: true            # the token-shape detectors; managed secrets are always looked for
 *   allow:                  # per server (or "*"): what it may pass
 *     auth-server: [jwt]
 *     github: ["secret:GITHUB_TOKEN", "literal:AKIAIOSFODNN7EXAMPLE"]
 * ```
 *
 * Async because zod is imported when it is needed, as the other config sections do.
 */
function build(z: typeof Z) {
  const entry = z.string().superRefine((e, ctx) => {
    const problem = allowEntryProblem(e);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
  return z
    .object({
      mode: z.enum(['redact', 'block']).optional(),
      enabled: z.boolean().optional(),
      shapes: z.boolean().optional(),
      allow: z.record(z.string().min(1, 'a server name must not be empty'), z.array(entry)).optional(),
    })
    .strict();
}

let schema: ReturnType<typeof build> | undefined;

export async function parseLeakGuard(raw: unknown): Promise<LeakGuardConfig> {
  if (raw === undefined || raw === null) return { ...LEAK_GUARD_DEFAULTS, allow: {} };
  schema ??= build((await import('zod')).z);
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = ['gateway', 'leakGuard', ...issue.path]
      .reduce<string>(
        (acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : `${acc}.${String(seg)}`),
        '',
      )
      .slice(1);
    // zod's own messages never quote the input, so no value can reach this line.
    throw new WardenError('CONFIG_INVALID', `${where}: ${issue.message}`);
  }
  const g = parsed.data;
  return {
    enabled: g.enabled ?? LEAK_GUARD_DEFAULTS.enabled,
    mode: g.mode ?? LEAK_GUARD_DEFAULTS.mode,
    shapes: g.shapes ?? LEAK_GUARD_DEFAULTS.shapes,
    allow: g.allow ?? {},
  };
}
