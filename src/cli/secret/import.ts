import { WardenError } from '../../errors.js';
import { readUserFile } from '../../fsutil.js';
import { SECRET_NAME } from '../../names.js';
import { dotenvParse } from '../../store/dotenv-edit.js';
import { importTarget, openCliStore, parse, plural } from '../common.js';
import { usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret import FILE.env [--provider P] [--dry-run]

Loads every entry of a dotenv file (dotenv's own parsing rules) into a provider: --provider P,
else the recommended one. All names are checked before anything is stored; empty values are
skipped. The file itself is left as it is: delete it yourself once the import is done.
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ provider?: string; 'dry-run'?: boolean }>(
    cli,
    args,
    { provider: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  const [file, ...extra] = p.positionals;
  if (file === undefined || extra.length > 0) throw usage('secret import takes one FILE.env');
  const text = (await readUserFile(file)).toString('utf8');
  const entries = Object.entries(dotenvParse(text));
  const bad = entries.filter(([k]) => !SECRET_NAME.test(k)).map(([k]) => k);
  if (bad.length > 0)
    throw new WardenError(
      'INVALID_NAME',
      `${file}: invalid secret names ${bad.map((b) => JSON.stringify(b)).join(', ')}; nothing was imported`,
    );
  const empty = entries.filter(([, v]) => v === '').map(([k]) => k);
  const todo = entries.filter(([, v]) => v !== '');
  const store = await openCliStore(cli, p.values.config);
  const target = await importTarget(store, p.values.provider);
  if (empty.length) cli.stderr(`mcp-warden: skipping empty ${empty.join(', ')}\n`);
  for (const [i, [name, value]] of todo.entries()) {
    if (p.values['dry-run']) cli.stdout(`would store ${name} in ${target.name}\n`);
    else {
      await target.set(name, value);
      cli.stderr(`[${i + 1}/${todo.length}] ${name}\n`);
    }
  }
  cli.stdout(
    `${p.values['dry-run'] ? 'would import' : 'imported'} ${plural(todo.length, 'secret')} from ${file} into ${target.name}\n`,
  );
  return 0;
}
