import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { CLIENTS, clientConfigPaths, parseClientJson, serversOf, type Client } from '../clients.js';
import { WardenError } from '../errors.js';
import { atomicWrite, readUserFile } from '../fsutil.js';
import { planImport } from '../import/plan.js';
import { importTarget, openCliStore, parse, plural } from './common.js';
import { json, usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden import [claude|cursor|vscode|PATH] [--provider P] [--dry-run] [--json]

Moves the plaintext secrets of an MCP client config into the store and rewrites the config so
each affected server runs through mcp-warden with references instead of values: a local server
as 'mcp-warden run -- CMD ARGS' with secret://NAME in its env, a remote one as
'mcp-warden serve --url URL --header "K: secret://NAME"'. The rewrite is atomic and leaves no
plaintext copy behind. Without an argument: every client config found at its standard place.
  --provider P   store into P (default: what 'secret diagnose' recommends)
  --dry-run      show what would change, values masked; change nothing
Secrets on a command line or in a URL are reported, not moved (exit 1): they cannot become
references without landing in an argv. Comments in VS Code's JSON files are not kept.
`;

/** How a client will start mcp-warden: by name when it is on PATH, else node and this script. */
function launcher(env: NodeJS.ProcessEnv): string[] {
  const onPath = (env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, 'mcp-warden')));
  return onPath ? ['mcp-warden'] : [process.execPath, process.argv[1]!];
}

function targets(cli: Cli, arg: string | undefined): string[] {
  if (arg === undefined)
    return CLIENTS.flatMap((c) => clientConfigPaths(c, cli.env)).filter((p) => existsSync(p));
  if ((CLIENTS as readonly string[]).includes(arg)) {
    const found = clientConfigPaths(arg as Client, cli.env).filter((p) => existsSync(p));
    if (found.length === 0)
      throw new WardenError(
        'INVALID_VALUE',
        `no ${arg} config found (looked in ${clientConfigPaths(arg as Client, cli.env).join(', ')})`,
      );
    return found;
  }
  return [arg];
}

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<{ provider?: string; 'dry-run'?: boolean; json?: boolean }>(
    cli,
    args,
    { provider: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  if (p.positionals.length > 1) throw usage('import takes one client name or PATH');
  const files = targets(cli, p.positionals[0]);
  if (files.length === 0) {
    cli.stderr('mcp-warden: no MCP client config found; pass its path\n');
    return 0;
  }
  const store = await openCliStore(cli, p.values.config);
  const target = await importTarget(store, p.values.provider);
  const taken = async (name: string, value: string) =>
    (await target.has(name)) && (!target.capabilities.read || (await target.get(name)) !== value);

  const report = [];
  let unmovable = 0;
  for (const file of files) {
    const doc = parseClientJson(file, (await readUserFile(file)).toString('utf8')) as Record<string, unknown>;
    const found = serversOf(doc);
    if (!found) {
      report.push({ file, stored: [], rewritten: [], unmovable: [] });
      continue;
    }
    const plan = await planImport(
      found.key,
      found.servers,
      launcher(cli.env),
      taken,
      found.key === 'servers',
    );
    unmovable += plan.unmovable.length;
    if (!p.values['dry-run'] && plan.stores.length > 0) {
      // Every value stored and read back before the file changes: a failure leaves it as it was.
      for (const s of plan.stores) {
        await target.set(s.name, s.value);
        if (target.capabilities.read && (await target.get(s.name)) !== s.value) {
          throw new WardenError(
            'MIGRATION_FAILED',
            `${s.name} read back from ${target.name} differs; ${file} was not changed`,
          );
        }
      }
      const holder = found.key.startsWith('mcp.') ? (doc.mcp as Record<string, unknown>) : doc;
      holder[found.key.replace(/^mcp\./, '')] = plan.servers;
      await atomicWrite(file, JSON.stringify(doc, null, 2) + '\n', (await stat(file)).mode & 0o777);
    }
    report.push({
      file,
      stored: plan.stores.map(({ value: _value, ...s }) => s),
      rewritten: plan.rewritten,
      unmovable: plan.unmovable.map((u) => ({
        where: u.where,
        found: u.reason,
        masked: u.masked,
        why: u.why,
      })),
    });
  }
  const verb = p.values['dry-run'] ? 'would store' : 'stored';
  if (p.values.json)
    cli.stdout(json({ provider: target.name, dryRun: !!p.values['dry-run'], files: report }));
  else {
    for (const r of report) {
      for (const s of r.stored)
        cli.stdout(`${r.file}: ${s.where}: ${s.masked} -> ${verb} as secret://${s.name} in ${target.name}\n`);
      for (const s of r.rewritten)
        cli.stdout(
          `${r.file}: ${p.values['dry-run'] ? 'would rewrite' : 'rewrote'} server ${s} to run through mcp-warden\n`,
        );
      for (const u of r.unmovable)
        cli.stderr(`mcp-warden: ${r.file}: ${u.where}: ${u.found} left in place: ${u.why}\n`);
    }
    const total = report.reduce((n, r) => n + r.stored.length, 0);
    cli.stderr(
      `${verb} ${plural(total, 'secret')} from ${plural(report.length, 'file')}${unmovable ? `; ${unmovable} left in place` : ''}\n`,
    );
  }
  return unmovable > 0 ? 1 : 0;
}
