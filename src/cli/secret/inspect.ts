import { WardenError } from '../../errors.js';
import { assertSecretName } from '../../names.js';
import type { SecretMeta } from '../../provider.js';
import { openCliStore, parse } from '../common.js';
import { json, usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret inspect NAME [--provider P] [--json]

Metadata of one secret in every provider that holds it (the first one answers lookups): provider,
type, created, updated and version. Never the value.
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ provider?: string; json?: boolean }>(
    cli,
    args,
    { provider: { type: 'string' }, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  const [name, ...extra] = p.positionals;
  if (name === undefined || extra.length > 0) throw usage('secret inspect takes exactly one NAME');
  assertSecretName(name);
  const store = await openCliStore(cli, p.values.config);
  const found: Array<SecretMeta & { type: string; active: boolean }> = [];
  for (const prov of await store.providers(p.values.provider ? [p.values.provider] : store.chain)) {
    const meta = prov.inspect
      ? await prov.inspect(name)
      : (await prov.has(name))
        ? { name, provider: prov.name }
        : undefined;
    if (meta) found.push({ ...meta, type: prov.type, active: found.length === 0 });
  }
  if (found.length === 0) {
    throw new WardenError(
      'SECRET_NOT_FOUND',
      `secret "${name}" not found in ${p.values.provider ?? store.chain.join(', ')}`,
    );
  }
  if (p.values.json) {
    cli.stdout(json(found));
    return 0;
  }
  for (const m of found) {
    cli.stdout(
      [
        `name:      ${m.name}`,
        `provider:  ${m.provider} (${m.type})${m.active ? '' : ' (shadowed by an earlier provider)'}`,
        ...(m.created ? [`created:   ${m.created}`] : []),
        ...(m.updated ? [`updated:   ${m.updated}`] : []),
        ...(m.version !== undefined ? [`version:   ${m.version}`] : []),
      ].join('\n') + '\n',
    );
  }
  return 0;
}
