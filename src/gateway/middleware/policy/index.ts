import { WardenError } from '../../../errors.js';
import type { Identity, ToolInfo } from '../../identity.js';
import { POLICY_DENIED, errorResponse, type Response } from '../../jsonrpc.js';
import { globMatcher, type CallContext, type Client, type Stage } from '../../pipeline.js';
import { NameCache, compileTiers, type Annotations, type Tier } from './tiers.js';

export { TIERS, compileTiers, tierOfAnnotations, type Annotations, type Tier } from './tiers.js';

/**
 * The safety policy (`gateway.safety`): which tools a client may call and see.
 *
 * A tool call is refused (POLICY_DENIED, audit `policy_denied`, HTTP 403) when the tool is in
 * `deny`, is outside the client's tool globs, belongs to a server the client may not reach, or
 * is destructive while destructive calls are allowed neither globally (`allowDestructive`), nor
 * for the client (`allowDestructiveFor`, or its key's `allowDestructive`). A tool the server does
 * not offer is passed on: the router answers "not found". `tools/list` answers only the tools the
 * client could call, judged by the same rule from the listed items' own annotations; the
 * prompt and resource lists, `prompts/get` and `resources/read` are held to the client's
 * servers too (the identity already hides the others; this is a cheap second fence).
 */
export interface SafetyOptions {
  /** Destructive tools may be called by every client. Default false. */
  allowDestructive: boolean;
  /** Tier overrides: glob over exposed names → tier; first match wins, before any annotation. */
  tiers: readonly (readonly [glob: string, tier: Tier])[];
  /** Tools nobody may call (globs over exposed names). */
  deny: readonly string[];
  /** Client ids that may call destructive tools. */
  allowDestructiveFor: readonly string[];
  /** The tier of a tool with no destructiveHint and no readOnlyHint: true (see tiers.ts). */
  unannotated: 'moderate' | 'destructive';
}

export const SAFETY_DEFAULTS: SafetyOptions = {
  allowDestructive: false,
  tiers: [],
  deny: [],
  allowDestructiveFor: [],
  unannotated: 'moderate',
};

type Verdict = 'deny-list' | 'client-tools' | 'server' | 'destructive';

/** What the policy concluded about one client, compiled when the client is first seen. */
interface ClientRules {
  tools: ((name: string) => boolean) | undefined;
  servers: ReadonlySet<string> | undefined;
  destructiveOk: boolean;
}

export function policy(options: Partial<SafetyOptions> = {}): Stage {
  const opts = { ...SAFETY_DEFAULTS, ...options };
  for (const [key, list] of [
    ['deny', opts.deny],
    ['allowDestructiveFor', opts.allowDestructiveFor],
  ] as const)
    if (!Array.isArray(list) || list.some((g) => typeof g !== 'string' || g === ''))
      throw new WardenError('CONFIG_INVALID', `gateway.safety.${key}: must be a list of non-empty strings`);
  if (typeof opts.allowDestructive !== 'boolean')
    throw new WardenError('CONFIG_INVALID', 'gateway.safety.allowDestructive: must be true or false');
  const tierOf = compileTiers(opts.tiers, opts.unannotated);
  const denied = new NameCache(globMatcher(opts.deny));
  const destructiveFor = new Set(opts.allowDestructiveFor);
  const perClient = new WeakMap<Client, ClientRules>();

  const rulesOf = (client: Client): ClientRules => {
    let r = perClient.get(client);
    if (!r) {
      r = {
        tools: client.tools ? globMatcher(client.tools) : undefined,
        servers: client.servers ? new Set(client.servers) : undefined,
        destructiveOk:
          opts.allowDestructive || client.allowDestructive === true || destructiveFor.has(client.id),
      };
      perClient.set(client, r);
    }
    return r;
  };

  const judge = (
    rules: ClientRules,
    name: string,
    server: string | undefined,
    annotations: Annotations | undefined,
  ): Verdict | undefined => {
    if (denied.get(name)) return 'deny-list';
    if (rules.tools && !rules.tools(name)) return 'client-tools';
    if (rules.servers && server !== undefined && !rules.servers.has(server)) return 'server';
    if (!rules.destructiveOk && tierOf(name, annotations) === 'destructive') return 'destructive';
    return undefined;
  };

  /** A call to a tool the identity has described: allowed (on to `next`) or denied. */
  const decide = (
    ctx: CallContext,
    next: () => Promise<Response>,
    name: string,
    info: ToolInfo,
  ): Promise<Response> => {
    const verdict = judge(rulesOf(ctx.client), name, info.server, info.annotations);
    if (!verdict) return next();
    // A name no server listed (the router guesses its server from the prefix) is the client's
    // own text, which may be anything, a token included: it stays out of the message and the
    // audit's reason.
    const label = ctx.session.identity.tools.get(name) ? `tool ${name}` : `a tool of server ${info.server}`;
    return Promise.resolve(deny(ctx, toolMessage(label, info.server, verdict), verdict));
  };

  // Not async: the common case, a call to a listed tool, is decided at once, with no promise.
  return function policy(ctx: CallContext, next: () => Promise<Response>): Promise<Response> {
    const req = ctx.request;
    if (req.method === 'tools/call') {
      const name = req.params?.name;
      if (typeof name !== 'string') return next();
      const info = ctx.session.identity.toolInfoNow(name);
      if (info) return decide(ctx, next, name, info);
    }
    return slow(ctx, next);
  };

  async function slow(ctx: CallContext, next: () => Promise<Response>): Promise<Response> {
    const req = ctx.request;
    switch (req.method) {
      case 'tools/call': {
        const name = req.params?.name as string;
        const info = await ctx.session.identity.toolInfo(name);
        return info ? decide(ctx, next, name, info) : next();
      }
      case 'tools/list': {
        const res = await next();
        const rules = rulesOf(ctx.client);
        const identity = ctx.session.identity;
        return keep(res, 'tools', (item) => {
          const name = item.name;
          if (typeof name !== 'string') return false;
          const annotations =
            item.annotations && typeof item.annotations === 'object'
              ? (item.annotations as Annotations)
              : undefined;
          return judge(rules, name, identity.tools.get(name)?.server, annotations) === undefined;
        });
      }
      case 'prompts/list':
      case 'resources/list': {
        const res = await next();
        const servers = rulesOf(ctx.client).servers;
        if (!servers) return res;
        const identity = ctx.session.identity;
        const prompts = req.method === 'prompts/list';
        return keep(res, prompts ? 'prompts' : 'resources', (item) => {
          const server = serverOfItem(identity, prompts, prompts ? item.name : item.uri);
          return server === undefined || servers.has(server);
        });
      }
      case 'prompts/get':
      case 'resources/read': {
        const servers = rulesOf(ctx.client).servers;
        if (!servers) return next();
        const prompts = req.method === 'prompts/get';
        const key = prompts ? req.params?.name : req.params?.uri;
        const server = serverOfItem(ctx.session.identity, prompts, key);
        if (server === undefined || servers.has(server)) return next();
        return deny(
          ctx,
          `${prompts ? 'prompt' : 'resource'} ${String(key)} belongs to server ${server}, which this client may not reach`,
          'server',
        );
      }
      default:
        return next();
    }
  }
}

function toolMessage(label: string, server: string, verdict: Verdict): string {
  switch (verdict) {
    case 'deny-list':
      return `${label} is denied by gateway.safety.deny`;
    case 'client-tools':
      return `${label} is not among the tools this client may call`;
    case 'server':
      return `${label} belongs to server ${server}, which this client may not reach`;
    case 'destructive':
      return (
        `${label} is destructive; calls to it are denied (allow with gateway.safety.allowDestructive, ` +
        `gateway.safety.allowDestructiveFor or the client key's allowDestructive)`
      );
  }
}

function deny(ctx: CallContext, reason: string, verdict: Verdict): Response {
  ctx.denial = { event: 'policy_denied', status: 403, reason };
  return errorResponse(ctx.request.id, POLICY_DENIED, reason, { reason: verdict });
}

/** The response with its list narrowed to the items `ok` keeps (the same object if all are kept). */
function keep(res: Response, field: string, ok: (item: Record<string, unknown>) => boolean): Response {
  const list = res.result?.[field];
  if (!Array.isArray(list)) return res;
  const kept = (list as Record<string, unknown>[]).filter((item) => item !== null && ok(item));
  return kept.length === list.length ? res : { ...res, result: { ...res.result, [field]: kept } };
}

/** The server of a listed prompt (by exposed name) or resource (by exposed URI), from the tables. */
function serverOfItem(identity: Identity, prompt: boolean, key: unknown): string | undefined {
  if (typeof key !== 'string') return undefined;
  return prompt ? identity.prompts.get(key)?.server : identity.resources.get(key)?.server;
}
