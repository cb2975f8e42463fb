import type { Request, Response } from './jsonrpc.js';
import type { Session } from './session.js';

/**
 * Every client request passes through the pipeline's stages in order, the router last. A stage
 * is a named function built from options (checked when it is built, not per request) that may
 * answer by itself (a denial) or call `next` and look at, or change, what comes back. The
 * security stages (keys, limits, policy, leak guard, audit) are stages of this shape.
 */
export interface CallContext {
  session: Session;
  request: Request;
  front: 'stdio' | 'http' | 'sse';
  /** The peer address on the HTTP fronts. */
  clientIp?: string;
}

export type Stage = (ctx: CallContext, next: () => Promise<Response>) => Promise<Response>;

export type Handler = (ctx: CallContext) => Promise<Response>;

export function compose(stages: readonly Stage[], last: Handler): Handler {
  if (stages.length === 0) return last;
  return (ctx) => {
    const step = (i: number): Promise<Response> =>
      i === stages.length ? last(ctx) : stages[i]!(ctx, () => step(i + 1));
    return step(0);
  };
}
