// zod is restricted in src/ because a static import would load it for every command of the
// one-bundle CLI; this module is imported only where the gateway's config is read, off the
// per-call path and off `secret get`'s start-up.
// eslint-disable-next-line @typescript-eslint/no-restricted-imports
import { z } from 'zod';
import { WardenError } from '../../../errors.js';
import { globMatcher } from '../../pipeline.js';

/**
 * `gateway.auth.oauth`: the gateway as an OAuth 2.1 resource server (MCP authorization,
 * 2025-06-18 and later). Access tokens are JWTs from one issuer, checked against its JWKS.
 *
 * ```yaml
 * gateway:
 *   auth:
 *     oauth:
 *       issuer: https://auth.example.com/realms/mcp
 *       resource: https://mcp.example.com/mcp     # this gateway's canonical URL
 *       audience: https://mcp.example.com/mcp     # default: resource
 *       jwksUri: https://auth.example.com/...    # default: from the issuer's metadata
 *       requiredScopes: [mcp]
 *       scopes:                                   # a token gets the union of its scopes'
 *         mcp:github: { servers: [github] }       # grants; a scope not listed grants nothing
 *         mcp:slack:  { servers: [slack] }
 *         mcp:admin:  { allowDestructive: true }
 *         # mcp:read: { tools: ["*__list_*"] } would be refused next to mcp:github (checkUnions)
 * ```
 */
export interface OAuthOptions {
  /** The authorization server's issuer identifier, exactly as its tokens' `iss` says. */
  issuer: string;
  /** The canonical URL of this gateway (RFC 8707 resource; RFC 9728 `resource`). */
  resource: string;
  /** Accepted `aud` values (any one of them). */
  audience: readonly string[];
  /** Where the keys are; undefined: discovered from the issuer's metadata. */
  jwksUri?: string;
  /** Every token must hold all of these. */
  requiredScopes: readonly string[];
  /** What each scope grants; undefined: a valid token grants everything. */
  scopes?: ReadonlyMap<string, ScopeGrant>;
  /** Advertised in the Protected Resource Metadata. */
  scopesSupported: readonly string[];
  /** Leeway for `exp` and `nbf`. */
  clockToleranceSeconds: number;
}

/** What one scope grants; an unset field grants everything on that axis. */
export interface ScopeGrant {
  servers?: readonly string[];
  tools?: readonly string[];
  allowDestructive?: boolean;
}

// RFC 6749 scope-token: printable ASCII but space, `"` and `\` (so it sits in a quoted header
// parameter as it is).
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

/** An absolute http(s) URL without credentials or fragment; http only for loopback when `tls`. */
function url(tls: boolean) {
  return z.string().superRefine((s, ctx) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      ctx.addIssue({ code: 'custom', message: `not an absolute URL: "${s}"` });
      return;
    }
    const problem =
      u.protocol !== 'https:' && u.protocol !== 'http:'
        ? 'an https URL'
        : tls && u.protocol === 'http:' && !isLoopbackHost(u.hostname)
          ? 'an https URL (http only for a loopback address)'
          : u.username || u.password
            ? 'a URL without credentials'
            : u.hash
              ? 'a URL without a fragment'
              : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: `must be ${problem}` });
  });
}

const scope = z.string().regex(SCOPE_TOKEN, 'a scope: printable ASCII without spaces, quotes or backslashes');
const names = z.array(z.string().min(1)).min(1, 'at least one entry (leave the field out for all)');

const schema = z
  .object({
    issuer: url(true),
    resource: url(false).optional(),
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    jwksUri: url(true).optional(),
    requiredScopes: z.array(scope).optional(),
    scopes: z
      .record(
        scope,
        z
          .object({
            servers: names.optional(),
            tools: names.optional(),
            allowDestructive: z.boolean().optional(),
          })
          .strict(),
      )
      .optional(),
    scopesSupported: z.array(scope).optional(),
    clockToleranceSeconds: z.number().min(0).max(300).optional(),
  })
  .strict();

const SECTION = 'gateway.auth.oauth';

/**
 * Reads `gateway.auth.oauth`. `fallback.resource` is the gateway's own URL when the section
 * names none (the lead derives it from `gateway.http`); without either, the section is refused,
 * because the audience a token must carry cannot be guessed.
 */
export function parseOAuth(raw: unknown, fallback: { resource?: string } = {}): OAuthOptions {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = [SECTION, ...issue.path.map(String)].join('.');
    throw new WardenError('CONFIG_INVALID', `${where}: ${issue.message}`);
  }
  const o = parsed.data;
  const resource = o.resource ?? fallback.resource;
  if (resource === undefined)
    throw new WardenError(
      'CONFIG_INVALID',
      `${SECTION}.resource: required: the URL clients reach this gateway at (for example https://mcp.example.com/mcp); tokens must be issued for it`,
    );
  const scopes = o.scopes ? new Map(Object.entries(o.scopes).map(([k, g]) => [k, normalise(g)])) : undefined;
  if (scopes) checkUnions(scopes);
  const requiredScopes = o.requiredScopes ?? [];
  return {
    issuer: o.issuer,
    resource,
    audience: o.audience === undefined ? sameResource(resource) : [o.audience].flat(),
    ...(o.jwksUri !== undefined && { jwksUri: o.jwksUri }),
    requiredScopes,
    ...(scopes && { scopes }),
    scopesSupported: o.scopesSupported ?? [...new Set([...requiredScopes, ...(scopes?.keys() ?? [])])],
    clockToleranceSeconds: o.clockToleranceSeconds ?? 30,
  };
}

/** The resource as written and with or without its trailing slash: one gateway either way. */
function sameResource(resource: string): string[] {
  const bare = resource.replace(/\/+$/, '');
  return [...new Set([resource, bare, `${bare}/`])];
}

/** `tools: ['*']` is every tool: the same as leaving it out, which the union check relies on. */
function normalise(g: ScopeGrant): ScopeGrant {
  return {
    ...(g.servers && { servers: [...new Set(g.servers)] }),
    ...(g.tools && !g.tools.includes('*') && { tools: [...new Set(g.tools)] }),
    ...(g.allowDestructive && { allowDestructive: true }),
  };
}

/**
 * A token's rights are the union of its scopes' grants, but a gateway client carries one server
 * list, one tool list and one destructive flag: the union of `{servers: [github]}` and
 * `{tools: ['*__read*']}` would come out as every tool on every server. The union of grants is
 * exact when each pair is nested or differs on one axis only (then so is the union of any
 * number of them), so a map where some pair is neither is refused here, not over-granted later.
 * Tool globs are compared by text (globsWithin), which can only refuse more, never grant more.
 */
function checkUnions(scopes: ReadonlyMap<string, ScopeGrant>): void {
  const all = [...scopes];
  for (let i = 0; i < all.length; i++)
    for (let j = i + 1; j < all.length; j++) {
      const [a, ga] = all[i]!;
      const [b, gb] = all[j]!;
      if (unionIsExact(ga, gb)) continue;
      throw new WardenError(
        'CONFIG_INVALID',
        `${SECTION}.scopes: "${a}" and "${b}" limit different things (servers, tools, allowDestructive), so a token holding both would get more than either grants; make one include the other, let them differ in one field only, or express a server as tool globs ("github__*")`,
      );
    }
}

function unionIsExact(a: ScopeGrant, b: ScopeGrant): boolean {
  const within = [
    [listWithin(a.servers, b.servers), listWithin(b.servers, a.servers)],
    [globsWithin(a.tools, b.tools), globsWithin(b.tools, a.tools)],
    [!a.allowDestructive || !!b.allowDestructive, !b.allowDestructive || !!a.allowDestructive],
  ] as const;
  if (within.every(([ab]) => ab) || within.every(([, ba]) => ba)) return true;
  return within.filter(([ab, ba]) => !(ab && ba)).length <= 1;
}

/** `a` ⊆ `b`, where undefined is everything. */
function listWithin(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (b === undefined) return true;
  if (a === undefined) return false;
  return a.every((x) => b.includes(x));
}

/**
 * Every name `a` matches, `b` matches too: each glob of `a` is one of `b`, or is matched, as
 * text, by a glob of `b` without `?` (its `*`s then absorb whatever `a`'s wildcards stand for:
 * `files__*` covers `files__read_*`). Exposed names never contain `*` or `?`.
 */
function globsWithin(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (b === undefined) return true;
  if (a === undefined) return false;
  const covers = b.filter((g) => !g.includes('?')).map((g) => globMatcher([g]));
  return a.every((x) => b.includes(x) || covers.some((m) => m(x)));
}

/** The union of the grants of `granted` scopes (exact: see checkUnions). */
export function grantOf(
  scopes: ReadonlyMap<string, ScopeGrant>,
  granted: readonly string[],
): { servers?: readonly string[]; tools?: readonly string[]; allowDestructive: boolean } | undefined {
  let any = false;
  let servers: Set<string> | undefined = new Set();
  let tools: Set<string> | undefined = new Set();
  let allowDestructive = false;
  for (const name of granted) {
    const g = scopes.get(name);
    if (!g) continue;
    any = true;
    if (!g.servers) servers = undefined;
    else if (servers) for (const s of g.servers) servers.add(s);
    if (!g.tools) tools = undefined;
    else if (tools) for (const t of g.tools) tools.add(t);
    if (g.allowDestructive) allowDestructive = true;
  }
  if (!any) return undefined;
  return {
    ...(servers && { servers: [...servers] }),
    ...(tools && { tools: [...tools] }),
    allowDestructive,
  };
}

/** RFC 9728 Protected Resource Metadata for this gateway. */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported?: string[];
  bearer_methods_supported: ['header'];
  resource_name: string;
}

export function protectedResourceMetadata(opts: OAuthOptions): ProtectedResourceMetadata {
  return {
    resource: opts.resource,
    authorization_servers: [opts.issuer],
    ...(opts.scopesSupported.length > 0 && { scopes_supported: [...opts.scopesSupported] }),
    bearer_methods_supported: ['header'],
    resource_name: 'mcp-warden gateway',
  };
}

/**
 * Where the metadata of `resource` is (RFC 9728 §3.1): `/.well-known/oauth-protected-resource`
 * inserted between the host and the path, `https://h/mcp` giving
 * `https://h/.well-known/oauth-protected-resource/mcp`.
 */
export function metadataUrl(resource: string): string {
  const u = new URL(resource);
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.origin}/.well-known/oauth-protected-resource${path}`;
}
