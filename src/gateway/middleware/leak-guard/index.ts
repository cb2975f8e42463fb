import { WardenError } from '../../../errors.js';
import { SECRET_LEAK_BLOCKED, errorResponse, type Response } from '../../jsonrpc.js';
import { SEPARATOR } from '../../names.js';
import { callNext, type CallContext, type SecretSource, type Stage } from '../../pipeline.js';
import { ANY_SERVER, NOTHING_ALLOWED, compileAllow, type Allow } from './allow.js';
import { inspect, type Detectors, type Finding, type Inspection } from './scan.js';
import { SecretIndex } from './secrets.js';

export { DETECTORS, type DetectorId } from './detectors.js';
export type { Finding } from './scan.js';

/**
 * The secret-leak guard (`gateway.leakGuard`): no managed secret value and no well-known token
 * goes to a server in a call's arguments or back to a client in a result.
 *
 * - Arguments (`tools/call`, `prompts/get`: `params.arguments`) are checked before the call;
 *   results (`tools/call`, `prompts/get`, `resources/read`, `completion/complete`: the whole
 *   `result`, or the `error` a server answered) after it. The lists are the servers' own
 *   descriptions and are not checked.
 * - `redact` (the default) replaces each hit with `[redacted:NAME]` (a managed secret) or
 *   `[redacted:<detector>]` (a token shape) and goes on, telling `onLeak` what it found and where
 *   (never the text). `block` refuses: arguments never reach the server, a result never reaches
 *   the client; the answer is a SECRET_LEAK_BLOCKED error and `ctx.denial` a `secret_leak` with
 *   the detector and the JSON path (for the audit; `onLeak` is not called for a block).
 * - The allowlist is per server (the call's tool, prompt or resource decides which), `*` for all.
 */
export interface LeakGuardConfig {
  enabled: boolean;
  mode: 'redact' | 'block';
  /** The token-shape detectors (detectors.ts); managed secrets are always looked for. */
  shapes: boolean;
  /** Server name (or `*`) → detector ids, `secret:NAME`, `literal:TEXT` it may pass. */
  allow: Readonly<Record<string, readonly string[]>>;
}

export interface LeakInfo {
  direction: 'arguments' | 'result';
  /** The server the call went to, when known. */
  server: string | undefined;
  /** The exposed tool or prompt name, or the resource URI (with any secret in it redacted). */
  tool: string | undefined;
  /** A detector id, or `secret:NAME`. */
  detector: string;
  /** JSON path of the string that held it: `arguments.body`, `result.content[0].text`. */
  path: string;
}

export interface LeakGuardOptions extends Partial<LeakGuardConfig> {
  /** The values mcp-warden manages; the same array until a reload replaces it. */
  secrets?: SecretSource;
  /** Told of every redaction (for the audit's `secret_leak` events). Must not throw. */
  onLeak?: (info: LeakInfo) => void;
}

export const LEAK_GUARD_DEFAULTS: LeakGuardConfig = {
  enabled: true,
  mode: 'redact',
  shapes: true,
  allow: {},
};

const ARGUMENTS = new Set(['tools/call', 'prompts/get']);
const RESULTS = new Set(['tools/call', 'prompts/get', 'resources/read', 'completion/complete']);

export function leakGuard(options: LeakGuardOptions = {}): Stage {
  const opts = { ...LEAK_GUARD_DEFAULTS, ...options };
  if (opts.mode !== 'redact' && opts.mode !== 'block')
    throw new WardenError('CONFIG_INVALID', 'gateway.leakGuard.mode: must be redact or block');
  for (const key of ['enabled', 'shapes'] as const)
    if (typeof opts[key] !== 'boolean')
      throw new WardenError('CONFIG_INVALID', `gateway.leakGuard.${key}: must be true or false`);
  if (opts.secrets !== undefined && typeof opts.secrets !== 'function')
    throw new WardenError('CONFIG_INVALID', 'gateway.leakGuard: secrets must be a function');
  const allowed = compileAllow(opts.allow);
  const allowFor = (server: string | undefined): Allow =>
    (server !== undefined ? allowed.get(server) : undefined) ?? allowed.get(ANY_SERVER) ?? NOTHING_ALLOWED;
  const block = opts.mode === 'block';
  const source = opts.secrets;
  const onLeak = opts.onLeak;

  if (!opts.enabled)
    return async function leakGuard(_ctx: CallContext, next: () => Promise<Response>): Promise<Response> {
      return next();
    };

  // Rebuilt only when the source answers another array (a reload).
  let list: ReturnType<SecretSource> | undefined;
  let detectors: Detectors = { shapes: opts.shapes, index: undefined };
  const current = (): Detectors => {
    if (!source) return detectors;
    const now = source();
    if (now !== list) {
      list = now;
      const index = new SecretIndex(now);
      detectors = { shapes: opts.shapes, index: index.secrets.length > 0 ? index : undefined };
    }
    return detectors;
  };

  /** The answer as the client may see it: inspected, and redacted or withheld if it holds a secret. */
  const checked = (ctx: CallContext, d: Detectors, res: Response): Response => {
    const field = res.result !== undefined ? 'result' : res.error !== undefined ? 'error' : undefined;
    if (!field) return res;
    const server = serverOf(ctx);
    const found = inspect(res[field], field, d, allowFor(server));
    if (!found) return res;
    const what = subject(ctx, d);
    if (block) {
      const f = found.findings[0]!;
      const reason =
        `the result of ${labelOf(what)} held a secret (${describe(f)}); it was withheld ` +
        `(gateway.leakGuard.allow lists what a server may return)`;
      ctx.denial = { event: 'secret_leak', status: 403, reason };
      return errorResponse(res.id, SECRET_LEAK_BLOCKED, reason, { detector: f.detector, path: f.path });
    }
    report(onLeak, 'result', server, what.name, found);
    return { ...res, [field]: found.value };
  };

  // Not async: one promise (next's, and its then) per call, none of our own.
  return function leakGuard(ctx: CallContext, next: () => Promise<Response>): Promise<Response> {
    const req = ctx.request;
    if (!RESULTS.has(req.method)) return next();
    const d = current();
    const params = req.params;

    if (ARGUMENTS.has(req.method) && params?.arguments !== undefined) {
      const found = inspect(params.arguments, 'arguments', d, allowFor(serverOf(ctx)));
      if (found) {
        const what = subject(ctx, d);
        if (block) {
          const f = found.findings[0]!;
          const reason =
            `the arguments of ${labelOf(what)} hold a secret (${describe(f)}); the call was blocked ` +
            `(gateway.leakGuard.allow lists what a server may receive)`;
          ctx.denial = { event: 'secret_leak', status: 403, reason };
          return Promise.resolve(
            errorResponse(req.id, SECRET_LEAK_BLOCKED, reason, { detector: f.detector, path: f.path }),
          );
        }
        report(onLeak, 'arguments', serverOf(ctx), what.name, found);
        ctx.request = { ...req, params: { ...params, arguments: found.value } };
      }
    }
    return callNext(next).then((res) => checked(ctx, d, res));
  };
}

function describe(f: Finding): string {
  return `${f.detector.startsWith('secret:') ? `managed ${f.detector}` : `detector ${f.detector}`} at ${f.path}`;
}

function report(
  onLeak: LeakGuardOptions['onLeak'],
  direction: LeakInfo['direction'],
  server: string | undefined,
  tool: string | undefined,
  found: Inspection,
): void {
  if (!onLeak) return;
  for (const f of found.findings) onLeak({ direction, server, tool, detector: f.detector, path: f.path });
}

/** The server a call is for: the identity's tables (filled once the client listed), else the prefix. */
function serverOf(ctx: CallContext): string | undefined {
  const { method, params } = ctx.request;
  const identity = ctx.session.identity;
  if (method === 'resources/read') {
    const uri = params?.uri;
    return typeof uri === 'string' ? identity.resources.get(uri)?.server : undefined;
  }
  if (method === 'completion/complete') {
    const ref = params?.ref as { name?: unknown; uri?: unknown } | undefined;
    if (typeof ref?.name === 'string') return identity.prompts.get(ref.name)?.server;
    return typeof ref?.uri === 'string' ? identity.resources.get(ref.uri)?.server : undefined;
  }
  const name = params?.name;
  if (typeof name !== 'string') return undefined;
  const hit = (method === 'prompts/get' ? identity.prompts : identity.tools).get(name);
  if (hit) return hit.server;
  const at = name.indexOf(SEPARATOR);
  return at > 0 ? name.slice(0, at) : undefined;
}

/** What the call names (a tool, a prompt, a URI), with any secret in it redacted. */
function subject(ctx: CallContext, d: Detectors): { kind: string; name: string | undefined } {
  const { method, params } = ctx.request;
  const kind =
    method === 'tools/call'
      ? 'tool'
      : method === 'prompts/get'
        ? 'prompt'
        : method === 'resources/read'
          ? 'resource'
          : 'completion';
  const raw =
    method === 'resources/read' ? params?.uri : method === 'completion/complete' ? undefined : params?.name;
  if (typeof raw !== 'string') return { kind, name: undefined };
  const found = inspect(raw, 'name', d, NOTHING_ALLOWED);
  return { kind, name: found ? (found.value as string) : raw };
}

function labelOf(s: { kind: string; name: string | undefined }): string {
  return s.name === undefined ? `the ${s.kind}` : `${s.kind} ${s.name}`;
}
