import type { ChildProcess } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import type { Readable } from 'node:stream';
import { WardenError, describe, errnoCode } from '../errors.js';
import { planEnv, resolvePlan, withoutRefs, type EnvFile } from '../run/env.js';
import { MIN_REDACT_LENGTH } from '../run/forms.js';
import { Redactor, SecretSet, type Secret } from '../run/redactor.js';
import { runCommand } from '../delivery/spawn.js';
import { openCliStore, parse } from './common.js';
import { usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden run [--env-file F]... [--no-redact] -- CMD [ARGS...]

Starts CMD, without a shell, with every secret:// reference in its environment resolved: the
environment run inherits, then each env file (dotenv syntax); a later file overrides an earlier
one and the inherited environment. CMD's stdout and stderr are passed through with each secret
value (raw, JSON-escaped, URL-encoded or base64) replaced by [redacted:NAME], NAME being the
variable that carried it. Signals are forwarded to CMD, and its exit status is run's own.
  -f, --env-file F   read variables from a dotenv file (repeatable). Node itself reads the
                     --env-file spelling first and stops with "node: F: not found" (exit 9)
                     when F does not exist; -f F does not have that problem
  --no-redact        leave CMD's output alone (stdout and stderr stay a terminal)

Exit status: CMD's; 128+N when CMD is killed by signal N; 1 when a reference cannot be resolved
(CMD is not started); 126 when CMD cannot be executed; 127 when it is not found.
Values shorter than ${MIN_REDACT_LENGTH} characters are not redacted (a warning names them). While redacting,
CMD's stdout and stderr are pipes, not a terminal. MCP_WARDEN_PASSPHRASE is not passed on.
`;

export async function run(args: string[], cli: Cli): Promise<number> {
  const dashes = args.indexOf('--');
  const p = parse<{ 'env-file'?: string[]; 'no-redact'?: boolean }>(
    cli,
    dashes < 0 ? args : args.slice(0, dashes),
    { 'env-file': { type: 'string', short: 'f', multiple: true }, 'no-redact': { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  const [file, ...argv] = dashes < 0 ? [] : args.slice(dashes + 1);
  if (p.positionals.length > 0)
    throw usage(`put the command after --: mcp-warden run [options] -- ${p.positionals.join(' ')}`);
  if (file === undefined || file === '')
    throw usage('run needs a command: mcp-warden run [--env-file F]... -- CMD [ARGS...]');

  const plan = planEnv(cli.env, await readEnvFiles(p.values['env-file'] ?? []));
  let values = new Map<string, string>();
  if (plan.refs.length > 0) {
    // The `env` provider answers from the environment, but never with a reference itself. (Not
    // `{ ...cli, env }`: a copy of cli would ask stdinIsTTY, which loads node:tty.)
    const store = await openCliStore(
      { env: withoutRefs(cli.env), stderr: (t) => cli.stderr(t) },
      p.values.config,
    );
    values = await resolvePlan(store, plan);
  }
  const env = Object.fromEntries(plan.env);
  for (const [name, value] of values) {
    // spawn() would refuse it with a message that quotes the value.
    if (value.includes('\0'))
      throw new WardenError(
        'INVALID_VALUE',
        `${name}: its value holds a NUL byte, which no environment variable can`,
      );
  }
  const secrets: Secret[] = [];
  const seen = new Set<string>();
  for (const [name, value] of values) {
    env[name] = value;
    if (seen.has(value)) continue;
    seen.add(value);
    secrets.push({ name, value });
    if (!p.values['no-redact'] && value.length < MIN_REDACT_LENGTH) {
      cli.stderr(
        `mcp-warden: warning: ${name} is shorter than ${MIN_REDACT_LENGTH} characters and is not redacted from the output\n`,
      );
    }
  }
  const redact = p.values['no-redact'] ? undefined : new SecretSet(secrets);
  const secretSet = redact?.size ? redact : undefined;
  return runCommand(file, argv, {
    env,
    stderr: (t) => cli.stderr(t),
    ...(secretSet && {
      relay: (child: ChildProcess) =>
        Promise.all([
          relay(child.stdout!, () => process.stdout, secretSet),
          relay(child.stderr!, () => process.stderr, secretSet),
        ]),
    }),
  });
}

async function readEnvFiles(paths: readonly string[]): Promise<EnvFile[]> {
  if (paths.length === 0) return [];
  const [{ dotenvParse }, texts] = await Promise.all([
    import('../store/dotenv-edit.js'),
    Promise.all(
      paths.map((path) =>
        fsp.readFile(path, 'utf8').catch((err: unknown) => {
          throw usage(
            errnoCode(err) === 'ENOENT'
              ? `--env-file ${path}: no such file`
              : `--env-file ${path}: cannot read it (${describe(err)})`,
          );
        }),
      ),
    ),
  ]);
  return paths.map((path, i) => ({ path, vars: dotenvParse(texts[i]!) }));
}

/**
 * Copies `from` to `to()` through a Redactor until `from` ends, pausing `from` while `to` is
 * full. `to` is asked for at the first output: setting up process.stdout costs about a
 * millisecond, which a command that prints nothing need not pay. When `to` fails (the reader of
 * run's stdout went away), `from` is closed too, so CMD's next write there fails as it would have
 * failed writing to the closed pipe itself (Node's child pipes are socket pairs: CMD sees EPIPE or
 * ECONNRESET, or dies of SIGPIPE).
 */
function relay(from: Readable, to: () => NodeJS.WriteStream, secrets: SecretSet): Promise<void> {
  const redactor = new Redactor(secrets);
  return new Promise((resolve) => {
    let out: NodeJS.WriteStream | undefined;
    const stop = () => {
      from.destroy();
      resolve();
    };
    const write = (bytes: Buffer) => {
      if (bytes.length === 0) return;
      if (!out) {
        out = to();
        out.once('error', stop);
      }
      if (!out.write(bytes)) {
        from.pause();
        out.once('drain', () => from.resume());
      }
    };
    from.on('data', (chunk: Buffer) => write(redactor.push(chunk)));
    from.once('end', () => {
      write(redactor.end());
      out?.off('error', stop);
      resolve();
    });
    from.once('error', stop);
  });
}
