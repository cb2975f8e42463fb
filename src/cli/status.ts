import { assess, type Readiness } from '../servers/readiness.js';
import { openServers, parse } from './common.js';
import { json, paint, table, usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden status [SERVER...] [--env E] [--json]

For each configured server: ready, disabled (which secret is missing, which providers were asked),
invalid (a secret is empty, only whitespace, or fails its format check), or off (disabled in the
config). Values are never printed. 'mcp-warden check' is the same with an exit code for CI.
`;

export interface Report {
  server: string;
  kind: string;
  state: Readiness['state'];
  catalog?: string;
  problems: Readiness['problems'];
}

/** Shared by `status` and `check`: answers the reports, printed as a table or JSON. */
export async function report(args: string[], cli: Cli, help: string): Promise<Report[] | undefined> {
  const p = parse<{ env?: string; json?: boolean }>(
    cli,
    args,
    { env: { type: 'string' }, json: { type: 'boolean' } },
    help,
  );
  if (!p) return undefined;
  const { store, servers } = await openServers(cli, p.values.config, p.values.env);
  const unknown = p.positionals.filter((n) => !servers.some((s) => s.name === n));
  if (unknown.length > 0)
    throw usage(
      `no server named ${unknown.join(', ')} (configured: ${servers.map((s) => s.name).join(', ') || 'none'})`,
    );
  const chosen = p.positionals.length > 0 ? servers.filter((s) => p.positionals.includes(s.name)) : servers;
  const reports = (await Promise.all(chosen.map((s) => assess(store, s)))).map((r): Report => ({
    server: r.server.name,
    kind: r.server.kind,
    state: r.state,
    ...(r.server.catalog && { catalog: r.server.catalog }),
    problems: r.problems,
  }));
  if (p.values.json) cli.stdout(json(reports));
  else if (reports.length === 0) cli.stderr('no servers configured\n');
  else {
    const colour = { ready: '32', disabled: '31', invalid: '33', off: '2' } as const;
    cli.stdout(
      table(
        ['SERVER', 'KIND', 'STATE', 'DETAIL'],
        reports.map((r) => [
          r.server,
          r.kind,
          paint(cli, colour[r.state], r.state.padEnd(8)),
          r.problems.map((x) => x.detail).join('; ') || '-',
        ]),
      ),
    );
  }
  return reports;
}

export async function run(args: string[], cli: Cli): Promise<number> {
  await report(args, cli, HELP);
  return 0;
}
