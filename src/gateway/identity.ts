import type { Channel } from './channel.js';
import type { Id, Notification, Request, Response } from './jsonrpc.js';
import { NameTable, prefixFor, type Target } from './names.js';
import type { Session } from './session.js';
import { Upstream, type UpstreamState } from './upstream.js';

/**
 * Everything one client identity owns: its own running copy of each server (two identities
 * never share a server process, so they never share its state), the catalog of names it was
 * shown, and the requests it has in flight. With no authentication every HTTP session is an
 * identity and the stdio front is one.
 */
export interface ServerEntry {
  name: string;
  prefix: string | null;
  eager: boolean;
  /** `share: true`: one process for every identity (a stateless server; state would mix). */
  shared: boolean;
  start: () => Promise<Channel>;
}

export interface IdentityHost {
  /** The ready servers, in config order. */
  servers(): readonly ServerEntry[];
  log(line: string): void;
  /** A server of this identity sent a request or notification the router must route. */
  fromServer(identity: Identity, upstream: Upstream, message: Request | Notification): void;
  /** A server came, went, or changed a list: tell this identity's sessions. */
  listChanged(identity: Identity, kinds: readonly ListKind[]): void;
  /** The identity that owns the servers every identity shares. */
  shared(): Identity;
  /** A server of this identity started, or stopped (for the audit). */
  serverState?(identity: Identity, server: string, state: UpstreamState, why?: string): void;
}

/** Which identity an upstream belongs to (the shared identity for a shared server). */
export const ownerOf = new WeakMap<Upstream, Identity>();

export type ListKind = 'tools' | 'prompts' | 'resources';

/** A client request being answered by a server, for routing what the server sends meanwhile. */
export interface InFlight {
  session: Session;
  clientId: Id;
  upstreamId: number;
  upstream: Upstream;
  /** The client's progress token and the one we gave the server instead. */
  progress?: { client: Id; ours: string };
  /** Answers the client (once): with the server's response, or an error if it was cancelled. */
  settle: (response: Response) => void;
}

interface Cached {
  tools?: Record<string, unknown>[];
  prompts?: Record<string, unknown>[];
  resources?: Record<string, unknown>[];
  templates?: Record<string, unknown>[];
}

const LIST = {
  tools: { method: 'tools/list', field: 'tools', capability: 'tools' },
  prompts: { method: 'prompts/list', field: 'prompts', capability: 'prompts' },
  resources: { method: 'resources/list', field: 'resources', capability: 'resources' },
  templates: { method: 'resources/templates/list', field: 'resourceTemplates', capability: 'resources' },
} as const;

type CachedKind = keyof typeof LIST;

/** The key of the identity that owns shared servers. */
export const SHARED = '(shared)';

export interface ToolInfo extends Target {
  exposed: string;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; [key: string]: unknown };
}

function describeTool(
  server: string,
  name: string,
  exposed: string,
  tool: Record<string, unknown> | undefined,
): ToolInfo {
  const annotations =
    tool?.annotations && typeof tool.annotations === 'object'
      ? (tool.annotations as ToolInfo['annotations'])
      : undefined;
  return { server, name, exposed, ...(annotations && { annotations }) };
}

export interface IdentityOptions {
  /** The servers this identity may reach (a key's `--servers`); undefined means all. */
  servers?: readonly string[];
}

export class Identity {
  readonly key: string;
  readonly sessions = new Set<Session>();
  readonly upstreams = new Map<string, Upstream>();
  readonly inFlight = new Map<Upstream, Map<number, InFlight>>();
  readonly progress = new Map<string, InFlight>();
  readonly tools = new NameTable();
  readonly prompts = new NameTable();
  /** Exposed resource URI → server (URIs stay as the server gave them unless two servers clash). */
  readonly resources = new Map<string, Target>();
  private readonly cache = new Map<string, Cached>();
  private readonly host: IdentityHost;
  private clientCapabilities: Record<string, unknown> = {};

  private readonly only: ReadonlySet<string> | undefined;
  /** Tools as the last tools list described them, by exposed name (the policy asks per call). */
  private readonly described = new Map<string, ToolInfo>();

  constructor(key: string, host: IdentityHost, opts: IdentityOptions = {}) {
    this.key = key;
    this.host = host;
    this.only = opts.servers ? new Set(opts.servers) : undefined;
  }

  /** Whether this identity may reach the server at all: the others are never started for it. */
  allows(server: string): boolean {
    return this.only === undefined || this.only.has(server);
  }

  /** The configured servers this identity may reach, in config order. */
  private servers(): readonly ServerEntry[] {
    const all = this.host.servers();
    return this.only === undefined ? all : all.filter((s) => this.only!.has(s.name));
  }

  /** The capabilities passed on to servers: those of the identity's first client. */
  setClientCapabilities(caps: Record<string, unknown>): void {
    if (Object.keys(this.clientCapabilities).length === 0) this.clientCapabilities = caps;
  }

  entry(server: string): ServerEntry | undefined {
    return this.servers().find((s) => s.name === server);
  }

  /** This identity's copy of the server (started or not); for a shared server, the one copy. */
  upstream(server: string): Upstream | undefined {
    let up = this.upstreams.get(server);
    if (up) return up;
    const entry = this.entry(server);
    if (!entry) return undefined;
    if (entry.shared && !this.isShared) return this.host.shared().upstream(server);
    up = new Upstream({
      name: server,
      start: entry.start,
      clientCapabilities: this.upstreamCapabilities(),
      events: {
        message: (u, m) => this.host.fromServer(this, u, m),
        state: (u, state, why) => this.upstreamState(u, state, why),
      },
    });
    ownerOf.set(up, this);
    this.upstreams.set(server, up);
    return up;
  }

  get isShared(): boolean {
    return this.key === SHARED;
  }

  /** What we tell a server its client supports: only what our client can really do. */
  private upstreamCapabilities(): Record<string, unknown> {
    // A shared server serves clients of every kind: the router checks each request it sends
    // against the capabilities of the session it goes to.
    if (this.isShared) return { sampling: {}, elicitation: {}, roots: { listChanged: true } };
    const out: Record<string, unknown> = {};
    for (const k of ['sampling', 'elicitation', 'roots'] as const)
      if (this.clientCapabilities[k] !== undefined) out[k] = this.clientCapabilities[k];
    return out;
  }

  private upstreamState(u: Upstream, state: UpstreamState, why?: string): void {
    this.host.log(`${u.name} [${this.key}]: ${state}${why ? ` (${why})` : ''}`);
    this.host.serverState?.(this, u.name, state, why);
    this.cache.delete(u.name);
    this.described.clear();
    this.inFlight.get(u)?.clear();
    // A crashed server starts again on next use with the same tools, so sessions are not told its
    // list changed; one that cannot start drops out of the next list. Reloads notify (gateway.ts).
  }

  /** Starts the server if needed; undefined when it is not configured or cannot start. */
  async ready(server: string): Promise<Upstream | undefined> {
    const up = this.upstream(server);
    if (!up) return undefined;
    try {
      await up.ensure();
      return up;
    } catch (err) {
      this.host.log(`${server} [${this.key}]: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    }
  }

  /** Every configured server, started: what a list request needs. */
  async readyAll(): Promise<Upstream[]> {
    const ups = await Promise.all(this.servers().map((s) => this.ready(s.name)));
    return ups.filter((u): u is Upstream => u !== undefined);
  }

  /** Starts the servers configured to start eagerly. */
  startEager(): void {
    for (const s of this.servers()) if (s.eager) void this.ready(s.name);
  }

  /** Forgets what a server listed (it told us its list changed). */
  invalidate(server: string): void {
    this.cache.delete(server);
    this.described.clear();
  }

  private async fetchAll(up: Upstream, kind: CachedKind): Promise<Record<string, unknown>[]> {
    const cached = this.cache.get(up.name) ?? {};
    const hit = cached[kind];
    if (hit) return hit;
    const spec = LIST[kind];
    if (up.info.capabilities[spec.capability] === undefined) return [];
    const items: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await up.call(spec.method, cursor === undefined ? undefined : { cursor });
      if (r.error) {
        this.host.log(`${up.name} [${this.key}]: ${spec.method} failed: ${r.error.message}`);
        break;
      }
      const got = r.result?.[spec.field];
      if (Array.isArray(got)) items.push(...(got as Record<string, unknown>[]));
      const next = r.result?.nextCursor;
      if (typeof next !== 'string' || next === '') break;
      cursor = next;
    }
    cached[kind] = items;
    this.cache.set(up.name, cached);
    return items;
  }

  /** The merged list of one kind, names (or URIs) exposed, in config order. */
  async list(kind: CachedKind): Promise<Record<string, unknown>[]> {
    const ups = await this.readyAll();
    const lists = await Promise.all(ups.map((u) => this.fetchAll(u, kind)));
    const out: Record<string, unknown>[] = [];
    if (kind === 'tools' || kind === 'prompts') {
      const table = kind === 'tools' ? this.tools : this.prompts;
      table.clear();
      if (kind === 'tools') this.described.clear();
      ups.forEach((u, i) => {
        const prefix = this.entry(u.name)?.prefix ?? null;
        for (const item of lists[i]!) {
          if (typeof item.name !== 'string') continue;
          const exposed = table.add(prefix, u.name, item.name);
          out.push({ ...item, name: exposed });
          if (kind === 'tools') this.described.set(exposed, describeTool(u.name, item.name, exposed, item));
        }
      });
      return out;
    }
    const field = kind === 'resources' ? 'uri' : 'uriTemplate';
    ups.forEach((u, i) => {
      for (const item of lists[i]!) {
        const uri = item[field];
        if (typeof uri !== 'string') continue;
        if (kind === 'resources') {
          const exposed = this.exposeUri(u.name, uri);
          out.push(exposed === uri ? item : { ...item, uri: exposed });
        } else out.push(item);
      }
    });
    return out;
  }

  /** A URI stays as it is unless another server already offers the same one. */
  private exposeUri(server: string, uri: string): string {
    const taken = this.resources.get(uri);
    if (!taken || taken.server === server) {
      this.resources.set(uri, { server, name: uri });
      return uri;
    }
    const wrapped = `mcp-warden://${encodeURIComponent(server)}/${encodeURIComponent(uri)}`;
    this.resources.set(wrapped, { server, name: uri });
    return wrapped;
  }

  /** The exposed form of a URI a server sent (in a notification or a result). */
  exposedUri(server: string, uri: string): string {
    const taken = this.resources.get(uri);
    if (!taken || taken.server === server) return uri;
    return `mcp-warden://${encodeURIComponent(server)}/${encodeURIComponent(uri)}`;
  }

  /** Which server a tool or prompt name means: the table, else the name's prefix. */
  async resolveName(kind: 'tools' | 'prompts', exposed: string): Promise<Target | undefined> {
    const hit = await this.findName(kind, exposed);
    return hit && this.allows(hit.server) ? hit : undefined;
  }

  /**
   * A tool as its server described it (annotations included), by exposed name; undefined when no
   * server of this identity offers it. For the policy stage: a call is judged by what the server
   * said the tool is.
   */
  async toolInfo(exposed: string): Promise<ToolInfo | undefined> {
    const known = this.toolInfoNow(exposed);
    if (known) return known;
    const target = await this.resolveName('tools', exposed);
    if (!target) return undefined;
    const up = await this.ready(target.server);
    const tools = up ? await this.fetchAll(up, 'tools') : [];
    return describeTool(
      target.server,
      target.name,
      exposed,
      tools.find((t) => t.name === target.name),
    );
  }

  /** The same, without waiting: what the last tools list said (undefined when it said nothing). */
  toolInfoNow(exposed: string): ToolInfo | undefined {
    const info = this.described.get(exposed);
    return info && this.allows(info.server) ? info : undefined;
  }

  private async findName(kind: 'tools' | 'prompts', exposed: string): Promise<Target | undefined> {
    const table = kind === 'tools' ? this.tools : this.prompts;
    let hit = table.get(exposed);
    if (!hit) {
      await this.list(kind); // a client that calls without listing first, or after a change
      hit = table.get(exposed);
    }
    if (hit) return hit;
    const prefixes = new Map<string, string>();
    for (const s of this.servers()) {
      const p = s.prefix ?? prefixFor(s.name);
      if (p !== null) prefixes.set(p, s.name);
    }
    return table.guess(exposed, prefixes);
  }

  /** Which server a resource URI belongs to: listed, wrapped, or matched by a template. */
  async resolveUri(exposed: string): Promise<Target | undefined> {
    if (exposed.startsWith('mcp-warden://')) {
      const [server, uri] = exposed.slice('mcp-warden://'.length).split('/', 2).map(decodeURIComponent);
      if (server && uri && this.entry(server)) return { server, name: uri };
    }
    const listed = this.resources.get(exposed);
    if (listed) return listed;
    const ups = await this.readyAll();
    for (const u of ups) {
      const templates = await this.fetchAll(u, 'templates');
      if (templates.some((t) => typeof t.uriTemplate === 'string' && matchesTemplate(t.uriTemplate, exposed)))
        return { server: u.name, name: exposed };
    }
    await this.list('resources');
    const relisted = this.resources.get(exposed);
    if (relisted) return relisted;
    // Not listed and no template: the only server with resources, if there is just one.
    const withResources = ups.filter((u) => u.info.capabilities.resources !== undefined);
    return withResources.length === 1 ? { server: withResources[0]!.name, name: exposed } : undefined;
  }

  track(entry: InFlight): void {
    let m = this.inFlight.get(entry.upstream);
    if (!m) this.inFlight.set(entry.upstream, (m = new Map<number, InFlight>()));
    m.set(entry.upstreamId, entry);
  }

  untrack(entry: InFlight): void {
    this.inFlight.get(entry.upstream)?.delete(entry.upstreamId);
    if (entry.progress) this.progress.delete(entry.progress.ours);
  }

  /** The newest request in flight on a server: where its unsolicited messages most likely belong. */
  newestInFlight(up: Upstream): InFlight | undefined {
    let last: InFlight | undefined;
    for (const e of this.inFlight.get(up)?.values() ?? []) if (!e.session.closed) last = e;
    return last;
  }

  /** The session seen most recently. */
  latestSession(): Session | undefined {
    let best: Session | undefined;
    for (const s of this.sessions) if (!s.closed && (!best || s.lastSeen > best.lastSeen)) best = s;
    return best;
  }

  async stopServer(server: string): Promise<void> {
    const up = this.upstreams.get(server);
    if (!up) return;
    this.upstreams.delete(server);
    this.cache.delete(server);
    this.inFlight.delete(up);
    await up.close();
  }

  async close(): Promise<void> {
    await Promise.all([...this.upstreams.keys()].map((s) => this.stopServer(s)));
  }
}

/** RFC 6570 matching for the simple forms servers use: `{var}`, `{+var}`, `{/var}`, `{?a,b}`. */
export function matchesTemplate(template: string, uri: string): boolean {
  let pattern = '^';
  let last = 0;
  for (const m of template.matchAll(/\{([+#/.;?&]?)([^}]*)\}/g)) {
    pattern += escapeRe(template.slice(last, m.index));
    const op = m[1];
    pattern +=
      op === '+' || op === '#'
        ? '.*'
        : op === '?' || op === '&'
          ? '(?:[?&].*)?'
          : op
            ? `(?:\\${op}[^/?#]*)*`
            : '[^/?#]*';
    last = m.index + m[0].length;
  }
  pattern += escapeRe(template.slice(last)) + '$';
  return new RegExp(pattern).test(uri);
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
