import { SERVER_NAME, TOOL_GLOB, updateKeyFile } from '../../gateway/middleware/auth/key-file.js';
import { parse } from '../common.js';
import { usage, type Cli } from '../io.js';
import { FILE_OPTION, HELP, addKey, clientId, expiry, keyFile, printKey, type Common } from './common.js';

/** Values of a repeatable, comma-separated option, each checked against `re`. */
function list(flag: string, values: string[] | undefined, re: RegExp, what: string): string[] | undefined {
  if (values === undefined) return undefined;
  const out = values.flatMap((v) => v.split(',')).map((s) => s.trim());
  const bad = out.find((s) => !re.test(s));
  if (bad !== undefined) throw usage(`${flag}: "${bad}" is not ${what}`);
  return [...new Set(out)];
}

export async function create(args: string[], cli: Cli): Promise<number> {
  const p = parse<
    Common & {
      description?: string;
      servers?: string[];
      tools?: string[];
      'allow-destructive'?: boolean;
      expires?: string;
      json?: boolean;
    }
  >(
    cli,
    args,
    {
      ...FILE_OPTION,
      description: { type: 'string' },
      servers: { type: 'string', multiple: true },
      tools: { type: 'string', multiple: true },
      'allow-destructive': { type: 'boolean' },
      expires: { type: 'string' },
      json: { type: 'boolean' },
    },
    HELP,
  );
  if (!p) return 0;
  const v = p.values;
  const id = clientId(p.positionals, 'create');
  const now = Date.now();
  const servers = list('--servers', v.servers, SERVER_NAME, 'a server name');
  const tools = list('--tools', v.tools, TOOL_GLOB, 'a tool glob (letters, digits, _ . - * ?)');
  const expires = v.expires !== undefined ? expiry(v.expires, now) : undefined;
  if (v.description !== undefined && /[\r\n]/.test(v.description))
    throw usage('--description: one line, please');
  const file = await keyFile(cli, v);
  const made = await updateKeyFile(file, (entries) =>
    addKey(entries, id, now, {
      ...(expires && { expires }),
      ...(v.description !== undefined && { description: v.description }),
      ...(servers && { servers }),
      ...(tools && { tools }),
      ...(v['allow-destructive'] && { allowDestructive: true }),
    }),
  );
  printKey(cli, v.json === true, made.key, made.entry, `created key ${made.entry.id} for client ${id}`);
  return 0;
}
