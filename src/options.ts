import { WardenError } from './errors.js';

/**
 * Reads a backend's options from config. Hand-written rather than zod: these run on every
 * `secret get`, and importing zod alone costs more than twice a bare `node -e 0` here.
 */
export class OptionReader {
  constructor(
    private readonly raw: Record<string, unknown>,
    /** Where these options live in the config, e.g. `providers.swarm`. */
    private readonly where: string,
  ) {}

  private fail(key: string, what: string): never {
    throw new WardenError('CONFIG_INVALID', `${this.where}.${key}: ${what}`);
  }

  string(key: string): string | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') this.fail(key, 'must be a non-empty string');
    return v;
  }

  boolean(key: string): boolean | undefined {
    const v = this.raw[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(key, 'must be true or false');
    return v;
  }

  /** Rejects keys this backend does not know, so a typo is an error rather than a silent default. */
  only(...known: string[]): this {
    for (const key of Object.keys(this.raw)) {
      if (key !== 'type' && !known.includes(key))
        this.fail(key, `unknown option (known: ${known.join(', ') || 'none'})`);
    }
    return this;
  }
}
