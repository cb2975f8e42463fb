import { diagnose } from '../../diagnose.js';
import { openCliStore, parse } from '../common.js';
import { json, paint, table, usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret diagnose [--json]

Which secret backends work on this machine and why, then the recommended strategy: where
'secret set' stores a secret by default.
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ json?: boolean }>(cli, args, { json: { type: 'boolean' } }, HELP);
  if (!p) return 0;
  if (p.positionals.length > 0) throw usage('secret diagnose takes no arguments');
  const store = await openCliStore(cli, p.values.config);
  const d = await diagnose(store, cli.env);
  if (p.values.json) {
    cli.stdout(json(d));
    return 0;
  }
  cli.stdout(
    table(
      ['BACKEND', 'USABLE', 'REASON'],
      d.rows.map((r) => [
        r.backend,
        r.usable ? paint(cli, '32', 'yes') : paint(cli, '2', 'no '),
        r.reason + (r.supported ? '' : ' (provider in a later release)'),
      ]),
    ),
  );
  cli.stdout(`\nLookup chain: ${d.chain.join(' -> ')}\n`);
  cli.stdout(
    `Recommended: store secrets in "${d.recommended.provider}" (${d.recommended.type}): ${d.recommended.reason}.\n`,
  );
  return 0;
}
