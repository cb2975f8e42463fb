import { createHash, randomUUID } from 'node:crypto';
import { secretForms } from '../run/forms.js';
import type { SecretNeed, ServerConfig } from '../servers/schema.js';
import { Identity, SHARED, type ServerEntry } from './identity.js';
import type { Notification, Request, Response } from './jsonrpc.js';
import { launch } from './launch.js';
import { prefixFor } from './names.js';
import {
  compose,
  type AdmissionHandler,
  type AuditSink,
  type CallContext,
  type Client,
  type Handler,
  type Stage,
} from './pipeline.js';
import { Router } from './router.js';
import type { Session, SessionSink } from './session.js';
import type { GatewaySettings } from './settings.js';

/**
 * The gateway core, front-agnostic: the servers it may start, the sessions and identities of
 * its clients, the pipeline every request goes through, idle reaping, reload and draining.
 */
export interface ServerRuntime {
  config: ServerConfig;
  values: Map<SecretNeed, string>;
}

export interface GatewayOptions {
  settings: GatewaySettings;
  env: NodeJS.ProcessEnv;
  log(line: string): void;
  /** Per HTTP request, before any session: the IP allowlist and authentication. */
  admission?: AdmissionHandler;
  /** Per JSON-RPC request: audit, rate limit, policy, leak guard (the router comes last). */
  stages?: readonly Stage[];
  /** Where events that are not a call's outcome go (auth failures, server starts, reloads). */
  audit?: AuditSink;
}

export class Gateway {
  readonly settings: GatewaySettings;
  readonly router: Router;
  readonly sessions = new Map<string, Session>();
  readonly identities = new Map<string, Identity>();
  readonly admission: AdmissionHandler | undefined;
  readonly audit: AuditSink | undefined;
  private entries: ServerEntry[] = [];
  private fingerprints = new Map<string, string>();
  private readonly opts: GatewayOptions;
  private readonly pipeline: Handler;
  private inFlight = 0;
  private drained: (() => void) | undefined;
  private reaper: NodeJS.Timeout | undefined;
  draining = false;

  constructor(opts: GatewayOptions) {
    this.opts = opts;
    this.settings = opts.settings;
    this.admission = opts.admission;
    this.audit = opts.audit;
    this.router = new Router({
      pageSize: opts.settings.pageSize,
      shared: () => this.identity(SHARED),
      identities: () => [...this.identities.values()].filter((id) => !id.isShared),
    });
    this.pipeline = compose(opts.stages ?? [], (ctx) => this.router.handle(ctx.session, ctx.request));
    const every = Math.max(
      1000,
      Math.min(30_000, Math.min(opts.settings.sessionIdleMs, opts.settings.upstreamIdleMs) / 4),
    );
    this.reaper = setInterval(() => void this.reap(), every);
    this.reaper.unref();
  }

  log(line: string): void {
    this.opts.log(line);
  }

  /** The servers that can start, in config order. */
  servers(): readonly ServerEntry[] {
    return this.entries;
  }

  /**
   * Sets the servers (at start and on reload). A server that is new, gone or changed (its config
   * or its secrets) is stopped in every identity and the sessions told their lists changed; the
   * others, and every session, carry on.
   */
  async setServers(
    runtimes: readonly ServerRuntime[],
  ): Promise<{ added: string[]; removed: string[]; changed: string[] }> {
    const next = new Map<string, string>();
    for (const r of runtimes) next.set(r.config.name, fingerprint(r));
    const added = [...next.keys()].filter((n) => !this.fingerprints.has(n));
    const removed = [...this.fingerprints.keys()].filter((n) => !next.has(n));
    const changed = [...next.keys()].filter(
      (n) => this.fingerprints.has(n) && this.fingerprints.get(n) !== next.get(n),
    );
    this.fingerprints = next;
    this.entries = runtimes.map((r) => {
      const scrub = scrubber(r.values);
      return {
        name: r.config.name,
        prefix: prefixFor(r.config.name, r.config.prefix),
        eager: r.config.eager,
        shared: r.config.shared,
        start: () =>
          launch(r.config, r.values, {
            env: this.opts.env,
            // A server may print its own secret: its stderr reaches our log with the values masked.
            log: (l) => this.opts.log(`${r.config.name}: ${scrub(l)}`),
          }),
      };
    });
    const stale = [...removed, ...changed];
    await Promise.all(
      [...this.identities.values()].flatMap((id) => stale.map((name) => id.stopServer(name))),
    );
    if (added.length + stale.length > 0)
      for (const id of this.identities.values()) {
        if (id.sessions.size === 0) continue;
        id.startEager();
        this.router.listChanged(id, ['tools', 'prompts', 'resources']);
      }
    return { added, removed, changed };
  }

  identity(key: string, servers?: readonly string[]): Identity {
    let id = this.identities.get(key);
    if (!id) {
      id = new Identity(
        key,
        {
          servers: () => this.entries,
          log: (l) => this.opts.log(l),
          fromServer: (identity, up, m) => this.router.fromServer(identity, up, m),
          listChanged: (identity, kinds) => this.router.listChanged(identity, kinds),
          shared: () => this.identity(SHARED),
          serverState: (identity, server, state, why) => {
            if (state !== 'ready' && state !== 'closed' && state !== 'crashed') return;
            this.opts.audit?.record({
              event: state === 'ready' ? 'server_start' : 'server_stop',
              server,
              client_id: identity.key,
              ...(state !== 'ready' && { outcome: state === 'crashed' ? 'error' : 'ok' }),
              ...(why && { reason: why }),
            });
          },
        },
        servers ? { servers } : {},
      );
      this.identities.set(key, id);
    }
    return id;
  }

  /**
   * A new session. Its client decides which server processes it shares: every session of an
   * authenticated client shares that client's; an anonymous client's session has its own.
   */
  openSession(
    sink: SessionSink,
    opts: { id?: string; client?: Client; identityKey?: string; register?: boolean } = {},
  ): Session {
    const id = opts.id ?? randomUUID();
    const client = opts.client ?? { id, via: 'anonymous' };
    const identity = this.identity(opts.identityKey ?? identityKeyOf(client, id), client.servers);
    const session: Session = {
      id,
      identity,
      client,
      sink,
      protocolVersion: '2025-03-26',
      clientCapabilities: {},
      subscriptions: new Set(),
      lastSeen: Date.now(),
      busy: 0,
      closed: false,
    };
    identity.sessions.add(session);
    if (opts.register !== false) this.sessions.set(id, session);
    return session;
  }

  async closeSession(session: Session): Promise<void> {
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session.id);
    this.router.sessionClosed(session);
    const identity = session.identity;
    identity.sessions.delete(session);
    // An anonymous session's identity ends with it. An authenticated client's identity outlives
    // its sessions (its next session, or its next stateless request, finds its servers running);
    // the reaper stops its servers when they idle and forgets it when nothing is left.
    if (identity.sessions.size === 0 && identity.key === session.id) {
      this.identities.delete(identity.key);
      await identity.close();
    }
  }

  /** One client request through the pipeline; counted, so shutdown can wait for it. */
  async request(ctx: CallContext): Promise<Response> {
    this.inFlight++;
    ctx.session.busy++;
    try {
      return await this.pipeline(ctx);
    } finally {
      ctx.session.busy--;
      ctx.session.lastSeen = Date.now();
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  notification(session: Session, n: Notification): void {
    session.lastSeen = Date.now();
    this.router.notification(session, n);
  }

  clientResponse(session: Session, r: Response): void {
    session.lastSeen = Date.now();
    this.router.clientResponse(session, r);
  }

  cancel(session: Session, req: Request, reason: string): void {
    this.router.cancel(session, req.id, reason);
  }

  private async reap(): Promise<void> {
    const now = Date.now();
    for (const s of [...this.sessions.values()])
      if (s.busy === 0 && now - s.lastSeen > this.settings.sessionIdleMs && s.identity.key !== 'stdio') {
        this.opts.log(
          `session ${s.id.slice(0, 8)} idle for ${Math.round((now - s.lastSeen) / 1000)}s: closed`,
        );
        s.sink.close?.();
        await this.closeSession(s);
      }
    for (const id of [...this.identities.values()]) {
      for (const [name, up] of [...id.upstreams])
        if (up.state === 'ready' && up.inFlight === 0 && now - up.lastUsed > this.settings.upstreamIdleMs)
          await id.stopServer(name);
      if (id.sessions.size === 0 && !id.isShared && id.key !== 'stateless' && id.key !== 'stdio') {
        if ([...id.upstreams.values()].every((u) => u.state !== 'ready' && u.state !== 'starting')) {
          this.identities.delete(id.key);
          await id.close();
        }
      }
    }
  }

  /** Waits (up to the drain time) for the calls in flight, then stops every server. */
  async shutdown(): Promise<void> {
    this.draining = true;
    if (this.reaper) clearInterval(this.reaper);
    if (this.inFlight > 0) {
      await Promise.race([
        new Promise<void>((r) => (this.drained = r)),
        new Promise((r) => setTimeout(r, this.settings.drainMs).unref()),
      ]);
    }
    for (const s of [...this.sessions.values()]) {
      s.sink.close?.();
      await this.closeSession(s);
    }
    await Promise.all([...this.identities.values()].map((id) => id.close()));
    this.identities.clear();
  }
}

/**
 * The identity that owns a client's server processes. An anonymous client is its session; an
 * authenticated one is its id, and the servers it may reach (two OAuth tokens of one subject
 * with other scopes get other processes, never a process started for wider rights).
 */
function identityKeyOf(client: Client, sessionId: string): string {
  if (client.via === 'anonymous') return sessionId;
  if (client.via === 'stdio') return 'stdio';
  const scope = client.servers ? `|${[...client.servers].sort().join(',')}` : '';
  return `${client.via}:${client.id}${scope}`;
}

/** Masks a server's secret values (raw, JSON-escaped, URL-encoded, base64) in a line it wrote. */
function scrubber(values: Map<SecretNeed, string>): (line: string) => string {
  const forms: [string, string][] = [];
  for (const [need, value] of values)
    for (const form of secretForms(value)) forms.push([form, `[redacted:${need.name}]`]);
  if (forms.length === 0) return (line) => line;
  forms.sort((a, b) => b[0].length - a[0].length);
  return (line) => {
    for (const [form, mask] of forms) if (line.includes(form)) line = line.split(form).join(mask);
    return line;
  };
}

/** What makes a running server stale: its config or any of its secret values changed. */
function fingerprint(r: ServerRuntime): string {
  const h = createHash('sha256').update(JSON.stringify(r.config));
  for (const [need, v] of r.values) h.update(`\0${need.name}\0${v}`);
  return h.digest('hex');
}
