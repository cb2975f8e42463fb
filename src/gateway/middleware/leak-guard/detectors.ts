/**
 * The token-shape detectors: credentials whose format gives them away, whoever issued them. Each
 * is a precise pattern (a vendor prefix, then the exact alphabet and length) between word
 * boundaries, so ordinary text, UUIDs, git SHAs and base64 blobs do not match. All of them are
 * one regex, compiled once; which named group matched says which detector fired.
 *
 * A token right after a JSON escape in the text (`\nghp_...`, in a tool's output that is itself
 * JSON, or in a log line) counts as at a word boundary: the leading boundary accepts a `\n`,
 * `\r`, `\t`, `\b`, `\f` or `\uXXXX` escape before it as well.
 */
export const DETECTORS = [
  'github',
  'openai',
  'anthropic',
  'aws',
  'slack',
  'stripe',
  'private-key',
  'jwt',
  'mcp-warden',
] as const;
export type DetectorId = (typeof DETECTORS)[number];

/** Not preceded by a word character, unless that character ends a JSON escape (`\n`, `\u0001`). */
const START = String.raw`(?:(?<![A-Za-z0-9_])|(?<=\\[nrtbf]|\\u[0-9a-fA-F]{4}))`;
/**
 * Between a key name and its value: quotes, blanks, and their JSON escapes (`\"`, `\t`), a few.
 */
const SEP = String.raw`(?:["' \t\\]|\\t){0,8}`;
/** Not followed by a word character. */
const END = '(?![A-Za-z0-9_])';

interface Shape {
  /** The regex group; unique. */
  group: string;
  id: DetectorId;
  source: string;
  /** When only part of the match is the secret (a key name before it): that group. */
  value?: string;
}

const SHAPES: readonly Shape[] = [
  // ghp_ (classic PAT), gho_ (OAuth), ghu_ (user-to-server), ghs_ (server-to-server), ghr_
  // (refresh): 36 base62 today; GitHub reserves the right to lengthen them (up to 255).
  { group: 'github', id: 'github', source: `${START}gh[pousr]_[A-Za-z0-9]{36,251}${END}` },
  // Fine-grained PAT: github_pat_ + 22 + _ + 59.
  { group: 'githubpat', id: 'github', source: `${START}github_pat_[A-Za-z0-9_]{82,240}${END}` },
  // sk-ant-api03-..., sk-ant-admin01-..., sk-ant-oat01-...
  {
    group: 'anthropic',
    id: 'anthropic',
    source: `${START}sk-ant-[a-z]{2,12}[0-9]{2}-[A-Za-z0-9_-]{32,}${END}`,
  },
  // Project, service-account and admin keys (sk-proj-, sk-svcacct-, sk-admin-), and the legacy
  // sk- + 48 base62. A `-` after sk- other than those (sk-ant-) is not OpenAI's.
  {
    group: 'openai',
    id: 'openai',
    source: `${START}sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|[A-Za-z0-9]{32,})${END}`,
  },
  // Access key ids (long-term AKIA, temporary ASIA): 4 + 16 uppercase letters and digits.
  { group: 'aws', id: 'aws', source: `${START}(?:AKIA|ASIA)[A-Z0-9]{16}${END}` },
  // A secret access key is 40 base64 characters that look like anything else: only next to its
  // name (an env line, an ini file, JSON, YAML). Only the value is replaced.
  {
    group: 'awssecret',
    id: 'aws',
    value: 'awsvalue',
    source:
      `(?:aws_?secret_?access_?key|AWS_?SECRET_?ACCESS_?KEY|[Ss]ecret_?[Aa]ccess_?[Kk]ey)` +
      `${SEP}[:=]${SEP}` +
      `(?<awsvalue>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])`,
  },
  // Bot, user, app-level, refresh and legacy tokens.
  { group: 'slack', id: 'slack', source: `${START}xox[baprs]-[A-Za-z0-9-]{10,250}${END}` },
  { group: 'stripe', id: 'stripe', source: `${START}(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}${END}` },
  // A PEM private key of any kind (RSA, EC, OPENSSH, ENCRYPTED...), header to footer; without a
  // footer (a truncated key), the header and the base64 (or `Proc-Type:`) lines after it.
  {
    group: 'privatekey',
    id: 'private-key',
    source:
      String.raw`-----BEGIN[A-Z0-9 ]{0,32} PRIVATE KEY-----` +
      String.raw`(?:[\s\S]{0,16384}?-----END[A-Z0-9 ]{0,32} PRIVATE KEY-----` +
      String.raw`|(?:(?:\r?\n|\\r?\\n)(?:[A-Za-z0-9+/=]{1,100}|[A-Za-z-]{1,20}: [A-Za-z0-9, -]{1,100}))*)`,
  },
  // header.payload.signature, both JSON objects ({" is eyJ in base64url).
  {
    group: 'jwt',
    id: 'jwt',
    source: `${START}eyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]{16,}${END}`,
  },
  // Our own client API keys: mcpw_ + 49 base62.
  { group: 'mcpwarden', id: 'mcp-warden', source: `${START}mcpw_[A-Za-z0-9]{49}${END}` },
];

/**
 * The shortest text any shape above can match: a Slack token, `xoxb-` and 10 more characters.
 * Keep it the minimum when a shape is added (test/audit.test.ts redacts a token this short).
 */
export const MIN_SHAPE_LENGTH = 15;

const SOURCE = SHAPES.map((s) => `(?<${s.group}>${s.source})`).join('|');

/**
 * Literals at least one of which every shape above contains (gh?_, github_pat_, sk-, _live_ or
 * _test_, an AWS key id's prefix, the secret key's name, xox?-, PRIVATE KEY, eyJ, mcpw_). A text
 * without any of them holds no shape; a plain alternation of literals is far cheaper to reject
 * with than SHAPES_RE and its lookbehinds. Keep it a superset when a shape is added.
 */
const MAY_HOLD =
  /gh[pousr]_|github_pat_|sk-|_live_|_test_|AKIA|ASIA|ccess|CCESS|xox[baprs]-|PRIVATE KEY|eyJ|mcpw_/;

/** False when `text` surely holds no shape; true when SHAPES_RE must look. */
export function mayHoldShape(text: string): boolean {
  return MAY_HOLD.test(text);
}

/** For the fast check: does the text hold any shape? (Global: callers reset lastIndex.) */
export const SHAPES_RE = new RegExp(SOURCE, 'g');
/** For the rewrite: with indices, for shapes where only a group is the secret. */
export const SHAPES_RE_INDICES = new RegExp(SOURCE, 'gd');

export interface ShapeHit {
  id: DetectorId;
  start: number;
  end: number;
}

/** Which detector a match of SHAPES_RE / SHAPES_RE_INDICES is. */
export function shapeOf(m: RegExpExecArray): Shape {
  const groups = m.groups!;
  for (const s of SHAPES) if (groups[s.group] !== undefined) return s;
  /* c8 ignore next */
  throw new Error('a shape matched no group');
}

/** Every shape in `text`, with the span to replace. */
export function findShapes(text: string, skip: (id: DetectorId, matched: string) => boolean): ShapeHit[] {
  const hits: ShapeHit[] = [];
  const re = SHAPES_RE_INDICES;
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const shape = shapeOf(m);
    const span = shape.value ? m.indices!.groups![shape.value]! : [m.index, m.index + m[0].length];
    const [start, end] = span as [number, number];
    if (!skip(shape.id, text.slice(start, end))) hits.push({ id: shape.id, start, end });
  }
  return hits;
}
