import type { Readable, Writable } from 'node:stream';
import { splitLines } from '../channel.js';
import type { Gateway } from '../gateway.js';
import {
  checkEnvelope,
  isRequest,
  isResponse,
  type Message,
  errorResponse,
  PARSE_ERROR,
} from '../jsonrpc.js';

/**
 * The stdio front, for a desktop client that spawns `mcp-warden gateway --stdio`: one session,
 * one identity. stdout carries JSON-RPC and nothing else (logs go to stderr). Resolves when the
 * client closes our stdin.
 */
export function serveStdio(gateway: Gateway, input: Readable, output: Writable): Promise<void> {
  const write = (m: unknown) => output.write(JSON.stringify(m) + '\n');
  const session = gateway.openSession(
    { deliver: (m) => write(m), canReceiveRequests: () => true },
    { id: 'stdio', identityKey: 'stdio' },
  );
  splitLines(input, (line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      write(errorResponse(null, PARSE_ERROR, 'Parse error: not valid JSON'));
      return;
    }
    const checked = checkEnvelope(value);
    if ('error' in checked) {
      write(checked.error);
      return;
    }
    const m: Message = checked.message;
    if (isRequest(m)) {
      void gateway
        .request({ session, request: m, front: 'stdio' })
        .then(write, (err: unknown) =>
          write(
            errorResponse(
              m.id,
              -32603,
              `internal error: ${err instanceof Error ? err.message : String(err)}`,
            ),
          ),
        );
    } else if (isResponse(m)) gateway.clientResponse(session, m);
    else gateway.notification(session, m);
  });
  return new Promise((resolve) => {
    input.once('end', () => resolve());
    input.once('close', () => resolve());
  });
}
