import type * as Http from 'node:http';
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WardenError, describe, errnoCode } from '../errors.js';

/**
 * The transport to the Docker Engine API: HTTP/1.1 over the daemon's unix socket, nothing else.
 * `node:http` is imported on first use, so loading this module costs the CLI's startup nothing.
 *
 * Only unix sockets: the API carries secret values (a Swarm secret's data), and a plain `tcp://`
 * daemon would see them cross the network unencrypted. The API version is negotiated with the
 * daemon's `/_ping` (the lower of its version and ours), and refused below 1.41 (Docker 20.10),
 * the oldest whose fields this client was checked against.
 */

export const MIN_API_VERSION = '1.41';
export const MAX_API_VERSION = '1.51';
const DEFAULT_SOCKET = '/var/run/docker.sock';
const DEFAULT_TIMEOUT_MS = 30_000;

type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. */
  body?: unknown;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** 0 for no timeout (long polls such as `wait`); default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface Engine {
  /** The socket this engine talks to. */
  readonly socketPath: string;
  /** The API version in use, negotiated on first call. */
  apiVersion(): Promise<string>;
  /** One API call; the parsed JSON body (or the text, for non-JSON answers; undefined when empty). */
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** An API call that hijacks the connection (attach): the raw socket and any bytes already read. */
  hijack(path: string, opts?: Omit<RequestOptions, 'body'>): Promise<{ socket: Socket; head: Buffer }>;
  /** Drops the idle connections; the engine can still be used afterwards. */
  close(): void;
}

export interface EngineOptions {
  /** `unix:///path/to/docker.sock`; default `$DOCKER_HOST`, else /var/run/docker.sock. */
  host?: string;
  /** Where DOCKER_HOST and DOCKER_API_VERSION are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Skip negotiation and use this version (also `$DOCKER_API_VERSION`). */
  apiVersion?: string;
  /** Default timeout of a call, in ms. */
  timeoutMs?: number;
}

let httpModule: Promise<typeof Http> | undefined;
const loadHttp = (): Promise<typeof Http> => (httpModule ??= import('node:http'));

/** The socket path named by a DOCKER_HOST value (or the default when there is none). */
export function socketPathOf(host: string | undefined): string {
  if (!host) return DEFAULT_SOCKET;
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (path.startsWith('/')) return path;
  }
  throw new WardenError(
    'DOCKER_UNAVAILABLE',
    `DOCKER_HOST=${host} is not supported: mcp-warden talks to the Docker daemon only over a local unix socket (unix:///var/run/docker.sock), never over plain TCP`,
  );
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function unreachable(socketPath: string, err: unknown): WardenError {
  const code = errnoCode(err);
  const hint =
    code === 'EACCES'
      ? 'permission denied on the socket: run as a member of the docker group'
      : 'is dockerd running? Start it, or point DOCKER_HOST at its socket';
  return new WardenError(
    'DOCKER_UNAVAILABLE',
    `cannot reach the Docker daemon at ${socketPath} (${describe(err)}): ${hint}`,
    { cause: err },
  );
}

/** The daemon's own message from an error answer (`{"message": "..."}`), else the raw text. */
function daemonMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message.trim();
  } catch {
    // not JSON: fall through to the text
  }
  return body.trim() || 'no message';
}

function httpError(status: number, what: string, body: string): WardenError {
  const message = `Docker Engine: ${what}: ${daemonMessage(body)} (HTTP ${status})`;
  if (status === 404) return new WardenError('DOCKER_NOT_FOUND', message);
  // Swarm answers two conflicts with other statuses: a secret still used by a service (400), and
  // an update naming a version that is no longer current (500, "update out of sequence").
  if (status === 409 || /is in use by|update out of sequence/.test(message))
    return new WardenError('DOCKER_CONFLICT', message);
  // 503 is what the swarm endpoints answer on a node that is not a swarm manager.
  if (status === 503) return new WardenError('DOCKER_UNAVAILABLE', message);
  return new WardenError('DOCKER_FAILED', message);
}

function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
  });
}

/**
 * Arms a request's timeout and maps its transport errors (refused, missing socket, timeout, abort)
 * to WardenErrors through `reject`. Returns the function that disarms the timer.
 */
function guard(
  req: ClientRequest,
  socketPath: string,
  what: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  reject: (err: WardenError) => void,
): () => void {
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          req.destroy(
            new WardenError(
              'DOCKER_UNAVAILABLE',
              `the Docker daemon at ${socketPath} did not answer ${what} within ${timeoutMs / 1000} s`,
            ),
          );
        }, timeoutMs)
      : undefined;
  const done = () => clearTimeout(timer);
  req.on('error', (err) => {
    done();
    if (err instanceof WardenError) reject(err);
    else if (signal?.aborted)
      reject(new WardenError('CANCELLED', `Docker Engine: ${what}: cancelled`, { cause: err }));
    else reject(unreachable(socketPath, err));
  });
  return done;
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

/** Builds a client for one daemon. Nothing is contacted until the first call. */
export function dockerEngine(opts: EngineOptions = {}): Engine {
  const env = opts.env ?? process.env;
  const socketPath = socketPathOf(opts.host ?? env.DOCKER_HOST);
  const defaultTimeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fixedVersion = opts.apiVersion ?? env.DOCKER_API_VERSION;
  let agent: Agent | undefined;
  let negotiated: Promise<string> | undefined;

  interface Raw {
    status: number;
    headers: IncomingMessage['headers'];
    body: Buffer;
  }

  async function send(method: string, fullPath: string, ro: RequestOptions, what: string): Promise<Raw> {
    const http = await loadHttp();
    agent ??= new http.Agent({ keepAlive: true });
    const payload = ro.body === undefined ? undefined : Buffer.from(JSON.stringify(ro.body));
    const timeoutMs = ro.timeoutMs ?? defaultTimeout;
    return new Promise<Raw>((resolve, reject) => {
      const req = http.request({
        socketPath,
        agent,
        method,
        path: fullPath,
        headers: {
          Host: 'docker',
          ...(payload && { 'Content-Type': 'application/json', 'Content-Length': payload.length }),
          ...ro.headers,
        },
        ...(ro.signal && { signal: ro.signal }),
      });
      const done = guard(req, socketPath, what, timeoutMs, ro.signal, reject);
      req.on('response', (res) => {
        readBody(res).then(
          (body) => {
            done();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          },
          (err: unknown) => {
            done();
            reject(unreachable(socketPath, err));
          },
        );
      });
      req.end(payload);
    });
  }

  async function apiVersion(): Promise<string> {
    if (fixedVersion) return fixedVersion.replace(/^v/, '');
    negotiated ??= (async () => {
      const res = await send('GET', '/_ping', {}, 'ping');
      if (res.status !== 200) throw httpError(res.status, 'ping', res.body.toString('utf8'));
      const server = res.headers['api-version'];
      if (typeof server !== 'string')
        throw new WardenError('DOCKER_FAILED', `the daemon at ${socketPath} did not report an API version`);
      if (compareVersions(server, MIN_API_VERSION) < 0)
        throw new WardenError(
          'DOCKER_FAILED',
          `the Docker daemon at ${socketPath} speaks API ${server}; mcp-warden needs ${MIN_API_VERSION} (Docker 20.10) or newer`,
        );
      return compareVersions(server, MAX_API_VERSION) < 0 ? server : MAX_API_VERSION;
    })();
    // A failed negotiation is not cached: the daemon may be started later.
    return negotiated.catch((err: unknown) => {
      negotiated = undefined;
      throw err;
    });
  }

  async function versioned(path: string, query: Query | undefined): Promise<string> {
    return `/v${await apiVersion()}${path}${queryString(query)}`;
  }

  return {
    socketPath,
    apiVersion,

    async request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
      const what = `${method} ${path}`;
      const res = await send(method, await versioned(path, ro.query), ro, what);
      const text = res.body.toString('utf8');
      if (res.status >= 400) throw httpError(res.status, what, text);
      if (!text) return undefined as T;
      if (String(res.headers['content-type']).includes('json')) {
        try {
          return JSON.parse(text) as T;
        } catch (err) {
          throw new WardenError('DOCKER_FAILED', `Docker Engine: ${what}: unreadable answer`, { cause: err });
        }
      }
      return text as T;
    },

    async hijack(path, ro = {}) {
      const http = await loadHttp();
      const fullPath = await versioned(path, ro.query);
      const what = `POST ${path}`;
      const timeoutMs = ro.timeoutMs ?? defaultTimeout;
      return new Promise((resolve, reject) => {
        // Its own connection (agent: false): once upgraded, the socket belongs to the caller.
        const req = http.request({
          socketPath,
          agent: false,
          method: 'POST',
          path: fullPath,
          headers: { Host: 'docker', Connection: 'Upgrade', Upgrade: 'tcp', ...ro.headers },
          ...(ro.signal && { signal: ro.signal }),
        });
        const done = guard(req, socketPath, what, timeoutMs, ro.signal, reject);
        req.on('upgrade', (_res, socket, head) => {
          done();
          resolve({ socket, head });
        });
        req.on('response', (res) => {
          // Not upgraded: an error answer (no such container, ...).
          void readBody(res).then(
            (body) => {
              done();
              reject(httpError(res.statusCode ?? 0, what, body.toString('utf8')));
            },
            (err: unknown) => {
              done();
              reject(unreachable(socketPath, err));
            },
          );
        });
        req.end();
      });
    },

    close() {
      agent?.destroy();
      agent = undefined;
    },
  };
}
