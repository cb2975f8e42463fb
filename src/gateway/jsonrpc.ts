/**
 * The JSON-RPC shapes the gateway routes. A message is parsed once, when it arrives; routing
 * reads only `id`, `method` and the few params it maps (a name, a URI, a progress token), and
 * the message object is forwarded with those fields rewritten in place. Validation of the rest
 * is the business of the server that answers it.
 */
export type Id = string | number;

export interface Request {
  jsonrpc: '2.0';
  id: Id;
  method: string;
  params?: Params;
}

export interface Notification {
  jsonrpc: '2.0';
  method: string;
  params?: Params;
}

export interface ErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface Response {
  jsonrpc: '2.0';
  id: Id | null;
  result?: Record<string, unknown>;
  error?: ErrorObject;
}

export type Message = Request | Notification | Response;

export interface Params {
  [key: string]: unknown;
  _meta?: Meta;
}

export interface Meta {
  [key: string]: unknown;
  progressToken?: Id;
}

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server errors (-32000 to -32099). */
export const SERVER_UNAVAILABLE = -32001;
/** What the SDK answers for an unknown Mcp-Session-Id; same number, another meaning. */
export const SESSION_NOT_FOUND = -32001;
export const REQUEST_CANCELLED = -32800;
export const RESOURCE_NOT_FOUND = -32002;
export const HEADER_MISMATCH = -32020;
export const UNSUPPORTED_PROTOCOL_VERSION = -32022;
/** The security stages' refusals (implementation-defined server errors). */
export const UNAUTHENTICATED = -32041;
export const FORBIDDEN = -32043;
export const RATE_LIMITED = -32029;
export const POLICY_DENIED = -32030;
export const SECRET_LEAK_BLOCKED = -32031;

export function isRequest(m: Message): m is Request {
  return 'method' in m && 'id' in m && m.id !== undefined && m.id !== null;
}

export function isResponse(m: Message): m is Response {
  return !('method' in m) && ('result' in m || 'error' in m);
}

export function errorResponse(id: Id | null, code: number, message: string, data?: unknown): Response {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

export function resultResponse(id: Id, result: Record<string, unknown>): Response {
  return { jsonrpc: '2.0', id, result };
}

/**
 * Parses one message and checks the envelope only: an object with jsonrpc "2.0" that is a
 * request, a notification or a response. Answers the error to send back when it is not.
 */
export function parseMessage(text: string): { message: Message } | { error: Response } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { error: errorResponse(null, PARSE_ERROR, 'Parse error: not valid JSON') };
  }
  return checkEnvelope(value);
}

export function checkEnvelope(value: unknown): { message: Message } | { error: Response } {
  if (Array.isArray(value))
    return {
      error: errorResponse(null, INVALID_REQUEST, 'Invalid Request: JSON-RPC batches are not supported'),
    };
  if (typeof value !== 'object' || value === null)
    return { error: errorResponse(null, INVALID_REQUEST, 'Invalid Request: expected one JSON-RPC object') };
  const m = value as Record<string, unknown>;
  const id = m.id;
  const idOk = id === undefined || typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
  if (m.jsonrpc !== '2.0' || !idOk)
    return {
      error: errorResponse(
        typeof id === 'string' || typeof id === 'number' ? id : null,
        INVALID_REQUEST,
        'Invalid Request: jsonrpc must be "2.0" and id a string or number',
      ),
    };
  if (typeof m.method === 'string') {
    // MCP's params are always by name: an array (by position) is as wrong as a number.
    if (
      m.params !== undefined &&
      (typeof m.params !== 'object' || m.params === null || Array.isArray(m.params))
    )
      return {
        error: errorResponse(id ?? null, INVALID_REQUEST, 'Invalid Request: params must be an object'),
      };
    return { message: m as unknown as Message };
  }
  if (m.method === undefined && id !== undefined && ('result' in m || 'error' in m))
    return { message: m as unknown as Message };
  return {
    error: errorResponse(id ?? null, INVALID_REQUEST, 'Invalid Request: no method'),
  };
}
