import { WardenError } from '../../errors.js';
import { assertSecretName } from '../../names.js';
import type { SecretProvider } from '../../provider.js';
import { openCliStore, parse, plural } from '../common.js';
import { usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret rm NAME... [--provider P]
       mcp-warden secret rm --all [--provider P] [--yes]

Removes secrets from every writable provider of the chain that holds them, or from --provider P.
--all removes every secret of those providers; it asks first, or takes --yes.
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ provider?: string; all?: boolean; yes?: boolean }>(
    cli,
    args,
    { provider: { type: 'string' }, all: { type: 'boolean' }, yes: { type: 'boolean', short: 'y' } },
    HELP,
  );
  if (!p) return 0;
  const names = p.positionals;
  if (p.values.all && names.length > 0) throw usage('give NAMEs or --all, not both');
  if (!p.values.all && names.length === 0) throw usage('secret rm needs at least one NAME (or --all)');
  for (const n of names) assertSecretName(n);

  const store = await openCliStore(cli, p.values.config);
  const chosen = p.values.provider ? [p.values.provider] : store.chain;
  const writable: SecretProvider[] = [];
  for (const prov of await store.providers(chosen)) {
    if (prov.capabilities.delete && prov.delete) writable.push(prov);
    else if (p.values.provider)
      throw new WardenError('PROVIDER_READ_ONLY', `provider "${prov.name}" (${prov.type}) is read-only`);
  }

  // Pairs of (provider, name) to remove, all known before anything is removed.
  const plan: Array<[SecretProvider, string]> = [];
  if (p.values.all) {
    for (const prov of writable) for (const s of await prov.list!()) plan.push([prov, s.name]);
    if (plan.length === 0) {
      cli.stderr('nothing to remove\n');
      return 0;
    }
    if (!p.values.yes) {
      if (!cli.stdinIsTTY)
        throw usage('--all removes everything; add --yes to confirm when not on a terminal');
      const where = [...new Set(plan.map(([prov]) => prov.name))].join(', ');
      const answer = await cli.prompt(`Remove ${plural(plan.length, 'secret')} from ${where}? [y/N] `, false);
      if (!/^y(es)?$/i.test(answer.trim()))
        throw new WardenError('CANCELLED', 'cancelled; nothing was removed');
    }
  } else {
    for (const n of names) {
      const holders = [];
      for (const prov of writable) if (await prov.has(n)) holders.push(prov);
      if (holders.length === 0) {
        throw new WardenError(
          'SECRET_NOT_FOUND',
          `secret "${n}" not found in ${writable.map((w) => w.name).join(', ')}; nothing was removed`,
        );
      }
      for (const h of holders) plan.push([h, n]);
    }
  }
  for (const [prov, n] of plan) {
    await prov.delete!(n);
    cli.stdout(`removed ${n} from ${prov.name}\n`);
  }
  if (!p.values.provider) {
    // A read-only provider (env, dir) may still answer for a removed name.
    for (const n of new Set(plan.map(([, n]) => n))) {
      const still = (await store.locate(n))[0];
      if (still)
        cli.stderr(
          `mcp-warden: warning: ${n} is still visible from ${still.name} (${still.type}), which is read-only\n`,
        );
    }
  }
  return 0;
}
