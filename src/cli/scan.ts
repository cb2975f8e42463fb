import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENTS, clientConfigPaths } from '../clients.js';
import { scanFile, type ScanResult } from '../detect/scan.js';
import { parse, plural } from './common.js';
import { json, table, type Cli } from './io.js';

const HELP = `Usage: mcp-warden scan [PATH...] [--json]

Reports plaintext secrets in MCP client configs (Claude Desktop, Cursor, VS Code) and .env files:
values shaped like known tokens (GitHub, OpenAI, Anthropic, AWS, Slack, ...) and values of settings
named like secrets (*_KEY, *_TOKEN, *SECRET*, *PASSWORD*). Also says when such a file is
readable by other users or tracked by git. Changes nothing; exit 1 when something is found.
Without PATHs: every client config at its standard place, and the .env files here.
`;

function defaultPaths(cli: Cli): string[] {
  const cwd = process.cwd();
  const clients = CLIENTS.flatMap((c) => clientConfigPaths(c, cli.env, process.platform, cwd));
  const envFiles = readdirSync(cwd)
    .filter((f) => f === '.env' || f.startsWith('.env.'))
    .map((f) => join(cwd, f));
  return [...new Set([...clients, ...envFiles])].filter((p) => existsSync(p));
}

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ json?: boolean }>(cli, args, { json: { type: 'boolean' } }, HELP);
  if (!p) return 0;
  const paths = p.positionals.length > 0 ? p.positionals : defaultPaths(cli);
  const all: ScanResult = { findings: [], notes: [] };
  for (const path of paths) {
    const r = await scanFile(path);
    all.findings.push(...r.findings);
    all.notes.push(...r.notes);
  }
  if (p.values.json) {
    cli.stdout(json({ scanned: paths, ...all }));
  } else {
    if (all.findings.length > 0) {
      cli.stdout(
        table(
          ['FILE', 'WHERE', 'FOUND', 'HINT'],
          all.findings.map((f) => [f.file, f.where, f.reason, f.masked]),
        ),
      );
    }
    for (const n of all.notes) cli.stdout(`${n.file}: ${n.note}\n`);
    cli.stderr(
      `${plural(paths.length, 'file')} scanned, ${plural(all.findings.length, 'plaintext secret')} found` +
        (all.findings.length > 0
          ? '; move them into the store with: mcp-warden import PATH (client configs) or mcp-warden secret import FILE (.env)\n'
          : '\n'),
    );
  }
  return all.findings.length > 0 ? 1 : 0;
}
