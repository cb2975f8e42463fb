// eslint-disable-next-line @typescript-eslint/no-restricted-imports -- loaded with the gateway's config only, which is parsed with zod anyway; never by `keys` or `secret` commands
import { z } from 'zod';
import { WardenError } from '../../../errors.js';
import { AUTH_FAILURE_DEFAULTS, type AuthFailureOptions } from './failures.js';
import { resolveKeyFile } from './key-file.js';

/** The first zod issue as `gateway.<section>.<path>: message`. */
function invalid(section: string, error: z.ZodError): WardenError {
  const issue = error.issues[0]!;
  const where = [section, ...issue.path.map(String)].join('.');
  return new WardenError('CONFIG_INVALID', `${where}: ${issue.message}`);
}

export interface AuthKeysOptions {
  /** The key file, absolute. */
  file: string;
  /** `default` was configured (the data directory's gateway-keys.json). */
  isDefault: boolean;
}

const keysSchema = z
  .string({ error: 'expected "default" or the path of a key file' })
  .trim()
  .min(1, 'expected "default" or the path of a key file');

/**
 * `gateway.auth.keys`: `default` (`$MCP_WARDEN_HOME/gateway-keys.json`) or a key file's path, a
 * relative one taken from `baseDir` (pass the config file's directory; default the working
 * directory). A legacy `.mcp_keys.json` is accepted here; the KeyRing warns about it.
 */
export function parseAuthKeys(
  raw: unknown,
  opts: { env?: NodeJS.ProcessEnv; baseDir?: string } = {},
): AuthKeysOptions {
  const parsed = keysSchema.safeParse(raw);
  if (!parsed.success) throw invalid('gateway.auth.keys', parsed.error);
  return { file: resolveKeyFile(parsed.data, opts.env, opts.baseDir), isDefault: parsed.data === 'default' };
}

const failuresSchema = z
  .object({
    max: z.number().int().min(1).max(1_000_000).optional(),
    windowSeconds: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .optional(),
    blockSeconds: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
  })
  .strict();

/**
 * `gateway.auth.failures: { max, windowSeconds, blockSeconds }` (defaults 10 failures per 60 s,
 * blocked 300 s); absent gives the defaults.
 */
export function parseAuthFailures(raw: unknown): AuthFailureOptions {
  if (raw === undefined || raw === null) return { ...AUTH_FAILURE_DEFAULTS };
  const parsed = failuresSchema.safeParse(raw);
  if (!parsed.success) throw invalid('gateway.auth.failures', parsed.error);
  const f = parsed.data;
  return {
    maxFailures: f.max ?? AUTH_FAILURE_DEFAULTS.maxFailures,
    windowSeconds: f.windowSeconds ?? AUTH_FAILURE_DEFAULTS.windowSeconds,
    blockSeconds: f.blockSeconds ?? AUTH_FAILURE_DEFAULTS.blockSeconds,
  };
}
