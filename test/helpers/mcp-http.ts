/**
 * A minimal Streamable HTTP client for the security tests: raw JSON-RPC over fetch, so a test
 * sees statuses and headers (401, 429, Retry-After) that an SDK client turns into exceptions.
 */
export interface Reply {
  status: number;
  headers: Headers;
  /** The JSON-RPC message answering the request (from JSON or from the SSE stream), if any. */
  body: {
    id?: unknown;
    result?: Record<string, unknown>;
    error?: { code: number; message: string; data?: unknown };
  };
}

let ids = 0;

export async function rpc(
  url: string,
  method: string,
  params: Record<string, unknown> | undefined,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const id = ++ids;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, ...(params && { params }) }),
  });
  const text = await res.text();
  let body: Reply['body'] = {};
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    for (const line of text.split('\n'))
      if (line.startsWith('data: ')) {
        const m = JSON.parse(line.slice(6)) as Reply['body'];
        if (m.id === id) body = m;
      }
  } else if (text) body = JSON.parse(text) as Reply['body'];
  return { status: res.status, headers: res.headers, body };
}

/** An initialized session, its headers (credentials included) sent with every request. */
export interface HttpSession {
  id: string;
  call(method: string, params?: Record<string, unknown>): Promise<Reply>;
  tool(name: string, args?: Record<string, unknown>): Promise<Reply>;
  /** The text of a tool result's first content item, or the error message. */
  text(name: string, args?: Record<string, unknown>): Promise<string>;
}

export async function openSession(url: string, headers: Record<string, string> = {}): Promise<HttpSession> {
  const init = await rpc(
    url,
    'initialize',
    { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'security-test', version: '1' } },
    headers,
  );
  const id = init.headers.get('mcp-session-id');
  if (init.status !== 200 || !id)
    throw new Error(`initialize: HTTP ${init.status} ${JSON.stringify(init.body)}`);
  const h = { ...headers, 'mcp-session-id': id, 'mcp-protocol-version': '2025-06-18' };
  await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...h },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  const call = (method: string, params?: Record<string, unknown>) => rpc(url, method, params, h);
  const tool = (name: string, args: Record<string, unknown> = {}) =>
    call('tools/call', { name, arguments: args });
  return {
    id,
    call,
    tool,
    async text(name, args) {
      const r = await tool(name, args);
      if (r.body.error) return `error ${r.body.error.code}: ${r.body.error.message}`;
      const content = r.body.result?.content as { text?: string }[] | undefined;
      return content?.[0]?.text ?? '';
    },
  };
}

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
