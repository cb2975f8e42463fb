import { WardenError, describe } from '../../../errors.js';
import type { Request, Response } from '../../jsonrpc.js';
import { SEPARATOR } from '../../names.js';
import { callNext, type AuditEvent, type AuditSink, type CallContext, type Stage } from '../../pipeline.js';

/**
 * The audit stage: the outermost call stage, so it sees what every later stage decided.
 *
 * A `tools/call` gives exactly one line, written when the call has settled:
 *  - `tool_call` with outcome `ok`, or `error` (a JSON-RPC error, a result with isError, or a
 *    failure inside the gateway), when no stage refused it;
 *  - the refusal's own event (`rate_limit_exceeded`, `policy_denied`, `secret_leak`...) with
 *    outcome `denied` and the stage's reason, when one did. A call refused by the leak check on
 *    its result did reach the server: its line is still the one `secret_leak` line.
 * So the lines of tools/call requests are as many as the calls, and with nothing refused the
 * `tool_call` lines alone are. Any other method gives a line only when a stage refused it.
 *
 * Auditing never makes a call fail: the log's record() does not throw, and is guarded anyway.
 */
export interface AuditStageOptions {
  /** Where lines go: an AuditLog (writer.ts). */
  log: AuditSink;
}

export function audit(opts: AuditStageOptions): Stage {
  if (typeof opts?.log?.record !== 'function')
    throw new WardenError('CONFIG_INVALID', 'gateway.audit: the audit stage needs an audit log to write to');
  const sink = opts.log;
  /** Calls this stage has passed on and not yet seen settle. */
  let inFlight = 0;
  // Not async: one promise (next's) per call instead of three.
  return function audit(ctx, next) {
    // What the client asked, as it arrived: later stages and the router may replace parts of it.
    const request = ctx.request;
    const start = performance.now();
    inFlight++;
    const recorded = (response: Response | undefined, thrown: unknown) => {
      inFlight--;
      if (request.method !== 'tools/call' && ctx.denial === undefined) return;
      try {
        sink.record(callEvent(ctx, request, response, thrown, performance.now() - start), inFlight === 0);
      } catch {
        // The writer reports its own failures; a call never fails because of its audit line.
      }
    };
    return callNext(next).then(
      (response) => {
        recorded(response, undefined);
        return response;
      },
      (err: unknown) => {
        recorded(undefined, err);
        throw err;
      },
    );
  };
}

function callEvent(
  ctx: CallContext,
  request: Request,
  response: Response | undefined,
  thrown: unknown,
  ms: number,
): AuditEvent {
  const { client, denial } = ctx;
  const params = request.params;
  const name = typeof params?.name === 'string' ? params.name : undefined;
  const event: AuditEvent = {
    event: denial?.event ?? 'tool_call',
    client_id: client.id,
    client_ip: ctx.clientIp,
    api_key_hash: client.keyHash,
    session: ctx.session.id.slice(0, 8),
    method: request.method,
  };
  if (request.method === 'tools/call' && name !== undefined) {
    const cut = name.indexOf(SEPARATOR);
    if (cut > 0) event.server = name.slice(0, cut);
    event.tool = name;
  } else if (request.method === 'prompts/get' && name !== undefined) {
    event.prompt = name;
  } else if (typeof params?.uri === 'string') {
    event.uri = params.uri;
  }
  if (params?.arguments !== undefined) event.arguments = params.arguments;
  if (denial !== undefined) {
    event.outcome = 'denied';
    event.reason = denial.reason;
  } else if (thrown !== undefined) {
    event.outcome = 'error';
    event.reason = `gateway error: ${describe(thrown)}`;
  } else if (response?.error !== undefined) {
    event.outcome = 'error';
    event.reason = response.error.message;
    event.error_code = response.error.code;
  } else {
    event.outcome = response?.result?.isError === true ? 'error' : 'ok';
  }
  event.duration_ms = ms;
  return event;
}
