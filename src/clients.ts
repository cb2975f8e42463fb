import { homedir } from 'node:os';
import { join } from 'node:path';
import { WardenError, describe } from './errors.js';

/** The MCP clients whose configs `scan` and `import` know, and where each keeps its config. */
export type Client = 'claude' | 'cursor' | 'vscode';
export const CLIENTS: readonly Client[] = ['claude', 'cursor', 'vscode'];

export function clientConfigPaths(
  client: Client,
  env: NodeJS.ProcessEnv = process.env,
  platform = process.platform,
  cwd = process.cwd(),
): string[] {
  const home = env.HOME || env.USERPROFILE || homedir();
  const appData = env.APPDATA || join(home, 'AppData', 'Roaming');
  const userDir = (app: string) =>
    platform === 'darwin'
      ? join(home, 'Library', 'Application Support', app)
      : platform === 'win32'
        ? join(appData, app)
        : join(env.XDG_CONFIG_HOME || join(home, '.config'), app);
  switch (client) {
    case 'claude':
      return [join(userDir('Claude'), 'claude_desktop_config.json')];
    case 'cursor':
      return [join(home, '.cursor', 'mcp.json'), join(cwd, '.cursor', 'mcp.json')];
    case 'vscode':
      return [join(userDir('Code'), 'User', 'mcp.json'), join(cwd, '.vscode', 'mcp.json')];
  }
}

/** One server entry as MCP clients write it (Claude, Cursor: `mcpServers`; VS Code: `servers`). */
export interface ClientServer {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
  [other: string]: unknown;
}

/**
 * A client config's JSON. VS Code allows `//` comments and trailing commas in its files, so those
 * are dropped first (a comment that shares a line with a value is not, and fails to parse).
 */
export function parseClientJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text.replace(/^\s*\/\/.*$/gm, '').replace(/,(\s*[}\]])/g, '$1'));
  } catch (err) {
    throw new WardenError('INVALID_VALUE', `${file}: not valid JSON (${describe(err)}); nothing was changed`);
  }
}

/** The key holding the servers in a client config document, and the servers. */
export function serversOf(doc: unknown): { key: string; servers: Record<string, ClientServer> } | undefined {
  if (!doc || typeof doc !== 'object') return undefined;
  const d = doc as Record<string, unknown>;
  for (const key of ['mcpServers', 'servers']) {
    const v = d[key];
    if (v && typeof v === 'object' && !Array.isArray(v))
      return { key, servers: v as Record<string, ClientServer> };
  }
  // VS Code settings.json: { "mcp": { "servers": { ... } } }
  const mcp = d.mcp;
  if (mcp && typeof mcp === 'object') {
    const inner = serversOf(mcp);
    if (inner) return { key: `mcp.${inner.key}`, servers: inner.servers };
  }
  return undefined;
}
