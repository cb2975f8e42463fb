import { ownerOf, type Identity, type InFlight, type ListKind } from './identity.js';
import {
  INVALID_PARAMS,
  METHOD_NOT_FOUND,
  REQUEST_CANCELLED,
  RESOURCE_NOT_FOUND,
  SERVER_UNAVAILABLE,
  errorResponse,
  resultResponse,
  type Id,
  type Meta,
  type Notification,
  type Params,
  type Request,
  type Response,
} from './jsonrpc.js';
import type { Target } from './names.js';
import type { Session } from './session.js';
import type { Upstream } from './upstream.js';

/**
 * The JSON-RPC router: what the gateway answers itself (initialize, ping, the merged lists) and
 * how everything else is forwarded to the one server it is for, with names, URIs, ids and
 * progress tokens mapped on the way out and back. Messages a server sends of its own accord go
 * to the session whose request it is working on.
 */
export const PROTOCOL_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;
/** The stateless revision: spoken over HTTP without a session, never negotiated by initialize. */
export const STATELESS_VERSION = '2026-07-28';

export const SERVER_INFO = { name: 'mcp-warden', title: 'mcp-warden gateway', version: '0.1.0' };

export const CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

interface ServerRequest {
  upstream: Upstream;
  id: Id;
  session: Session;
}

export interface RouterOptions {
  pageSize: number;
  /** The identity owning shared servers, and every identity (a shared server reaches them all). */
  shared(): Identity;
  identities(): Iterable<Identity>;
}

const LIST_METHODS: Record<string, { kind: 'tools' | 'prompts' | 'resources' | 'templates'; field: string }> =
  {
    'tools/list': { kind: 'tools', field: 'tools' },
    'prompts/list': { kind: 'prompts', field: 'prompts' },
    'resources/list': { kind: 'resources', field: 'resources' },
    'resources/templates/list': { kind: 'templates', field: 'resourceTemplates' },
  };

export class Router {
  private readonly opts: RouterOptions;
  private readonly serverRequests = new Map<string, ServerRequest>();
  private counter = 0;

  constructor(opts: RouterOptions) {
    this.opts = opts;
  }

  /** The last stage of the pipeline: answers one client request. */
  async handle(session: Session, req: Request): Promise<Response> {
    const identity = session.identity;
    session.lastSeen = Date.now();
    const params: Params = req.params ?? {};
    const list = LIST_METHODS[req.method];
    if (list) return this.page(req, params, list.field, await identity.list(list.kind));
    switch (req.method) {
      case 'tools/call':
      case 'prompts/get': {
        const kind = req.method === 'tools/call' ? 'tools' : 'prompts';
        if (typeof params.name !== 'string')
          return errorResponse(req.id, INVALID_PARAMS, 'params.name must be a string');
        // The table answers without a wait once the client has listed; else it is rebuilt.
        const target =
          (kind === 'tools' ? identity.tools : identity.prompts).get(params.name) ??
          (await identity.resolveName(kind, params.name));
        if (!target)
          return errorResponse(
            req.id,
            INVALID_PARAMS,
            `${kind === 'tools' ? 'Tool' : 'Prompt'} ${params.name} not found`,
          );
        return this.forward(session, req, target, { ...params, name: target.name });
      }
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        if (typeof params.uri !== 'string')
          return errorResponse(req.id, INVALID_PARAMS, 'params.uri must be a string');
        const target = await identity.resolveUri(params.uri);
        if (!target) return errorResponse(req.id, RESOURCE_NOT_FOUND, `Resource ${params.uri} not found`);
        if (req.method === 'resources/subscribe') session.subscriptions.add(params.uri);
        if (req.method === 'resources/unsubscribe') session.subscriptions.delete(params.uri);
        const res = await this.forward(session, req, target, { ...params, uri: target.name });
        if (req.method === 'resources/read') this.exposeContents(identity, target.server, res);
        return res;
      }
      case 'completion/complete':
        return this.complete(session, req, params);
      case 'logging/setLevel':
        return this.setLevel(session, req, params);
      case 'ping':
        return resultResponse(req.id, {});
      case 'initialize':
        return this.initialize(session, req, params);
      default:
        return errorResponse(req.id, METHOD_NOT_FOUND, `Method not found: ${req.method}`);
    }
  }

  private initialize(session: Session, req: Request, params: Params): Response {
    const asked = typeof params.protocolVersion === 'string' ? params.protocolVersion : '';
    session.protocolVersion = (PROTOCOL_VERSIONS as readonly string[]).includes(asked)
      ? asked
      : PROTOCOL_VERSIONS[0];
    if (params.capabilities && typeof params.capabilities === 'object')
      session.clientCapabilities = params.capabilities as Record<string, unknown>;
    if (params.clientInfo && typeof params.clientInfo === 'object') session.clientInfo = params.clientInfo;
    session.identity.setClientCapabilities(session.clientCapabilities);
    session.identity.startEager();
    return resultResponse(req.id, {
      protocolVersion: session.protocolVersion,
      capabilities: CAPABILITIES,
      serverInfo: SERVER_INFO,
      instructions:
        'mcp-warden fronts several MCP servers; tool and prompt names are prefixed with their server.',
    });
  }

  private page(req: Request, params: Params, field: string, all: Record<string, unknown>[]): Response {
    let offset = 0;
    if (params.cursor !== undefined) {
      const n =
        typeof params.cursor === 'string' ? Number(Buffer.from(params.cursor, 'base64url').toString()) : NaN;
      if (!Number.isInteger(n) || n < 0 || n > all.length)
        return errorResponse(req.id, INVALID_PARAMS, 'Invalid cursor');
      offset = n;
    }
    const end = offset + this.opts.pageSize;
    const result: Record<string, unknown> = { [field]: all.slice(offset, end) };
    if (end < all.length) result.nextCursor = Buffer.from(String(end)).toString('base64url');
    return resultResponse(req.id, result);
  }

  private async complete(session: Session, req: Request, params: Params): Promise<Response> {
    const ref = params.ref as { type?: string; name?: string; uri?: string } | undefined;
    let target: Target | undefined;
    let mapped: Record<string, unknown> | undefined;
    if (ref?.type === 'ref/prompt' && typeof ref.name === 'string') {
      target = await session.identity.resolveName('prompts', ref.name);
      if (target) mapped = { ...ref, name: target.name };
    } else if (ref?.type === 'ref/resource' && typeof ref.uri === 'string') {
      target = await session.identity.resolveUri(ref.uri);
      // A template's URI is not a resource: pass it on as it is.
      if (target) mapped = { ...ref, uri: target.name };
    } else return errorResponse(req.id, INVALID_PARAMS, 'params.ref must be a ref/prompt or ref/resource');
    if (!target || !mapped)
      return errorResponse(req.id, INVALID_PARAMS, 'no server offers that prompt or resource');
    return this.forward(session, req, target, { ...params, ref: mapped });
  }

  private async setLevel(session: Session, req: Request, params: Params): Promise<Response> {
    const ups = await session.identity.readyAll();
    await Promise.all(
      ups
        .filter((u) => u.info.capabilities.logging !== undefined)
        .map((u) => u.call('logging/setLevel', params)),
    );
    return resultResponse(req.id, {});
  }

  /** Sends a request to the server `target` names and answers with its response, id restored. */
  async forward(session: Session, req: Request, target: Target, params: Params): Promise<Response> {
    const running = session.identity.upstream(target.server);
    const up = running?.state === 'ready' ? running : await session.identity.ready(target.server);
    if (!up) return errorResponse(req.id, SERVER_UNAVAILABLE, `server "${target.server}" is not available`);
    // In-flight calls are kept by the server's owner, which is who hears from the server.
    const identity = ownerOf.get(up)!;
    const entry: InFlight = {
      session,
      clientId: req.id,
      upstreamId: 0,
      upstream: up,
      settle: () => undefined,
    };
    const meta = params._meta;
    if (meta?.progressToken !== undefined) {
      const ours = `p${++this.counter}`;
      entry.progress = { client: meta.progressToken, ours };
      identity.progress.set(ours, entry);
      params = { ...params, _meta: { ...meta, progressToken: ours } satisfies Meta };
    }
    return new Promise<Response>((resolve) => {
      let answered = false;
      entry.settle = (res) => {
        if (answered) return;
        answered = true;
        identity.untrack(entry);
        res.id = req.id;
        resolve(res);
      };
      const outgoing: Request = { jsonrpc: '2.0', id: req.id, method: req.method, params };
      entry.upstreamId = up.forward(outgoing, entry.settle);
      // forward() may have answered at once (server gone): only track what is still open.
      if (!answered) identity.track(entry);
    });
  }

  /** A resource's contents carry the server's URIs: show them as the client knows them. */
  private exposeContents(identity: Identity, server: string, res: Response): void {
    const contents = res.result?.contents;
    if (!Array.isArray(contents)) return;
    for (const c of contents as Record<string, unknown>[])
      if (typeof c.uri === 'string') c.uri = identity.exposedUri(server, c.uri);
  }

  /** The client cancelled a request (or went away before its answer). */
  cancel(session: Session, clientId: Id, reason?: string): void {
    for (const owner of [session.identity, this.opts.shared()])
      for (const byId of owner.inFlight.values()) {
        for (const e of byId.values()) {
          if (e.session !== session || e.clientId !== clientId) continue;
          owner.untrack(e);
          e.upstream.notify({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: e.upstreamId, ...(reason !== undefined && { reason }) },
          });
          e.upstream.abandon(e.upstreamId);
          e.settle(errorResponse(clientId, REQUEST_CANCELLED, reason ?? 'Request cancelled'));
          return;
        }
      }
  }

  /** A client notification: cancellation is mapped; roots changes go to every server. */
  notification(session: Session, n: Notification): void {
    if (n.method === 'notifications/cancelled') {
      const id = n.params?.requestId;
      if (typeof id === 'string' || typeof id === 'number')
        this.cancel(session, id, typeof n.params?.reason === 'string' ? n.params.reason : undefined);
      return;
    }
    if (n.method === 'notifications/roots/list_changed')
      for (const up of session.identity.upstreams.values()) up.notify(n);
    // (A shared server is not told: one client's roots are not the others'.)
    // notifications/initialized and anything else: nothing to route.
  }

  /** The client answered one of the servers' requests. */
  clientResponse(session: Session, res: Response): void {
    if (typeof res.id !== 'string') return;
    const pending = this.serverRequests.get(res.id);
    if (!pending || pending.session !== session) return;
    this.serverRequests.delete(res.id);
    pending.upstream.respond(pending.id, res);
  }

  /** A message a server sent of its own accord. */
  fromServer(identity: Identity, up: Upstream, m: Request | Notification): void {
    if ('id' in m && m.id !== undefined && m.id !== null) return this.serverRequest(identity, up, m);
    const params = m.params ?? {};
    switch (m.method) {
      case 'notifications/progress': {
        const entry =
          typeof params.progressToken === 'string' ? identity.progress.get(params.progressToken) : undefined;
        if (entry)
          entry.session.sink.deliver(
            { ...m, params: { ...params, progressToken: entry.progress!.client } },
            entry.clientId,
          );
        return;
      }
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        for (const id of this.reached(identity)) {
          id.invalidate(up.name);
          this.listChanged(id, [m.method.split('/')[1] as ListKind]);
        }
        return;
      case 'notifications/resources/updated': {
        if (typeof params.uri !== 'string') return;
        for (const id of this.reached(identity)) {
          const uri = id.exposedUri(up.name, params.uri);
          const out = uri === params.uri ? m : { ...m, params: { ...params, uri } };
          for (const s of id.sessions) if (!s.closed && s.subscriptions.has(uri)) s.sink.deliver(out);
        }
        return;
      }
      case 'notifications/cancelled': {
        // The server gave up on a request it sent to the client.
        for (const [gid, pending] of this.serverRequests) {
          if (pending.upstream !== up || pending.id !== params.requestId) continue;
          this.serverRequests.delete(gid);
          pending.session.sink.deliver({ ...m, params: { ...params, requestId: gid } });
        }
        return;
      }
      default: {
        // Logging and the rest: to the request it is working on, else to the identity's sessions.
        const entry = identity.newestInFlight(up);
        if (entry) entry.session.sink.deliver(m, entry.clientId);
        else
          for (const id of this.reached(identity))
            for (const s of id.sessions) if (!s.closed) s.sink.deliver(m);
      }
    }
  }

  private serverRequest(identity: Identity, up: Upstream, m: Request): void {
    if (m.method === 'ping') return up.respond(m.id, resultResponse(m.id, {}));
    const entry = identity.newestInFlight(up);
    const session = entry?.session ?? (identity.isShared ? undefined : identity.latestSession());
    const capability = m.method.startsWith('sampling/')
      ? 'sampling'
      : m.method.startsWith('elicitation/')
        ? 'elicitation'
        : m.method.startsWith('roots/')
          ? 'roots'
          : undefined;
    if (
      !session ||
      !session.sink.canReceiveRequests() ||
      (capability !== undefined && session.clientCapabilities[capability] === undefined)
    ) {
      up.respond(m.id, errorResponse(m.id, METHOD_NOT_FOUND, `the client cannot answer ${m.method}`));
      return;
    }
    const gid = `w${++this.counter}`;
    this.serverRequests.set(gid, { upstream: up, id: m.id, session });
    if (!session.sink.deliver({ ...m, id: gid }, entry?.clientId)) {
      this.serverRequests.delete(gid);
      up.respond(m.id, errorResponse(m.id, METHOD_NOT_FOUND, `the client cannot answer ${m.method}`));
    }
  }

  /** The identities a server's message concerns: its owner, or all of them for a shared one. */
  private reached(owner: Identity): Iterable<Identity> {
    return owner.isShared ? this.opts.identities() : [owner];
  }

  listChanged(identity: Identity, kinds: readonly ListKind[]): void {
    for (const kind of kinds) {
      const n: Notification = { jsonrpc: '2.0', method: `notifications/${kind}/list_changed` };
      for (const s of identity.sessions) if (!s.closed) s.sink.deliver(n);
    }
  }

  /** A session ended: the servers' questions to it get an answer, and its requests are cancelled. */
  sessionClosed(session: Session): void {
    for (const [gid, pending] of this.serverRequests) {
      if (pending.session !== session) continue;
      this.serverRequests.delete(gid);
      pending.upstream.respond(
        pending.id,
        errorResponse(pending.id, SERVER_UNAVAILABLE, 'the client went away'),
      );
    }
    for (const owner of [session.identity, this.opts.shared()])
      for (const byId of owner.inFlight.values())
        for (const e of [...byId.values()])
          if (e.session === session) this.cancel(session, e.clientId, 'client went away');
  }
}
