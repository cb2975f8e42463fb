import { WardenError, describe } from '../../errors.js';
import { openCliStore, parse, plural } from '../common.js';
import { json, usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret migrate --from P --to Q [--delete-source] [--json]

Copies every secret of provider P into provider Q, reads each back from Q and compares it.
With --delete-source, and only when every secret copied and verified, removes them from P.
Any failure is reported per name and leaves P untouched.
`;

interface Outcome {
  name: string;
  ok: boolean;
  error?: string;
}

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ from?: string; to?: string; 'delete-source'?: boolean; json?: boolean }>(
    cli,
    args,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      'delete-source': { type: 'boolean' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (!p) return 0;
  const { from, to } = p.values;
  if (!from || !to) throw usage('secret migrate needs --from P and --to Q');
  if (from === to) throw usage('--from and --to name the same provider');
  if (p.positionals.length > 0) throw usage('secret migrate takes no names');
  const store = await openCliStore(cli, p.values.config);
  const [src, dst] = await store.providers([from, to]);
  if (!src!.capabilities.list || !src!.list || !src!.capabilities.read) {
    throw new WardenError(
      'PROVIDER_UNSUPPORTED',
      `provider "${from}" (${src!.type}) cannot list and read its secrets`,
    );
  }
  if (!dst!.capabilities.set || !dst!.set)
    throw new WardenError('PROVIDER_READ_ONLY', `provider "${to}" (${dst!.type}) is read-only`);
  if (p.values['delete-source'] && !src!.delete)
    throw new WardenError('PROVIDER_READ_ONLY', `provider "${from}" is read-only; drop --delete-source`);

  const names = (await src!.list()).map((s) => s.name);
  const outcomes: Outcome[] = [];
  for (const [i, name] of names.entries()) {
    if (!p.values.json) cli.stderr(`[${i + 1}/${names.length}] ${name}\n`);
    try {
      const value = await src!.get(name);
      if (value === undefined)
        throw new WardenError('SECRET_NOT_FOUND', 'vanished from the source during the copy');
      await dst!.set(name, value);
      if (dst!.capabilities.read && (await dst!.get(name)) !== value)
        throw new WardenError('MIGRATION_FAILED', `read back from ${to} differs`);
      outcomes.push({ name, ok: true });
    } catch (err) {
      outcomes.push({ name, ok: false, error: err instanceof WardenError ? err.message : describe(err) });
    }
  }
  const failed = outcomes.filter((o) => !o.ok);
  let deleted = 0;
  if (p.values['delete-source'] && failed.length === 0) {
    for (const o of outcomes) if (await src!.delete!(o.name)) deleted++;
  }
  if (p.values.json) {
    cli.stdout(
      json({
        from,
        to,
        copied: outcomes.length - failed.length,
        failed: failed.length,
        deletedFromSource: deleted,
        secrets: outcomes,
      }),
    );
  } else {
    for (const f of failed) cli.stderr(`mcp-warden: ${f.name}: ${f.error}\n`);
    cli.stdout(
      `copied ${outcomes.length - failed.length} of ${plural(names.length, 'secret')} from ${from} to ${to}` +
        (p.values['delete-source']
          ? failed.length
            ? `; ${from} left intact because of the failures`
            : `; removed ${deleted} from ${from}`
          : '') +
        '\n',
    );
  }
  if (failed.length > 0)
    throw new WardenError(
      'MIGRATION_FAILED',
      `${plural(failed.length, 'secret')} failed to migrate; ${from} is unchanged`,
    );
  return 0;
}
