import type { Gateway } from '../gateway.js';
import {
  HEADER_MISMATCH,
  INTERNAL_ERROR,
  INVALID_REQUEST,
  SERVER_UNAVAILABLE,
  SESSION_NOT_FOUND,
  UNSUPPORTED_PROTOCOL_VERSION,
  errorResponse,
  isRequest,
  isResponse,
  parseMessage,
  resultResponse,
  type Id,
  type Message,
  type Notification,
  type Request,
  type Response,
} from '../jsonrpc.js';
import { CAPABILITIES, PROTOCOL_VERSIONS, SERVER_INFO, STATELESS_VERSION } from '../router.js';
import type { Admission, CallContext, Client, Refusal } from '../pipeline.js';
import type { Session, SessionSink } from '../session.js';
import { plainIp } from '../middleware/ip-allow/address.js';
import { hostAllowed } from './origin.js';
import { createWireServer, type WireRequest, type WireResponse, type WireServer } from './wire.js';

/**
 * The HTTP fronts: Streamable HTTP at /mcp (sessions and the GET stream for 2025-03-26 to
 * 2025-11-25; no session for the stateless 2026-07-28), the legacy HTTP+SSE transport at /sse
 * and /messages, and /healthz and /readyz. Bodies are read once, parsed once, and the answer is
 * plain JSON unless the server sends something related before it (progress, a log line, a
 * sampling or elicitation request): then that request's response turns into an SSE stream.
 */
export interface HttpFrontOptions {
  host: string;
  port: number;
  /** Documents served without admission at /.well-known paths (OAuth resource metadata). */
  wellKnown?: (path: string) => object | undefined;
  /** HTTPS: PEM contents (loaded and checked by loadTls). */
  tls?: { cert: Buffer; key: Buffer };
}

export interface HttpFront {
  server: WireServer;
  url: string;
  close(): Promise<void>;
}

const ALL_VERSIONS: readonly string[] = [...PROTOCOL_VERSIONS, STATELESS_VERSION];
const SERVER_INFO_META_KEY = 'io.modelcontextprotocol/serverInfo';
const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';
const CLIENT_CAPABILITIES_META_KEY = 'io.modelcontextprotocol/clientCapabilities';
const KEEPALIVE_MS = 25_000;

const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);

/**
 * A result as the 2026-07-28 revision has it: a `resultType` (always "complete": we ask no input
 * mid-request), cache fields on cacheable results (lists here are per identity and can change,
 * so private and not to be reused), and our identity in `_meta`.
 */
function modernResult(method: string, r: Response): void {
  const result = r.result;
  if (!result) return;
  result.resultType ??= 'complete';
  if (CACHEABLE.has(method)) {
    result.ttlMs ??= 0;
    result.cacheScope ??= 'private';
  }
  const meta = (result._meta ??= {}) as Record<string, unknown>;
  meta[SERVER_INFO_META_KEY] ??= SERVER_INFO;
}

/** A POST waiting for its response; it becomes an SSE stream if something related comes first. */
interface Pending {
  res: WireResponse;
  sse: boolean;
  acceptsSse: boolean;
}

function sseEvent(res: WireResponse, m: unknown): void {
  res.write(`event: message\ndata: ${JSON.stringify(m)}\n\n`);
}

function openSse(res: WireResponse, headers: Record<string, string> = {}): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    ...headers,
  });
  res.flushHeaders();
}

/** Sends `m` on a pending POST, turning its answer into an SSE stream; false if it cannot. */
function onPost(p: Pending, m: unknown): boolean {
  if (!p.acceptsSse || p.res.writableEnded) return false;
  if (!p.sse) {
    openSse(p.res);
    p.sse = true;
  }
  sseEvent(p.res, m);
  return true;
}

class StreamSink implements SessionSink {
  readonly posts = new Map<Id, Pending>();
  get: WireResponse | undefined;
  /** Legacy HTTP+SSE: everything, responses included, goes on the one stream. */
  legacy: WireResponse | undefined;

  deliver(m: Request | Notification | Response, related?: Id): boolean {
    if (this.legacy) {
      sseEvent(this.legacy, m);
      return true;
    }
    // On the stream of the request it belongs to; else the GET stream; else any open request's.
    const p = related !== undefined ? this.posts.get(related) : undefined;
    if (p && onPost(p, m)) return true;
    if (this.get && !this.get.writableEnded) {
      sseEvent(this.get, m);
      return true;
    }
    for (const q of this.posts.values()) if (onPost(q, m)) return true;
    return false;
  }

  canReceiveRequests(): boolean {
    if (this.legacy || this.get) return true;
    for (const q of this.posts.values()) if (q.acceptsSse) return true;
    return false;
  }

  close(): void {
    this.get?.end();
    this.legacy?.end();
  }
}

function sendJson(
  res: WireResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function rpcError(
  res: WireResponse,
  status: number,
  code: number,
  message: string,
  id: Id | null = null,
): void {
  sendJson(res, status, errorResponse(id, code, message));
}

/** The body as text (the wire server has read it whole, and answered 413 over the limit). */
function readBody(req: WireRequest): string {
  return req.body().toString('utf8');
}

function accepts(req: WireRequest): { json: boolean; sse: boolean } {
  const a = req.headers.accept ?? '*/*';
  const any = a.includes('*/*');
  return { json: any || a.includes('application/json'), sse: any || a.includes('text/event-stream') };
}

function header(req: WireRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Who sent an HTTP request, as admission decided (no client: authentication is off). */
interface Caller {
  clientIp: string;
  client?: Client;
}

/** A session answers only the client that opened it (another key cannot ride on its id). */
function sameClient(owner: Client, caller: Client | undefined): boolean {
  if (owner.via === 'anonymous') return caller === undefined;
  return caller !== undefined && caller.via === owner.via && caller.id === owner.id;
}

export async function startHttp(gateway: Gateway, opts: HttpFrontOptions): Promise<HttpFront> {
  const settings = gateway.settings;
  const legacySinks = new Map<string, StreamSink>();
  /** A Streamable HTTP session by id (a legacy SSE session's id is not one), if it is the caller's. */
  const owned = (sid: string, caller: Caller) => {
    const session = legacySinks.has(sid) ? undefined : gateway.sessions.get(sid);
    return session && sameClient(session.client, caller.client) ? session : undefined;
  };

  /** An admission refusal: its status and headers, recorded in the audit. */
  function refuse(res: WireResponse, refusal: Refusal, adm: Admission): void {
    gateway.audit?.record({
      event: refusal.event,
      client_ip: adm.clientIp,
      ...(adm.client && { client_id: adm.client.id }),
      method: `${adm.method} ${adm.path}`,
      outcome: 'denied',
      reason: refusal.reason,
    });
    sendJson(res, refusal.status, refusal.body, refusal.headers);
  }

  async function respondTo(
    session: Session,
    sink: StreamSink,
    m: Request,
    caller: Caller,
    req: WireRequest,
    res: WireResponse,
    extra: Record<string, string> = {},
    shape?: (method: string, r: Response) => void,
  ) {
    const acc = accepts(req);
    const pending: Pending = { res, sse: false, acceptsSse: acc.sse };
    sink.posts.set(m.id, pending);
    let done = false;
    res.once('close', () => {
      if (!done) gateway.cancel(session, m, 'the client disconnected');
    });
    const ctx: CallContext = {
      session,
      request: m,
      front: 'http',
      client: session.client,
      clientIp: caller.clientIp,
    };
    const response = await gateway.request(ctx);
    done = true;
    shape?.(m.method, response);
    if (sink.posts.get(m.id) === pending) sink.posts.delete(m.id);
    if (res.writableEnded || res.destroyed) return;
    // Over a rate limit the answer is an HTTP 429 with Retry-After (unless the answer is already
    // a stream); other denials are JSON-RPC errors a client shows as they are.
    if (ctx.denial?.status === 429 && !pending.sse)
      return sendJson(res, 429, response, { ...extra, ...ctx.denial.headers });
    if (pending.sse || !acc.json) {
      if (!pending.sse) openSse(res, extra);
      sseEvent(res, response);
      res.end();
    } else sendJson(res, 200, response, extra);
  }

  async function post(req: WireRequest, res: WireResponse, caller: Caller): Promise<void> {
    const type = header(req, 'content-type') ?? '';
    if (!type.toLowerCase().startsWith('application/json'))
      return rpcError(
        res,
        415,
        INVALID_REQUEST,
        'Unsupported Media Type: Content-Type must be application/json',
      );
    const acc = accepts(req);
    if (!acc.json && !acc.sse)
      return rpcError(
        res,
        406,
        INVALID_REQUEST,
        'Not Acceptable: Accept must include application/json or text/event-stream',
      );
    const checked = parseMessage(readBody(req));
    if ('error' in checked) return sendJson(res, 400, checked.error);
    const m: Message = checked.message;
    const sid = header(req, 'mcp-session-id');
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !ALL_VERSIONS.includes(version))
      return rpcError(
        res,
        400,
        UNSUPPORTED_PROTOCOL_VERSION,
        `Bad Request: unsupported MCP-Protocol-Version ${version} (supported: ${ALL_VERSIONS.join(', ')})`,
        isRequest(m) ? m.id : null,
      );

    if (isRequest(m) && m.method === 'initialize') {
      if (sid !== undefined)
        return rpcError(
          res,
          400,
          INVALID_REQUEST,
          'Bad Request: initialize must not carry an Mcp-Session-Id',
          m.id,
        );
      if (gateway.draining)
        return rpcError(
          res,
          503,
          SERVER_UNAVAILABLE,
          'Service Unavailable: the gateway is shutting down',
          m.id,
        );
      const sink = new StreamSink();
      const session = gateway.openSession(sink, caller.client ? { client: caller.client } : {});
      return respondTo(session, sink, m, caller, req, res, { 'mcp-session-id': session.id });
    }
    if (sid === undefined) {
      const metaVersion = isRequest(m) ? m.params?._meta?.[PROTOCOL_VERSION_META_KEY] : undefined;
      if (
        version === STATELESS_VERSION ||
        metaVersion === STATELESS_VERSION ||
        (isRequest(m) && m.method === 'server/discover')
      )
        return statelessPost(m, version, metaVersion, caller, req, res);
      return rpcError(
        res,
        400,
        INVALID_REQUEST,
        'Bad Request: Mcp-Session-Id header is required',
        isRequest(m) ? m.id : null,
      );
    }
    const session = owned(sid, caller);
    if (!session)
      return rpcError(res, 404, SESSION_NOT_FOUND, 'Session not found', isRequest(m) ? m.id : null);
    session.lastSeen = Date.now();
    if (isRequest(m)) return respondTo(session, session.sink as StreamSink, m, caller, req, res);
    res.writeHead(202).end();
    if (isResponse(m)) gateway.clientResponse(session, m);
    else gateway.notification(session, m);
  }

  async function statelessPost(
    m: Message,
    version: string | undefined,
    metaVersion: unknown,
    caller: Caller,
    req: WireRequest,
    res: WireResponse,
  ): Promise<void> {
    if (version !== undefined && metaVersion !== undefined && metaVersion !== version)
      return rpcError(
        res,
        400,
        HEADER_MISMATCH,
        `Bad Request: MCP-Protocol-Version header ${version} does not match the one in _meta`,
        isRequest(m) ? m.id : null,
      );
    if (!isRequest(m)) {
      res.writeHead(202).end();
      return;
    }
    if (m.method === 'server/discover')
      return sendJson(
        res,
        200,
        resultResponse(m.id, {
          supportedVersions: [STATELESS_VERSION, ...PROTOCOL_VERSIONS],
          capabilities: CAPABILITIES,
          resultType: 'complete',
          ttlMs: 0,
          cacheScope: 'private',
          _meta: { [SERVER_INFO_META_KEY]: SERVER_INFO },
        }),
      );
    const sink = new StreamSink();
    // Stateless requests of one authenticated client share its servers; anonymous ones share one
    // identity (there is no session to give each its own).
    const session = gateway.openSession(
      sink,
      caller.client
        ? { client: caller.client, register: false }
        : { identityKey: 'stateless', register: false },
    );
    session.protocolVersion = STATELESS_VERSION;
    const caps = m.params?._meta?.[CLIENT_CAPABILITIES_META_KEY];
    if (caps && typeof caps === 'object') {
      session.clientCapabilities = caps as Record<string, unknown>;
      session.identity.setClientCapabilities(session.clientCapabilities);
    }
    try {
      await respondTo(session, sink, m, caller, req, res, {}, modernResult);
    } finally {
      await gateway.closeSession(session);
    }
  }

  function getStream(req: WireRequest, res: WireResponse, caller: Caller): void {
    if (!accepts(req).sse)
      return rpcError(res, 406, INVALID_REQUEST, 'Not Acceptable: Accept must include text/event-stream');
    const sid = header(req, 'mcp-session-id');
    if (sid === undefined) {
      if (header(req, 'mcp-protocol-version') === STATELESS_VERSION) {
        res.writeHead(405, { allow: 'POST' }).end();
        return;
      }
      return rpcError(res, 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
    }
    const session = owned(sid, caller);
    if (!session) return rpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
    const sink = session.sink as StreamSink;
    if (sink.get && !sink.get.writableEnded)
      return rpcError(res, 409, INVALID_REQUEST, 'Conflict: this session already has a GET stream');
    openSse(res);
    sink.get = res;
    keepAlive(res, session);
    res.once('close', () => {
      if (sink.get === res) sink.get = undefined;
    });
  }

  function keepAlive(res: WireResponse, session: Session): void {
    const timer = setInterval(() => {
      session.lastSeen = Date.now();
      res.write(': keep-alive\n\n');
    }, KEEPALIVE_MS);
    timer.unref();
    res.once('close', () => clearInterval(timer));
  }

  async function remove(req: WireRequest, res: WireResponse, caller: Caller): Promise<void> {
    const sid = header(req, 'mcp-session-id');
    if (sid === undefined)
      return rpcError(res, 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
    const session = owned(sid, caller);
    if (!session) return rpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
    session.sink.close?.();
    await gateway.closeSession(session);
    res.writeHead(200).end();
  }

  function legacyOpen(res: WireResponse, caller: Caller): void {
    if (gateway.draining)
      return rpcError(res, 503, SERVER_UNAVAILABLE, 'Service Unavailable: the gateway is shutting down');
    const sink = new StreamSink();
    const session = gateway.openSession(sink, caller.client ? { client: caller.client } : {});
    session.protocolVersion = '2024-11-05';
    legacySinks.set(session.id, sink);
    openSse(res);
    sink.legacy = res;
    res.write(`event: endpoint\ndata: /messages?sessionId=${session.id}\n\n`);
    keepAlive(res, session);
    res.once('close', () => {
      legacySinks.delete(session.id);
      void gateway.closeSession(session);
    });
  }

  async function legacyPost(
    req: WireRequest,
    res: WireResponse,
    query: string,
    caller: Caller,
  ): Promise<void> {
    const sid = new URLSearchParams(query).get('sessionId') ?? '';
    const sink = legacySinks.get(sid);
    const session = sink && gateway.sessions.get(sid);
    if (session && !sameClient(session.client, caller.client))
      return rpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
    if (!sink || !session) return rpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
    const checked = parseMessage(readBody(req));
    if ('error' in checked) return sendJson(res, 400, checked.error);
    const m = checked.message;
    res.writeHead(202, { 'content-type': 'text/plain' }).end('Accepted');
    session.lastSeen = Date.now();
    if (isRequest(m)) {
      const response = await gateway.request({
        session,
        request: m,
        front: 'sse',
        client: session.client,
        clientIp: caller.clientIp,
      });
      sink.deliver(response);
    } else if (isResponse(m)) gateway.clientResponse(session, m);
    else gateway.notification(session, m);
  }

  let boundPort = opts.port;
  const server = await createWireServer(
    (req, res) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const path = q < 0 ? url : url.slice(0, q);
      const done = (p: Promise<void> | void) => {
        if (p)
          p.catch((err: unknown) => {
            gateway.log(`http: ${err instanceof Error ? err.message : String(err)}`);
            if (!res.headersSent) rpcError(res, 500, INTERNAL_ERROR, 'Internal error');
            else res.end();
          });
      };
      if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
      if (path === '/readyz')
        return gateway.draining
          ? sendJson(res, 503, { status: 'draining' })
          : sendJson(res, 200, {
              status: 'ready',
              servers: gateway.servers().map((s) => s.name),
              sessions: gateway.sessions.size,
            });
      if (!hostAllowed(req, opts.host, boundPort, settings))
        return rpcError(res, 403, INVALID_REQUEST, 'Forbidden: Host or Origin not allowed');
      const meta = opts.wellKnown?.(path);
      if (meta !== undefined) {
        if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET' }).end();
        return sendJson(res, 200, meta, { 'cache-control': 'max-age=300' });
      }
      const route = (caller: Caller) => {
        if (path === '/mcp') {
          if (req.method === 'POST') return done(post(req, res, caller));
          if (req.method === 'GET') return getStream(req, res, caller);
          if (req.method === 'DELETE') return done(remove(req, res, caller));
          res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
          return;
        }
        if (path === '/sse' && req.method === 'GET') return legacyOpen(res, caller);
        if (path === '/messages' && req.method === 'POST')
          return done(legacyPost(req, res, q < 0 ? '' : url.slice(q + 1), caller));
        sendJson(res, 404, { error: 'not found' });
      };
      const peerIp = plainIp(req.socket.remoteAddress ?? '');
      if (!gateway.admission || (path !== '/mcp' && path !== '/sse' && path !== '/messages'))
        return route({ clientIp: peerIp });
      const adm: Admission = {
        method: req.method ?? '',
        path,
        headers: req.headers,
        peerIp,
        clientIp: peerIp,
        connection: req.socket,
      };
      const admit = (refusal: Refusal | undefined) => {
        if (refusal) return refuse(res, refusal, adm);
        route({ clientIp: adm.clientIp, ...(adm.client && { client: adm.client }) });
      };
      const decided = gateway.admission(adm);
      if (decided instanceof Promise) done(decided.then(admit));
      else admit(decided);
    },
    {
      maxBodyBytes: settings.maxBodyBytes,
      requestTimeoutMs: 60_000,
      headersTimeoutMs: 15_000,
      keepAliveTimeoutMs: 65_000,
      // The server's own refusals (400, 408, 413, 431...) as JSON-RPC errors, like ours.
      errorBody: (status) => ({
        type: 'application/json',
        body: JSON.stringify(errorResponse(null, INVALID_REQUEST, `HTTP ${status}: the request was refused`)),
      }),
      onError: (err) => gateway.log(`http: ${err instanceof Error ? err.message : String(err)}`),
      ...(opts.tls && { tls: opts.tls }),
    },
  );
  await server.listen(opts.port, opts.host);
  const addr = server.address()!;
  boundPort = addr.port;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `${opts.tls ? 'https' : 'http'}://${shownHost}:${addr.port}/mcp`,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await gateway.shutdown();
      server.closeAllConnections();
      await closed;
    },
  };
}
