import { report } from './status.js';
import type { Cli } from './io.js';

const HELP = `Usage: mcp-warden check [SERVER...] [--env E] [--json]

Like 'mcp-warden status', for CI: exit 1 when any enabled server lacks a required secret or has
an invalid one, 0 when every enabled server can start.
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const reports = await report(args, cli, HELP);
  if (!reports) return 0;
  const failing = reports.filter((r) => r.state === 'disabled' || r.state === 'invalid');
  if (failing.length > 0) cli.stderr(`mcp-warden: ${failing.map((r) => r.server).join(', ')} cannot start\n`);
  return failing.length > 0 ? 1 : 0;
}
