import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { describe, errnoCode } from '../errors.js';

/**
 * Runs a command to its end the way a shell would, for `run` and `serve`: no shell, our signals
 * forwarded to it while it runs, and its exit status as ours (the code, or 128 + the signal
 * number; 127 when the command is not found, 126 when it cannot be executed).
 *
 * Signals are forwarded to the command while it runs; we outlive them. A terminal's Ctrl-C
 * reaches both us and the command (one process group, so the command can still read the
 * terminal), so it sees SIGINT twice, as under dotenvx or cross-env; a `kill` aimed at us alone
 * reaches it once.
 */
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const;

export interface CommandOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** With a relay, the command's stdout and stderr are pipes handed to it; else inherited. */
  relay?: (child: ChildProcess) => Promise<unknown>;
  /** Where "command not found" and the like are reported (one line each). */
  stderr: (text: string) => void;
}

export async function runCommand(file: string, argv: string[], opts: CommandOptions): Promise<number> {
  // Off the start-up path of commands that start nothing; require()d, not import()ed: an import
  // of a built-in goes through the ES module loader.
  const { spawn } = process.getBuiltinModule('node:child_process');
  const out = opts.relay ? 'pipe' : 'inherit';
  // Listening before the fork: a signal that arrives while spawn() runs is handled after it
  // returns, and then goes to the command instead of killing us and orphaning it.
  let child: ChildProcess | undefined;
  const forward = (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const stopForwarding = () => {
    for (const s of FORWARDED) process.off(s, forward);
  };
  for (const s of FORWARDED) process.on(s, forward);
  try {
    child = spawn(file, argv, { env: opts.env, cwd: opts.cwd, stdio: ['inherit', out, out] });
  } catch (err) {
    stopForwarding();
    return cannotStart(opts, file, err);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const failed = await new Promise<unknown>((resolve) => {
    child.once('spawn', () => resolve(undefined));
    child.once('error', resolve);
  });
  if (failed !== undefined) {
    stopForwarding();
    return cannotStart(opts, file, failed);
  }
  child.on('error', () => undefined); // a failed kill() after the exit; nothing to report
  const relayed = opts.relay?.(child);
  const { code, signal } = await exited;
  // From here a signal acts on us again: nobody is left to forward it to, and Ctrl-C must still
  // work while output held by a grandchild drains.
  stopForwarding();
  await relayed;
  return code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

function cannotStart(opts: CommandOptions, file: string, err: unknown): number {
  const code = errnoCode(err);
  if (code === 'ENOENT') {
    opts.stderr(`mcp-warden: ${file}: command not found\n`);
    return 127;
  }
  // Only a system error's own words: Node's argument errors quote the environment.
  const why =
    code === 'EACCES'
      ? 'permission denied (not executable, or a directory)'
      : code !== undefined && !code.startsWith('ERR_')
        ? describe(err)
        : 'spawn failed';
  opts.stderr(`mcp-warden: ${file}: cannot run it: ${why}\n`);
  return 126;
}
