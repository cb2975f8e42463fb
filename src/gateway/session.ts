import type { Id, Notification, Request } from './jsonrpc.js';
import type { Identity } from './identity.js';
import type { Client } from './pipeline.js';

/**
 * One client connection as the router sees it, whatever the front: the stdio front has one, the
 * HTTP front one per Mcp-Session-Id (or per legacy SSE stream). The front delivers what the
 * gateway sends; `related` is the id of the client request a message belongs to, so the HTTP
 * front can put it on that request's stream.
 */
export interface SessionSink {
  deliver(message: Request | Notification, related?: Id): boolean;
  /** Whether a request of ours (sampling, elicitation, roots) can reach the client at all. */
  canReceiveRequests(): boolean;
  /** Ends the client's streams (the session was reaped or the gateway is stopping). */
  close?(): void;
}

export interface Session {
  readonly id: string;
  readonly identity: Identity;
  /** Who opened it; every later request of the session must come from the same client. */
  readonly client: Client;
  readonly sink: SessionSink;
  /** Negotiated at initialize (or carried per request by stateless clients). */
  protocolVersion: string;
  clientCapabilities: Record<string, unknown>;
  clientInfo?: { name?: string; version?: string };
  /** Resource URIs (as exposed) this session subscribed to. */
  readonly subscriptions: Set<string>;
  lastSeen: number;
  /** Requests of this session in the pipeline now: a busy session is never idle. */
  busy: number;
  closed: boolean;
}
