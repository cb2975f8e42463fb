import { isAbsolute, join } from 'node:path';
import { WardenError } from '../../../errors.js';
import { dataHome } from '../../../paths.js';

/**
 * `gateway.audit` in the config:
 *
 *   audit:
 *     file: audit.log            # required; relative to the data directory ($MCP_WARDEN_HOME)
 *     keyFile: audit.key         # the chain's HMAC key; default audit.key in the data directory
 *     maxArgumentBytes: 8192     # larger arguments are kept as a truncated head and their size
 *
 * `audit: audit.log` (a string) is short for `audit: { file: audit.log }`.
 */
export interface AuditOptions {
  /** Absolute. */
  file: string;
  /** Absolute. */
  keyFile: string;
  maxArgumentBytes: number;
}

export const DEFAULT_MAX_ARGUMENT_BYTES = 8192;

/** Validates `gateway.audit`; CONFIG_INVALID naming the offending `gateway.audit.<path>`. */
export async function parseAudit(raw: unknown, home: string = dataHome()): Promise<AuditOptions> {
  const { z } = await import('zod');
  const schema = z
    .object({
      file: z.string().min(1, 'must name a file'),
      keyFile: z.string().min(1, 'must name a file').optional(),
      maxArgumentBytes: z
        .number()
        .int()
        .min(256)
        .max(1024 * 1024)
        .optional(),
    })
    .strict();
  const parsed = schema.safeParse(typeof raw === 'string' ? { file: raw } : raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = ['gateway', 'audit', ...issue.path.map(String)].join('.');
    throw new WardenError('CONFIG_INVALID', `${where}: ${issue.message}`);
  }
  const at = (p: string) => (isAbsolute(p) ? p : join(home, p));
  return {
    file: at(parsed.data.file),
    keyFile: at(parsed.data.keyFile ?? 'audit.key'),
    maxArgumentBytes: parsed.data.maxArgumentBytes ?? DEFAULT_MAX_ARGUMENT_BYTES,
  };
}
