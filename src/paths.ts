import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$MCP_WARDEN_HOME`, else `$XDG_DATA_HOME/mcp-warden`, else `~/.local/share/mcp-warden`. */
export function dataHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.MCP_WARDEN_HOME) return env.MCP_WARDEN_HOME;
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'mcp-warden');
  return join(env.HOME || homedir(), '.local', 'share', 'mcp-warden');
}

/** Where a config is looked for when `--config` is not given, in order. */
export function configCandidates(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const xdg = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return [join(cwd, 'mcp-warden.yaml'), join(xdg, 'mcp-warden', 'config.yaml')];
}
