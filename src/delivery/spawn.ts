import type { StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import { WardenError } from '../errors.js';

/** Signals a wrapper passes on to its child, as a shell would. */
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

export interface ChildOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string;
  stdio: StdioOptions;
}

/**
 * Runs a command without a shell, forwards our signals to it, and answers its exit status the
 * way a shell reports it: the code, or 128 + the signal number. A command that cannot be found
 * is exit 127, one that cannot be executed 126, each with a one-line error.
 */
export async function runChild(
  command: string,
  args: string[],
  opts: ChildOptions,
  onSpawn?: (pid: number) => void,
): Promise<number> {
  const { spawn } = await import('node:child_process'); // off the startup path of the CLI bundle
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env, cwd: opts.cwd, stdio: opts.stdio });
    const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
    const handlers = FORWARDED.map((sig) => [sig, forward(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);
    const done = () => {
      for (const [sig, h] of handlers) process.off(sig, h);
    };
    child.on('spawn', () => onSpawn?.(child.pid!));
    child.on('error', (err: NodeJS.ErrnoException) => {
      done();
      const code = err.code === 'ENOENT' ? 127 : err.code === 'EACCES' ? 126 : 1;
      reject(
        new WardenError(
          'PROVIDER_FAILED',
          code === 127
            ? `${command}: command not found`
            : `${command}: cannot run it (${err.code ?? err.message})`,
          { cause: Object.assign(err, { exitCode: code }) },
        ),
      );
    });
    child.on('close', (code, signal) => {
      done();
      resolve(signal ? 128 + (constants.signals[signal] ?? 0) : (code ?? 1));
    });
  });
}
