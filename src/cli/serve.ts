import { prepareProcess } from '../delivery/process.js';
import { runChild } from '../delivery/spawn.js';
import { WardenError } from '../errors.js';
import { assess } from '../servers/readiness.js';
import { openServers, parse } from './common.js';
import { usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden serve SERVER [--env E]

Starts one configured server with its secrets and bridges its stdio to ours, so an MCP client
config can say: "command": "mcp-warden", "args": ["serve", "github"]. Nothing but the server's
own output reaches stdout. A server whose required secret is missing or invalid does not start:
exit 1 with the reason on stderr.
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ env?: string }>(cli, args, { env: { type: 'string' } }, HELP);
  if (!p) return 0;
  const [name, ...extra] = p.positionals;
  if (name === undefined || extra.length > 0) throw usage('serve takes exactly one SERVER');
  const { store, servers } = await openServers(cli, p.values.config, p.values.env);
  const server = servers.find((s) => s.name === name);
  if (!server)
    throw usage(`no server named "${name}" (configured: ${servers.map((s) => s.name).join(', ') || 'none'})`);
  const r = await assess(store, server);
  if (r.state !== 'ready') {
    throw new WardenError(
      'SECRET_NOT_FOUND',
      `server "${name}" is ${r.state}: ${r.problems.map((x) => x.detail).join('; ') || 'off in the config'}`,
    );
  }
  if (server.kind === 'docker') {
    const { serveContainer } = await import('../delivery/container.js');
    const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: cli.env };
    return serveContainer(server, r.values, io);
  }
  if (server.kind === 'swarm') {
    const { serveSwarm } = await import('../delivery/swarm-service.js');
    const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: cli.env };
    return serveSwarm(server, r.values, io);
  }
  if (server.kind === 'remote') {
    const { bridgeRemote, resolveHeaders } = await import('../delivery/remote.js');
    const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
    return bridgeRemote(server, resolveHeaders(server, r.values), io);
  }
  const prepared = await prepareProcess(server, r.values, cli.env);
  try {
    return await runChild(server.command!, server.args, {
      env: prepared.env,
      stdio: 'inherit',
      ...(server.cwd && { cwd: server.cwd }),
    });
  } catch (err) {
    // 127 (not found) and 126 (not executable), as a shell would answer.
    const code = (err as { cause?: { exitCode?: number } }).cause?.exitCode;
    if (err instanceof WardenError && code !== undefined) {
      cli.stderr(`mcp-warden: ${err.message}\n`);
      return code;
    }
    throw err;
  } finally {
    await prepared.cleanup();
  }
}
