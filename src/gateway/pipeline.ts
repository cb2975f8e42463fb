import type { Request, Response } from './jsonrpc.js';
import type { Session } from './session.js';

/**
 * The request pipeline. PRODUCT.md gives its order: body/size limits, Origin/Host check, IP
 * allowlist, authentication, rate limit, safety policy, secret-leak check on arguments, the call,
 * secret-leak check on the result, audit.
 *
 * It runs at two levels:
 *  - **Admission**, once per HTTP request, before any session is looked up (the body limits and
 *    the Origin/Host check are the wire server's and the HTTP front's; then the IP allowlist and
 *    authentication, as admission stages). It decides who the caller is: the `Client`.
 *  - **Calls**, once per JSON-RPC request on either front: the audit (outermost, so it records
 *    what every later stage decided), rate limit, policy, leak guard, and the router last.
 *
 * A stage is a named function built from options (checked when it is built, never per request)
 * that may answer by itself (a denial) or call `next` and look at, or change, what comes back.
 */

/** Who is calling, as authentication decided; the same for every request of a session. */
export interface Client {
  /**
   * The identity that owns server processes: the key's client id, the token's subject, `stdio`,
   * or (no authentication) the session id. Two requests with the same id share servers.
   */
  id: string;
  via: 'api-key' | 'oauth' | 'stdio' | 'anonymous';
  /** SHA-256 of the presented key or token, first 16 hex characters (the audit's api_key_hash). */
  keyHash?: string;
  /** Servers it may reach (names); undefined means all. */
  servers?: readonly string[];
  /** Tools it may call (globs over exposed names such as `github__*`); undefined means all. */
  tools?: readonly string[];
  /** It may call destructive tools even where the gateway's policy denies them. */
  allowDestructive?: boolean;
}

/** Audit event names (PRODUCT.md). */
export type AuditEventName =
  | 'tool_call'
  | 'auth_failure'
  | 'rate_limit_exceeded'
  | 'policy_denied'
  | 'secret_leak'
  | 'secret_access'
  | 'server_start'
  | 'server_stop'
  | 'config_reload'
  | 'audit_dropped';

/** What a stage that refused a request tells the front (HTTP status) and the audit. */
export interface Denial {
  event: Exclude<
    AuditEventName,
    'tool_call' | 'server_start' | 'server_stop' | 'config_reload' | 'audit_dropped'
  >;
  /** The HTTP status the front answers with (401, 403, 429...). */
  status: number;
  headers?: Record<string, string>;
  /** One line, value-free: what was refused and why. */
  reason: string;
}

/** One audit record before the audit writer adds its time stamp and chain fields. */
export interface AuditEvent {
  event: AuditEventName;
  client_id?: string;
  client_ip?: string;
  api_key_hash?: string;
  session?: string;
  method?: string;
  server?: string;
  tool?: string;
  /** Arguments as the client sent them: the audit writer redacts them before writing. */
  arguments?: unknown;
  outcome?: 'ok' | 'error' | 'denied' | 'redacted';
  reason?: string;
  duration_ms?: number;
  [key: string]: unknown;
}

/** Where stages and fronts report events that are not a call's outcome (an auth failure, a reload). */
export interface AuditSink {
  /**
   * `idle`: nothing else is under way (the audit stage knows no other call in flight), so the
   * line may be made as soon as this turn's I/O is done rather than with its batch.
   */
  record(event: AuditEvent, idle?: boolean): void;
}

export interface CallContext {
  session: Session;
  request: Request;
  front: 'stdio' | 'http' | 'sse';
  /** The caller's address on the HTTP fronts (after trusted proxies). */
  clientIp?: string;
  client: Client;
  /** Set by the stage that refused the request. */
  denial?: Denial;
}

/** One HTTP request before it reaches a session: what admission stages look at. */
export interface Admission {
  method: string;
  /** The path without the query. */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string | string[] | undefined>;
  /** The TCP peer. */
  peerIp: string;
  /** The caller's address: the peer, or the client a trusted proxy forwarded for. */
  clientIp: string;
  /** Set by authentication; without an auth stage the front makes an anonymous client. */
  client?: Client;
  /**
   * The same object for every request of one client connection (HTTP keep-alive), for stages
   * that remember what a connection proved; absent where there is none.
   */
  connection?: object;
}

/** What admission answers: nothing (admitted) or a refusal the front sends as it is. */
export interface Refusal extends Denial {
  /** A JSON body (a JSON-RPC error, or an OAuth error object). */
  body: unknown;
}

export type Stage<C = CallContext, R = Response> = (ctx: C, next: () => Promise<R>) => Promise<R>;

export type MaybePromise<T> = T | Promise<T>;

/** What admission answers: nothing (admitted) or a refusal. */
export type AdmissionResult = Refusal | undefined;

/**
 * An admission stage may answer at once (no promise: admission runs before every HTTP request,
 * and a stage that only looks at headers need not cost a microtask), or later.
 */
export type AdmissionStage = (
  ctx: Admission,
  next: () => MaybePromise<AdmissionResult>,
) => MaybePromise<AdmissionResult>;

export type AdmissionHandler = (ctx: Admission) => MaybePromise<AdmissionResult>;

/** The admission chain: like compose, without forcing a promise on stages that answer at once. */
export function composeAdmission(
  stages: readonly AdmissionStage[],
  last: AdmissionHandler,
): AdmissionHandler {
  if (stages.length === 0) return last;
  return (ctx) => {
    const step = (i: number): MaybePromise<AdmissionResult> =>
      i === stages.length ? last(ctx) : stages[i]!(ctx, () => step(i + 1));
    return step(0);
  };
}

export type Handler<C = CallContext, R = Response> = (ctx: C) => Promise<R>;

export function compose<C, R>(stages: readonly Stage<C, R>[], last: Handler<C, R>): Handler<C, R> {
  if (stages.length === 0) return last;
  return (ctx) => {
    const step = (i: number): Promise<R> =>
      i === stages.length ? last(ctx) : stages[i]!(ctx, () => step(i + 1));
    return step(0);
  };
}

/**
 * `next()` as a promise in every case: a synchronous throw becomes its rejection, with what was
 * thrown as it is, as from an async stage. A stage that is not async calls the next one with
 * this, so what it does on a failure is done once, in its rejection handler.
 */
export function callNext<R>(next: () => Promise<R>): Promise<R> {
  try {
    return next();
  } catch (err) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as thrown
    return Promise.reject(err);
  }
}

/** The admission chain's last step: admitted. */
export const admitted = (): AdmissionResult => undefined;

/** Glob over exposed names: `*` any run of characters, `?` one; everything else literal. */
export function globMatcher(globs: readonly string[]): (name: string) => boolean {
  if (globs.length === 0) return () => false;
  const re = new RegExp(
    `^(?:${globs
      .map((g) =>
        g
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.'),
      )
      .join('|')})$`,
    's',
  );
  return (name) => re.test(name);
}

/**
 * A secret value the gateway holds (every configured server's secrets, resolved at load and on
 * reload). The leak guard and the audit redact these. A source answers the current list; it
 * answers the same array until a reload replaces it, so a stage may cache what it builds from
 * one by the array's identity.
 */
export interface ManagedSecret {
  name: string;
  value: string;
  /** The server it belongs to. */
  server?: string;
}

export type SecretSource = () => readonly ManagedSecret[];
