import { WardenError } from './errors.js';
import { assertSecretName } from './names.js';

/**
 * A `secret://` reference (PRODUCT.md):
 * - `secret://NAME` looks NAME up along the default chain;
 * - `secret://PROVIDER/PATH[#FIELD]` asks one provider instance; PATH means what that backend
 *   means by it, FIELD picks a key of a JSON value.
 */
export interface SecretRef {
  raw: string;
  /** Set for `secret://PROVIDER/PATH`. */
  provider?: string;
  /** The name (chain lookup) or the provider-specific path. */
  path: string;
  field?: string;
}

export const REF_PREFIX = 'secret://';
const INSTANCE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

export function isRef(value: string): boolean {
  return value.startsWith(REF_PREFIX);
}

export function parseRef(raw: string): SecretRef {
  if (!isRef(raw))
    throw new WardenError('INVALID_REFERENCE', `${JSON.stringify(raw)} is not a secret:// reference`);
  let rest = raw.slice(REF_PREFIX.length);
  let field: string | undefined;
  const hash = rest.indexOf('#');
  if (hash >= 0) {
    field = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
    if (field === '') throw new WardenError('INVALID_REFERENCE', `reference ${raw}: empty #FIELD`);
  }
  const slash = rest.indexOf('/');
  if (slash < 0) {
    try {
      assertSecretName(rest);
    } catch (err) {
      throw new WardenError('INVALID_REFERENCE', `reference ${raw}: ${(err as Error).message}`);
    }
    return { raw, path: rest, ...(field !== undefined && { field }) };
  }
  const provider = rest.slice(0, slash);
  const path = rest.slice(slash + 1);
  if (!INSTANCE.test(provider)) {
    throw new WardenError(
      'INVALID_REFERENCE',
      `reference ${raw}: ${JSON.stringify(provider)} is not a provider name`,
    );
  }
  if (path === '')
    throw new WardenError('INVALID_REFERENCE', `reference ${raw}: empty path after the provider`);
  return { raw, provider, path, ...(field !== undefined && { field }) };
}

/** Picks `field` out of a JSON object value (a secret stored as `{"user": ..., "password": ...}`). */
export function pickField(ref: SecretRef, value: string): string {
  if (ref.field === undefined) return value;
  let obj: unknown;
  try {
    obj = JSON.parse(value);
  } catch {
    throw new WardenError(
      'INVALID_REFERENCE',
      `reference ${ref.raw}: #${ref.field} needs a JSON object value, and this one is not JSON`,
    );
  }
  const v =
    obj && typeof obj === 'object' && !Array.isArray(obj)
      ? (obj as Record<string, unknown>)[ref.field]
      : undefined;
  if (v === undefined || v === null) {
    throw new WardenError('SECRET_NOT_FOUND', `reference ${ref.raw}: the value has no field "${ref.field}"`);
  }
  return typeof v === 'string' ? v : JSON.stringify(v);
}
