import { prepareProcess } from '../delivery/process.js';
import { runCommand } from '../delivery/spawn.js';
import { WardenError } from '../errors.js';
import { assess } from '../servers/readiness.js';
import type { ServerConfig } from '../servers/schema.js';
import type { Store } from '../store/store.js';
import { openCliStore, openServers, parse } from './common.js';
import { usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden serve SERVER [--env E]
       mcp-warden serve --url URL [--header "NAME: VALUE"]...

Starts one configured server with its secrets and bridges its stdio to ours, so an MCP client
config can say: "command": "mcp-warden", "args": ["serve", "github"]. Nothing but the server's
own output reaches stdout. A server whose required secret is missing or invalid does not start:
exit 1 with the reason on stderr.
The second form bridges a remote Streamable HTTP server without a config (what 'import' writes
for remote servers); secret:// references in header values are resolved when connecting.
`;

/** A remote server given on the command line, as `import` writes it into client configs. */
async function adHocRemote(url: string, headers: string[]): Promise<ServerConfig> {
  const map: Record<string, string> = {};
  for (const h of headers) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw usage(`--header takes "NAME: VALUE", got ${JSON.stringify(h.slice(0, 40))}`);
    map[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
  }
  const { parseServers } = await import('../servers/schema.js');
  const [server] = await parseServers('the command line', { servers: { remote: { url, headers: map } } });
  return server!;
}

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ env?: string; url?: string; header?: string[] }>(
    cli,
    args,
    { env: { type: 'string' }, url: { type: 'string' }, header: { type: 'string', multiple: true } },
    HELP,
  );
  if (!p) return 0;
  let store: Store;
  let server: ServerConfig | undefined;
  const [name, ...extra] = p.positionals;
  if (p.values.url !== undefined) {
    if (name !== undefined) throw usage('give a SERVER or --url, not both');
    server = await adHocRemote(p.values.url, p.values.header ?? []);
    store = await openCliStore(cli, p.values.config, p.values.env);
  } else {
    if (name === undefined || extra.length > 0) throw usage('serve takes exactly one SERVER (or --url URL)');
    const opened = await openServers(cli, p.values.config, p.values.env);
    store = opened.store;
    server = opened.servers.find((s) => s.name === name);
    if (!server) {
      const known = opened.servers.map((s) => s.name).join(', ') || 'none';
      throw usage(`no server named "${name}" (configured: ${known})`);
    }
  }
  const r = await assess(store, server);
  if (r.state !== 'ready') {
    throw new WardenError(
      'SECRET_NOT_FOUND',
      `server "${server.name}" is ${r.state}: ${r.problems.map((x) => x.detail).join('; ') || 'off in the config'}`,
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
    return bridgeRemote(server, resolveHeaders(server, r.values), io, [...r.values.values()]);
  }
  const prepared = await prepareProcess(server, r.values, cli.env);
  try {
    return await runCommand(server.command!, server.args, {
      env: prepared.env,
      stderr: (t) => cli.stderr(t),
      ...(server.cwd && { cwd: server.cwd }),
    });
  } finally {
    await prepared.cleanup();
  }
}
