import { WardenError } from '../../errors.js';
import { readUserFile } from '../../fsutil.js';
import { assertSecretName } from '../../names.js';
import type { SecretProvider } from '../../provider.js';
import type { Store } from '../../store/store.js';
import { openCliStore, parse, writable } from '../common.js';
import { usage, type Cli } from '../io.js';

const HELP = `Usage: mcp-warden secret set NAME[=VALUE] [--provider P] [--from-file F]

Stores a secret. The value comes, in this order, from:
  NAME=VALUE        inline (note: visible in your shell history and to ps)
  --from-file F     the file's exact bytes
  stdin             when it is a pipe (one trailing newline is dropped)
  a hidden prompt   when stdin is a terminal
Where it goes: --provider P; else the provider that already holds NAME; else the recommended
strategy of 'mcp-warden secret diagnose' (the OS keychain where usable, else the file store).
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ provider?: string; 'from-file'?: string }>(
    cli,
    args,
    { provider: { type: 'string' }, 'from-file': { type: 'string' } },
    HELP,
  );
  if (!p) return 0;
  const [arg, ...extra] = p.positionals;
  if (arg === undefined || extra.length > 0) throw usage('secret set takes one NAME or NAME=VALUE');
  const eq = arg.indexOf('=');
  const name = assertSecretName(eq < 0 ? arg : arg.slice(0, eq));
  const inline = eq < 0 ? undefined : arg.slice(eq + 1);
  if (inline !== undefined && p.values['from-file'])
    throw usage('give the value inline or with --from-file, not both');

  const store = await openCliStore(cli, p.values.config);
  // Resolve the target before asking for a value: a typo in --provider must not cost a prompt.
  const target = await chooseTarget(store, name, p.values.provider, cli);
  const value = inline ?? (await readValue(cli, name, p.values['from-file']));
  if (value === '') throw new WardenError('INVALID_VALUE', `refusing to store an empty value for ${name}`);
  const meta = await target.set!(name, value);
  cli.stdout(`stored ${name} in ${target.name}${meta.version ? ` (version ${meta.version})` : ''}\n`);
  return 0;
}

async function chooseTarget(
  store: Store,
  name: string,
  explicit: string | undefined,
  cli: Cli,
): Promise<SecretProvider> {
  if (explicit) {
    const p = writable(await store.provider(explicit));
    const shadow = (await store.locate(name)).find((h) => h.name !== p.name);
    if (shadow && store.chain.indexOf(shadow.name) < store.chain.indexOf(p.name)) {
      cli.stderr(
        `mcp-warden: warning: ${name} also exists in ${shadow.name}, which is looked up before ${p.name}\n`,
      );
    }
    return p;
  }
  const holder = (await store.locate(name)).find((h) => h.capabilities.set);
  return holder ?? (await store.recommended()).provider;
}

async function readValue(cli: Cli, name: string, file: string | undefined): Promise<string> {
  if (file !== undefined) {
    return utf8(await readUserFile(file), file);
  }
  if (!cli.stdinIsTTY) {
    const raw = utf8(await cli.readStdin(), 'stdin');
    return raw.endsWith('\r\n') ? raw.slice(0, -2) : raw.endsWith('\n') ? raw.slice(0, -1) : raw;
  }
  return cli.prompt(`Value for ${name} (hidden): `, true);
}

function utf8(raw: Buffer, from: string): string {
  const text = raw.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(raw))
    throw new WardenError('INVALID_VALUE', `the value from ${from} is not valid UTF-8 text`);
  return text;
}
