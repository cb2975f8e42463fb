import { WardenError } from './errors.js';

/** Secret names in the local stores: a letter or underscore, then up to 127 of [A-Za-z0-9_.-]. */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Checked before any backend is touched: a slash, `..`, a glob or an empty name never reaches a
 * file path or a keychain query. The offending name is quoted with control characters escaped so
 * the error line stays one line.
 */
export function assertSecretName(name: string): string {
  if (!SECRET_NAME.test(name)) {
    throw new WardenError(
      'INVALID_NAME',
      `invalid secret name ${JSON.stringify(name)}: use a letter or _ first, then letters, digits, _ . - (at most 128)`,
    );
  }
  return name;
}
