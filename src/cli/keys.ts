import { usage, type Cli } from './io.js';
import { HELP } from './keys/common.js';
import { create } from './keys/create.js';
import { importLegacy } from './keys/import.js';
import { ls } from './keys/ls.js';
import { revoke } from './keys/revoke.js';
import { rotate } from './keys/rotate.js';

/** `mcp-warden keys`: one file per command in keys/, their shared helpers in keys/common.ts. */

const COMMANDS: Record<string, (args: string[], cli: Cli) => Promise<number>> = {
  create,
  ls,
  revoke,
  rotate,
  import: importLegacy,
};

export async function run(args: string[], cli: Cli): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    cli.stdout(HELP);
    return sub === undefined ? 2 : 0;
  }
  const command = Object.hasOwn(COMMANDS, sub) ? COMMANDS[sub] : undefined;
  if (!command) throw usage(`unknown command "keys ${sub}" (known: ${Object.keys(COMMANDS).join(', ')})`);
  return command(rest, cli);
}
