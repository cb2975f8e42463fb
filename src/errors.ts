/**
 * The one error class of mcp-warden. `code` is stable and meant for scripts and tests; `message`
 * says what failed and what to do next. A message never contains a secret value.
 */
export type ErrorCode =
  | 'USAGE'
  | 'INVALID_NAME'
  | 'INVALID_REFERENCE'
  | 'INVALID_VALUE'
  | 'SECRET_NOT_FOUND'
  | 'SECRET_CORRUPT'
  | 'KEY_MISMATCH'
  | 'WRONG_PASSPHRASE'
  | 'STORE_INSECURE'
  | 'STORE_IO'
  | 'LOCK_TIMEOUT'
  | 'PROVIDER_UNKNOWN'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_READ_ONLY'
  | 'PROVIDER_UNSUPPORTED'
  | 'PROVIDER_FAILED'
  | 'CONFIG_INVALID'
  | 'MIGRATION_FAILED'
  | 'DOCKER_UNAVAILABLE'
  | 'DOCKER_NOT_FOUND'
  | 'DOCKER_CONFLICT'
  | 'DOCKER_FAILED'
  | 'CANCELLED'
  | 'KEY_UNKNOWN'
  | 'AUDIT_IO'
  | 'RATE_LIMIT_STORE';

/** Codes that mean "bad usage" (exit 2) rather than "the operation failed" (exit 1). */
const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['USAGE']);

export class WardenError extends Error {
  override readonly name = 'WardenError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  get exitCode(): 1 | 2 {
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }
}

export function isWardenError(err: unknown, code?: ErrorCode): err is WardenError {
  return err instanceof WardenError && (code === undefined || err.code === code);
}

/** The errno-style code of a Node system error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}

/** A short, value-free description of an unknown error, for wrapping into a WardenError message. */
export function describe(err: unknown): string {
  if (err instanceof Error) return errnoCode(err) ? `${errnoCode(err)}: ${err.message}` : err.message;
  return String(err);
}
