import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { EMBEDDED_REF, type SecretNeed, type ServerConfig } from '../servers/schema.js';

/**
 * A remote Streamable HTTP server behind our stdio: each message from stdin is sent with the
 * server's headers, their `secret://` references resolved now, at connect time; answers and
 * server messages (JSON or SSE) come back on stdout. The MCP SDK's transports do the protocol
 * (sessions, SSE, the protocol version header): this bridge serves one client, off any hot path.
 */
export interface BridgeIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The headers with each embedded reference replaced by its value. */
export function resolveHeaders(
  server: ServerConfig,
  values: Map<SecretNeed, string>,
): Record<string, string> {
  const byRef = new Map<string, string>();
  for (const [need, value] of values)
    if (need.ref && need.header) byRef.set(`${need.header}\0${need.ref}`, value);
  const out: Record<string, string> = {};
  for (const [header, template] of Object.entries(server.headers)) {
    out[header] = template.replace(EMBEDDED_REF, (ref) => byRef.get(`${header}\0${ref}`) ?? ref);
  }
  return out;
}

export async function bridgeRemote(
  server: ServerConfig,
  headers: Record<string, string>,
  io: BridgeIO,
  /** The secret values in those headers, scrubbed from every error we print or relay. */
  secrets: readonly string[] = [],
): Promise<number> {
  const [{ StreamableHTTPClientTransport }, { StdioServerTransport }] = await Promise.all([
    import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/server/stdio.js'),
  ]);
  const remote = new StreamableHTTPClientTransport(new URL(server.url!), { requestInit: { headers } });
  const local = new StdioServerTransport(io.stdin as NodeJS.ReadStream, io.stdout as NodeJS.WriteStream);
  // A remote server's error body could echo our headers back.
  const why = (err: unknown) =>
    secrets.reduce(
      (text, s) => text.split(s).join('[redacted]'),
      err instanceof Error ? err.message : String(err),
    );
  const report = (what: string, err: unknown) =>
    io.stderr.write(`mcp-warden: ${server.name}: ${what}: ${why(err)}\n`);

  let failures = 0;
  remote.onmessage = (m) => void local.send(m).catch((err: unknown) => report('cannot write to stdout', err));
  remote.onerror = (err) => report('remote server', err);
  local.onmessage = (m: JSONRPCMessage) => {
    remote.send(m).catch((err: unknown) => {
      failures++;
      report('request failed', err);
      // A request must not be left without an answer: the client would wait forever.
      if ('method' in m && 'id' in m) {
        const message = `remote server ${server.url} failed: ${why(err)}`;
        void local.send({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message } });
      }
    });
  };
  const closed = new Promise<void>((resolve) => {
    local.onclose = () => resolve();
    io.stdin.once('end', () => resolve());
  });
  await remote.start();
  await local.start();
  await closed;
  await remote.terminateSession().catch(() => undefined);
  await remote.close();
  return failures > 0 ? 1 : 0;
}
