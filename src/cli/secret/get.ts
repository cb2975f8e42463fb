import { assertSecretName } from '../../names.js';
import { isRef } from '../../refs.js';
import { openCliStore, parse } from '../common.js';
import { usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret get NAME|secret://REF [--provider P] [-n]

Prints the value on stdout, for scripts. Exit 1 with a message on stderr when it is absent.
  --provider P      read from this provider only (default: the lookup chain)
  -n, --no-newline  no newline after the value
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ provider?: string; 'no-newline'?: boolean }>(
    cli,
    args,
    { provider: { type: 'string' }, 'no-newline': { type: 'boolean', short: 'n' } },
    HELP,
  );
  if (!p) return 0;
  const [target, ...extra] = p.positionals;
  if (target === undefined || extra.length > 0)
    throw usage('secret get takes exactly one NAME or secret:// reference');
  let value: string;
  if (isRef(target)) {
    if (p.values.provider) throw usage('--provider cannot be combined with a secret:// reference');
    const store = await openCliStore(cli, p.values.config);
    value = (await store.resolveRefs([target])).get(target)!;
  } else {
    assertSecretName(target);
    const store = await openCliStore(cli, p.values.config);
    value = p.values.provider
      ? await store.getFrom(p.values.provider, target)
      : (await store.lookup(target)).value;
  }
  cli.stdout(p.values['no-newline'] ? value : value + '\n');
  return 0;
}
