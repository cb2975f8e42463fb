import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { WardenError, describe } from '../../errors.js';
import { readUserFile } from '../../fsutil.js';
import {
  legacyEntries,
  parseJson,
  parseLegacy,
  updateKeyFile,
  type KeyEntry,
} from '../../gateway/middleware/auth/key-file.js';
import { parse, plural } from '../common.js';
import { usage, type Cli } from '../io.js';
import { FILE_OPTION, HELP, keyFile, type Common } from './common.js';

export async function importLegacy(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common & { remove?: boolean }>(
    cli,
    args,
    { ...FILE_OPTION, remove: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  if (p.positionals.length !== 1) throw usage('keys import takes one FILE (a .mcp_keys.json); see --help');
  const source = resolve(p.positionals[0]!);
  const doc = parseJson((await readUserFile(source)).toString('utf8'), source);
  const clients = parseLegacy(doc, source);
  if (!clients)
    throw new WardenError(
      'INVALID_VALUE',
      `${source}: not a .mcp_keys.json (expected {"clients": [{"api_key", "client_id", ...}]} or a list of clients)`,
    );
  const file = await keyFile(cli, p.values);
  const inPlace = source === file;
  const incoming = legacyEntries(clients);
  const { added, present } = await updateKeyFile(
    file,
    (entries) => {
      let present = 0;
      const added: KeyEntry[] = [];
      for (const e of incoming) {
        if (entries.some((x) => x.hash === e.hash)) present++;
        else if (entries.some((x) => x.id === e.id))
          throw new WardenError(
            'CONFIG_INVALID',
            `two different keys have the id ${e.id}; import this client by hand`,
          );
        else added.push(e);
      }
      entries.push(...added);
      return { added, present };
    },
    { replaceLegacy: inPlace },
  );
  const disabled = added.filter((e) => e.revokedAt !== undefined).length;
  cli.stderr(
    `imported ${plural(added.length, 'key')} into ${file}` +
      (disabled > 0 ? ` (${disabled} disabled, imported revoked)` : '') +
      (present > 0 ? `; ${present} already there` : '') +
      '\n',
  );
  if (inPlace) cli.stderr(`${file} now holds only hashes\n`);
  else if (p.values.remove) {
    await fsp.rm(source).catch((err: unknown) => {
      throw new WardenError(
        'STORE_IO',
        `imported, but cannot delete ${source} (${describe(err)}); delete it yourself`,
      );
    });
    cli.stderr(`deleted ${source}\n`);
  } else
    cli.stderr(`${source} still holds these keys in plaintext: delete it now (or rerun with --remove)\n`);
  return 0;
}
