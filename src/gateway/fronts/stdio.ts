import type { Readable, Writable } from 'node:stream';
import { splitLines } from '../channel.js';
import type { Gateway } from '../gateway.js';
import {
  INTERNAL_ERROR,
  errorResponse,
  isRequest,
  isResponse,
  parseMessage,
  type Message,
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
    { id: 'stdio', client: { id: 'stdio', via: 'stdio' } },
  );
  splitLines(input, (line) => {
    const checked = parseMessage(line);
    if ('error' in checked) {
      write(checked.error);
      return;
    }
    const m: Message = checked.message;
    if (isRequest(m)) {
      void gateway
        .request({ session, request: m, front: 'stdio', client: session.client })
        .then(write, (err: unknown) =>
          write(
            errorResponse(
              m.id,
              INTERNAL_ERROR,
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
