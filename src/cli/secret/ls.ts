import { openCliStore, parse } from '../common.js';
import { json, table, usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret ls [--provider P] [--json]

Lists secret names with their provider, created and updated times and version; never values.
Without --provider: every provider of the chain except env (use --provider env for that).
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ provider?: string; json?: boolean }>(
    cli,
    args,
    { provider: { type: 'string' }, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  if (p.positionals.length > 0) throw usage('secret ls takes no names; see --help');
  const store = await openCliStore(cli, p.values.config);
  const { secrets, failures } = await store.list(p.values.provider ? [p.values.provider] : undefined);
  for (const f of failures) cli.stderr(`mcp-warden: could not list ${f}\n`);
  if (p.values.json) {
    cli.stdout(json(secrets));
  } else if (secrets.length === 0) {
    if (failures.length === 0) cli.stderr('no secrets\n');
  } else {
    cli.stdout(
      table(
        ['NAME', 'PROVIDER', 'CREATED', 'UPDATED', 'VERSION'],
        secrets.map((s) => [
          s.name,
          s.provider,
          s.created ?? '-',
          s.updated ?? '-',
          s.version === undefined ? '-' : String(s.version),
        ]),
      ),
    );
  }
  return failures.length > 0 ? 1 : 0;
}
