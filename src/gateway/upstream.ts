import type { Channel } from './channel.js';
import {
  SERVER_UNAVAILABLE,
  errorResponse,
  type Id,
  type Message,
  type Notification,
  type Params,
  type Request,
  type Response,
} from './jsonrpc.js';

/**
 * One running server for one client identity: the gateway is its MCP client. It performs the
 * initialize handshake itself, numbers the requests it forwards (so ids from many sessions never
 * collide), and answers every request in flight with an error the moment the server dies, so a
 * crash never leaves a caller hanging. After a crash it starts again on next use, after a
 * backoff that doubles with each crash in a row.
 */
export type UpstreamState = 'idle' | 'starting' | 'ready' | 'crashed' | 'closed';

export interface UpstreamEvents {
  /** A request or notification from the server (sampling, elicitation, progress, logging, ...). */
  message(upstream: Upstream, message: Request | Notification): void;
  /** The server came up (`ready`) or went away (`crashed`, `closed`). */
  state(upstream: Upstream, state: UpstreamState, why?: string): void;
}

export interface UpstreamOptions {
  name: string;
  start: () => Promise<Channel>;
  /** What the gateway's client said it supports, passed on so the server may use it. */
  clientCapabilities: Record<string, unknown>;
  events: UpstreamEvents;
  initTimeoutMs?: number;
  /** Backoff after a crash: base and ceiling. */
  backoffMs?: [number, number];
}

type Pending = (response: Response) => void;

const PROTOCOL_VERSION = '2025-11-25';

export class Upstream {
  readonly name: string;
  state: UpstreamState = 'idle';
  /** The server's initialize result: capabilities, serverInfo, instructions. */
  info: { capabilities: Record<string, unknown>; serverInfo?: unknown; instructions?: string } = {
    capabilities: {},
  };
  /** When it last carried a request: for idle reaping. */
  lastUsed = Date.now();
  private channel: Channel | undefined;
  private starting: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private crashes = 0;
  private notBefore = 0;
  private readonly opts: UpstreamOptions;

  constructor(opts: UpstreamOptions) {
    this.opts = opts;
    this.name = opts.name;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Starts the server if it is not running; resolves when it has answered initialize. */
  ensure(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new Error(`server "${this.name}" was stopped`));
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async start(): Promise<void> {
    const wait = this.notBefore - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    this.state = 'starting';
    const started = Date.now();
    let channel: Channel;
    try {
      channel = await this.opts.start();
    } catch (err) {
      this.crashed(`cannot start: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    this.channel = channel;
    channel.onLine = (line) => this.receive(line);
    void channel.exited.then(({ reason }) => {
      if (this.channel !== channel) return;
      this.channel = undefined;
      if (this.state === 'closed') return;
      // A server that lived a while before dying starts from a short backoff again.
      if (Date.now() - started > 30_000) this.crashes = 0;
      this.crashed(reason);
    });
    const init = await this.call(
      'initialize',
      {
        protocolVersion: PROTOCOL_VERSION,
        capabilities: this.opts.clientCapabilities,
        clientInfo: { name: 'mcp-warden', version: '0.1.0' },
      },
      this.opts.initTimeoutMs ?? 30_000,
    );
    if (init.error) {
      await channel.close();
      throw new Error(`initialize failed: ${init.error.message}`);
    }
    const r = init.result ?? {};
    this.info = {
      capabilities: (r.capabilities as Record<string, unknown> | undefined) ?? {},
      ...(r.serverInfo !== undefined && { serverInfo: r.serverInfo }),
      ...(typeof r.instructions === 'string' && { instructions: r.instructions }),
    };
    channel.write('{"jsonrpc":"2.0","method":"notifications/initialized"}');
    if ((this.state as UpstreamState) === 'closed') {
      // Stopped while it was starting (close() ran during the handshake).
      await channel.close();
      throw new Error(`server "${this.name}" was stopped`);
    }
    this.state = 'ready';
    this.opts.events.state(this, 'ready');
  }

  private crashed(why: string): void {
    this.state = 'crashed';
    this.crashes++;
    const [base, ceiling] = this.opts.backoffMs ?? [250, 30_000];
    this.notBefore = Date.now() + Math.min(ceiling, base * 2 ** (this.crashes - 1));
    this.failAll(`server "${this.name}" ${why}`);
    this.opts.events.state(this, 'crashed', why);
  }

  private failAll(message: string): void {
    const pending = [...this.pending];
    this.pending.clear();
    for (const [id, answer] of pending) answer(errorResponse(id, SERVER_UNAVAILABLE, message));
  }

  private receive(line: string): void {
    let m: Message;
    try {
      m = JSON.parse(line) as Message;
    } catch {
      return; // not JSON-RPC: a server that logs to stdout; nothing to route
    }
    if (typeof m !== 'object' || m === null) return;
    if ('method' in m) {
      this.opts.events.message(this, m);
      return;
    }
    const id = m.id;
    if (typeof id !== 'number') return;
    const answer = this.pending.get(id);
    if (!answer) return; // answered already (cancelled, or the caller gave up)
    this.pending.delete(id);
    answer(m);
  }

  /**
   * Forwards a request: its id is replaced by ours, and `answer` gets the server's response
   * (with our id; the caller puts its own back). Answers at once with an error if the server is
   * not running. Returns the id used upstream, for cancellation.
   */
  forward(request: Request, answer: Pending): number {
    const id = this.nextId++;
    this.lastUsed = Date.now();
    const channel = this.channel;
    if (!channel || this.state !== 'ready') {
      answer(errorResponse(id, SERVER_UNAVAILABLE, `server "${this.name}" is not running`));
      return id;
    }
    this.pending.set(id, answer);
    const original = request.id;
    request.id = id;
    const ok = channel.write(JSON.stringify(request));
    request.id = original;
    if (!ok) {
      this.pending.delete(id);
      answer(errorResponse(id, SERVER_UNAVAILABLE, `server "${this.name}" is not running`));
    }
    return id;
  }

  /** A request of the gateway's own (a list, initialize), with a timeout. */
  call(method: string, params: Params | undefined, timeoutMs = 60_000): Promise<Response> {
    return new Promise((resolve) => {
      const request: Request = { jsonrpc: '2.0', id: 0, method, ...(params && { params }) };
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(
          errorResponse(
            id,
            SERVER_UNAVAILABLE,
            `server "${this.name}" did not answer ${method} in ${timeoutMs / 1000}s`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      request.id = id;
      if (!this.channel?.write(JSON.stringify(request))) {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(errorResponse(id, SERVER_UNAVAILABLE, `server "${this.name}" is not running`));
      }
    });
  }

  /** Stops waiting for one request (the client cancelled it or went away). */
  abandon(id: number): void {
    this.pending.delete(id);
  }

  notify(notification: Notification): void {
    this.channel?.write(JSON.stringify(notification));
  }

  /** Answers a request the server sent (a client's answer to sampling, elicitation, roots). */
  respond(id: Id, response: Response): void {
    const original = response.id;
    response.id = id;
    this.channel?.write(JSON.stringify(response));
    response.id = original;
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasRunning = this.state === 'ready' || this.state === 'starting';
    this.state = 'closed';
    this.failAll(`server "${this.name}" was stopped`);
    const channel = this.channel;
    this.channel = undefined;
    if (wasRunning) this.opts.events.state(this, 'closed');
    await channel?.close();
  }
}
