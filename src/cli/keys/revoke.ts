import { WardenError } from '../../errors.js';
import { CLIENT_ID, KEY_ID, updateKeyFile } from '../../gateway/middleware/auth/key-file.js';
import { parse, plural } from '../common.js';
import { usage, type Cli } from '../io.js';
import { FILE_OPTION, HELP, keyFile, type Common } from './common.js';

export async function revoke(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common>(cli, args, FILE_OPTION, HELP);
  if (!p) return 0;
  if (p.positionals.length !== 1) throw usage('keys revoke takes one CLIENT_ID or KEY_ID; see --help');
  const target = p.positionals[0]!;
  const byKey = KEY_ID.test(target);
  if (!byKey && !CLIENT_ID.test(target))
    throw usage(`"${target}" is neither a client id nor a key id (k_ and 8 hex)`);
  const file = await keyFile(cli, p.values);
  const at = new Date().toISOString();
  const { matched, revoked } = await updateKeyFile(file, (entries) => {
    const matched = entries.filter((e) => (byKey ? e.id === target : e.clientId === target));
    const revoked = matched.filter((e) => e.revokedAt === undefined);
    for (const e of revoked) e.revokedAt = at;
    return { matched: matched.length, revoked: revoked.map((e) => e.id) };
  });
  if (matched === 0)
    throw new WardenError(
      'KEY_UNKNOWN',
      `no key ${byKey ? target : `of client ${target}`} in ${file}; see keys ls`,
    );
  if (revoked.length === 0)
    cli.stderr(`nothing to revoke: ${byKey ? target : `every key of ${target}`} is already revoked\n`);
  else cli.stderr(`revoked ${plural(revoked.length, 'key')}: ${revoked.join(', ')}\n`);
  return 0;
}
