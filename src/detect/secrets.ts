/**
 * Recognising plaintext secrets: by the shape of a value (a GitHub token, an AWS key id, a
 * private key) and by the name of the setting that holds it (`*_TOKEN`, `*PASSWORD*`). Used by
 * `scan` and `import` now, and by the gateway's leak guard later. Reports never carry the value,
 * only a masked hint.
 */
export interface Shape {
  id: string;
  label: string;
  /** Unanchored: finds the token inside a longer string such as `Bearer ...` or `--key=...`. */
  re: RegExp;
}

export const SHAPES: readonly Shape[] = [
  {
    id: 'github',
    label: 'GitHub token',
    re: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})\b/,
  },
  { id: 'gitlab', label: 'GitLab token', re: /\bglpat-[A-Za-z0-9_-]{20,}\b/ },
  { id: 'anthropic', label: 'Anthropic API key', re: /\bsk-ant-[A-Za-z0-9_-]{20,}/ },
  { id: 'openai', label: 'OpenAI API key', re: /\bsk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/ },
  { id: 'slack', label: 'Slack token', re: /\bxox[abposr]-[A-Za-z0-9-]{10,}/ },
  { id: 'aws', label: 'AWS access key id', re: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { id: 'stripe', label: 'Stripe key', re: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}/ },
  { id: 'google', label: 'Google API key', re: /\bAIza[0-9A-Za-z_-]{35}\b/ },
  { id: 'linear', label: 'Linear API key', re: /\blin_api_[A-Za-z0-9]{20,}/ },
  { id: 'notion', label: 'Notion token', re: /\b(?:ntn_|secret_)[A-Za-z0-9]{30,}/ },
  { id: 'private-key', label: 'private key', re: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/ },
  { id: 'jwt', label: 'JWT', re: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
];

/** Setting names that hold secrets: API_KEY, GITHUB_TOKEN, DB_PASSWORD, CLIENT_SECRET, Authorization. */
const SECRET_KEY =
  /(?:^|[_-])(?:KEY|TOKEN|PAT|PASS|PWD)$|SECRET|PASSW(?:OR)?D|API_?KEY|ACCESS_?KEY|CREDENTIAL|^AUTHORIZATION$|^X-API-KEY$/i;

/** Values that are clearly not secrets: references, placeholders, variables of the client. */
const NOT_A_VALUE =
  /^(?:secret:\/\/|\$\{|\$[A-Z_]+$|<[^>]*>$|%[A-Z_]+%$)|^(?:your[-_ ]?.*|x{3,}|changeme|todo|none|null|true|false|\*+)$/i;

export interface Finding {
  /** Why: the value's shape, or the setting's name. */
  reason: string;
  shape?: string;
  /** A hint that identifies the value without revealing it: its prefix class and length. */
  masked: string;
}

export function mask(value: string, shape?: Shape): string {
  const m = shape ? shape.re.exec(value) : null;
  const prefix = m ? (/^[A-Za-z]+[_-]+(?:[a-z]+[_-])?/.exec(m[0])?.[0] ?? '') : '';
  return `${prefix}${'*'.repeat(4)} (${value.length} chars)`;
}

export function shapeOf(value: string): Shape | undefined {
  return SHAPES.find((s) => s.re.test(value));
}

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A plaintext secret in `value` held by setting `key` (an env var or header name), if any. */
export function detect(key: string | undefined, value: string): Finding | undefined {
  const v = value.trim();
  if (v === '' || NOT_A_VALUE.test(v) || v.includes('secret://')) return undefined;
  const shape = shapeOf(v);
  if (shape) return { reason: shape.label, shape: shape.id, masked: mask(v, shape) };
  if (key !== undefined && isSecretKey(key) && v.length >= 4)
    return { reason: `setting named ${key}`, masked: mask(v) };
  return undefined;
}

/**
 * Secrets passed on a command line: a token-shaped argument, `--api-key=VALUE`, or the argument
 * after a flag such as `--token`. Answers the index of the argument holding the value.
 */
export function detectArgs(args: readonly string[]): Array<Finding & { index: number; flag?: string }> {
  const out: Array<Finding & { index: number; flag?: string }> = [];
  args.forEach((arg, i) => {
    const eq = /^(--?[A-Za-z0-9-]+)=(.*)$/s.exec(arg);
    const prev = args[i - 1];
    const flag = eq?.[1] ?? (prev !== undefined && /^--?[A-Za-z0-9-]+$/.test(prev) ? prev : undefined);
    const value = eq?.[2] ?? arg;
    const key = flag?.replace(/^-+/, '').replace(/-/g, '_');
    const f = detect(key, value) ?? urlPassword(value);
    if (f) out.push({ ...f, index: i, ...(flag && { flag }) });
  });
  return out;
}

/** A URL carrying a password, such as `postgresql://app:PASSWORD@host/db`. */
export function urlPassword(value: string): Finding | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s]*:[^/\s]*@/i.test(value)) return undefined;
  try {
    const u = new URL(value);
    return u.password
      ? {
          reason: 'password in a URL',
          masked: `**** (${decodeURIComponent(u.password).length} chars, in the URL)`,
        }
      : undefined;
  } catch {
    return undefined;
  }
}
