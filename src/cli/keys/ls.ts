import { legacyEntries, readKeyFile, type KeyEntry } from '../../gateway/middleware/auth/key-file.js';
import { parse } from '../common.js';
import { json, table, usage, type Cli } from '../io.js';
import { FILE_OPTION, HELP, keyFile, type Common } from './common.js';

export function stateOf(e: KeyEntry, now: number): { state: string; until?: string } {
  if (e.revokedAt !== undefined && Date.parse(e.revokedAt) <= now) return { state: 'revoked' };
  if (e.expires !== undefined && Date.parse(e.expires) <= now) return { state: 'expired' };
  if (e.notAfter !== undefined)
    return Date.parse(e.notAfter) <= now
      ? { state: 'rotated-out' }
      : { state: 'rotating-out', until: e.notAfter };
  return { state: 'active' };
}

export async function ls(args: string[], cli: Cli): Promise<number> {
  const p = parse<Common & { json?: boolean }>(
    cli,
    args,
    { ...FILE_OPTION, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  if (p.positionals.length > 0) throw usage('keys ls takes no arguments; see --help');
  const file = await keyFile(cli, p.values);
  const content = await readKeyFile(file);
  let entries: KeyEntry[] = [];
  if (content.kind === 'legacy') {
    cli.stderr(
      `mcp-warden: warning: ${file} is a legacy .mcp_keys.json with plaintext keys; convert it with mcp-warden keys import ${file}\n`,
    );
    entries = legacyEntries(content.clients);
  } else if (content.kind === 'keys') entries = content.entries;
  const now = Date.now();
  // Never the hash, never a key: the id is all a listing names a key by.
  const rows = entries.map((e) => ({
    keyId: e.id,
    clientId: e.clientId,
    created: e.created,
    ...(e.expires !== undefined && { expires: e.expires }),
    ...stateOf(e, now),
    ...(e.revokedAt !== undefined && { revokedAt: e.revokedAt }),
    ...(e.description !== undefined && { description: e.description }),
    ...(e.servers !== undefined && { servers: e.servers }),
    ...(e.tools !== undefined && { tools: e.tools }),
    ...(e.allowDestructive !== undefined && { allowDestructive: e.allowDestructive }),
    ...(e.legacy && { legacy: true }),
  }));
  if (p.values.json) cli.stdout(json(rows));
  else if (rows.length === 0) cli.stderr(`no keys in ${file}\n`);
  else
    cli.stdout(
      table(
        ['KEY ID', 'CLIENT', 'CREATED', 'EXPIRES', 'STATE', 'SCOPE', 'DESCRIPTION'],
        rows.map((r) => [
          r.keyId,
          r.clientId,
          r.created,
          r.expires ?? '-',
          r.until ? `${r.state} until ${r.until}` : r.state,
          [
            r.servers && `servers=${r.servers.join(',')}`,
            r.tools && `tools=${r.tools.join(',')}`,
            r.allowDestructive && 'destructive',
          ]
            .filter(Boolean)
            .join(' ') || 'all',
          r.description ?? '',
        ]),
      ),
    );
  return 0;
}
