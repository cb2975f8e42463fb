import { WardenError } from '../errors.js';
import type { Cli } from './io.js';

/**
 * The entry point: picks the command, runs it, turns errors into one line on stderr and an exit
 * code (0 ok, 1 failed, 2 bad usage). Commands are imported on demand so each one loads only
 * what it needs.
 */
const HELP = `mcp-warden: keeps MCP servers' secrets in a real backend

Usage: mcp-warden <command> [options]

Commands:
  secret set NAME[=VALUE]     store a secret (value inline, from stdin, a hidden prompt or --from-file)
  secret get NAME|REF         print a value (for scripts)
  secret ls                   list names, provider, times and versions, never values (--json)
  secret rm NAME...           remove secrets (--all with confirmation or --yes)
  secret inspect NAME         metadata of one secret, never its value
  secret diagnose             which backends work here, and the recommended strategy (--json)
  secret migrate --from P --to Q   copy every secret between providers and verify
  secret import FILE.env      load a dotenv file into a provider

  run [--env-file F] -- CMD   start CMD with secret:// references resolved, their values redacted
  status [--env E]            which configured servers can start, and what each one lacks (--json)
  check [--env E]             the same for CI: exit 1 when a required secret is missing or invalid
  serve SERVER                start one configured server with its secrets, bridging its stdio
  gateway [--stdio|--http]    one MCP endpoint for every configured server (see gateway --help)
  scan [PATH...]              report plaintext secrets in MCP client configs and .env files
  import [CLIENT|PATH]        move those secrets into the store and rewrite the config to use them
  keys create|ls|revoke|rotate|import   gateway client API keys (a key is shown once; only its hash is kept)
  audit tail|verify           read the gateway's audit log, and check its hash chain

Global options:
  --config FILE   config file (default ./mcp-warden.yaml, then $XDG_CONFIG_HOME/mcp-warden/config.yaml)
  --debug         print a stack trace on errors
  -h, --help      help for any command

Environment: MCP_WARDEN_HOME (data directory), MCP_WARDEN_PASSPHRASE (derive the file store key
from a passphrase), NO_COLOR.
`;

const SECRET_COMMANDS = {
  set: () => import('./secret/set.js'),
  get: () => import('./secret/get.js'),
  ls: () => import('./secret/ls.js'),
  rm: () => import('./secret/rm.js'),
  inspect: () => import('./secret/inspect.js'),
  diagnose: () => import('./secret/diagnose.js'),
  migrate: () => import('./secret/migrate.js'),
  import: () => import('./secret/import.js'),
} satisfies Record<string, () => Promise<{ run(args: string[], cli: Cli): Promise<number> }>>;

/** Commands without subcommands. */
const TOP_COMMANDS = {
  run: () => import('./run-cmd.js'),
  status: () => import('./status.js'),
  check: () => import('./check.js'),
  serve: () => import('./serve.js'),
  gateway: () => import('./gateway.js'),
  scan: () => import('./scan.js'),
  import: () => import('./import.js'),
  keys: () => import('./keys.js'),
  audit: () => import('./audit.js'),
} satisfies Record<string, () => Promise<{ run(args: string[], cli: Cli): Promise<number> }>>;

export async function main(argv: string[], cli: Cli): Promise<number> {
  // Our own flags end at `--`: what follows belongs to a command `run` starts.
  const dashes = argv.indexOf('--');
  const ours = dashes < 0 ? argv : argv.slice(0, dashes);
  const debug = ours.includes('--debug');
  const args = [...ours.filter((a) => a !== '--debug'), ...(dashes < 0 ? [] : argv.slice(dashes))];
  try {
    const [cmd, sub, ...rest] = args;
    if (cmd === undefined || cmd === '-h' || cmd === '--help' || cmd === 'help') {
      cli.stdout(HELP);
      return cmd === undefined ? 2 : 0;
    }
    if (cmd === '--version' || cmd === '-V') {
      cli.stdout('mcp-warden 0.1.0\n');
      return 0;
    }
    if (Object.hasOwn(TOP_COMMANDS, cmd)) {
      const mod = await TOP_COMMANDS[cmd as keyof typeof TOP_COMMANDS]();
      return await mod.run(args.slice(1), cli);
    }
    if (cmd !== 'secret') throw new WardenError('USAGE', `unknown command "${cmd}"; run mcp-warden --help`);
    if (sub === undefined || sub === '-h' || sub === '--help') {
      cli.stdout(HELP);
      return sub === undefined ? 2 : 0;
    }
    if (!Object.hasOwn(SECRET_COMMANDS, sub)) {
      throw new WardenError(
        'USAGE',
        `unknown command "secret ${sub}" (known: ${Object.keys(SECRET_COMMANDS).join(', ')})`,
      );
    }
    const mod = await SECRET_COMMANDS[sub as keyof typeof SECRET_COMMANDS]();
    return await mod.run(rest, cli);
  } catch (err) {
    if (err instanceof WardenError) {
      cli.stderr(`mcp-warden: ${err.message}\n`);
      if (debug && err.stack) cli.stderr(err.stack + '\n');
      return err.exitCode;
    }
    const e = err as Error;
    cli.stderr(
      `mcp-warden: unexpected error: ${e?.message ?? String(err)}; rerun with --debug and report it\n`,
    );
    if (debug && e?.stack) cli.stderr(e.stack + '\n');
    return 1;
  }
}
