import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { WardenError } from '../errors.js';
import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretProvider } from '../provider.js';

/**
 * Any `docker-credential-<helper>` over its stdin/stdout protocol (the one Docker Desktop uses):
 * `store` reads {ServerURL, Username, Secret}, `get` reads a ServerURL and prints the record,
 * `erase` reads a ServerURL, `list` prints {ServerURL: Username}. Values travel on stdin and
 * stdout only, never in the helper's argv.
 *
 * A secret NAME is the record `mcp-warden://NAME` with Username NAME. We never store an empty
 * Username, which tells a real record from the empty one old docker-credential-pass prints (with
 * exit 0) for a missing entry.
 */
const NOT_FOUND = /credentials not found|not in the password store|could not be found|item not found/i;
const TIMEOUT_MS = 30_000;

interface HelperResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export default defineProvider(
  (raw, ctx) => {
    const o = new OptionReader(raw, `providers.${ctx.name}`).only('helper', 'prefix');
    const helper = o.string('helper');
    if (!helper)
      throw new WardenError(
        'CONFIG_INVALID',
        `providers.${ctx.name}.helper: which helper, e.g. secretservice, pass, osxkeychain, wincred`,
      );
    if (!/^[A-Za-z0-9_.-]+$/.test(helper))
      throw new WardenError(
        'CONFIG_INVALID',
        `providers.${ctx.name}.helper: a helper name such as "pass", not a path`,
      );
    return { helper, prefix: o.string('prefix') ?? 'mcp-warden://' };
  },
  ({ helper, prefix }, ctx): SecretProvider => {
    const bin = `docker-credential-${helper}`;

    async function run(verb: 'store' | 'get' | 'erase' | 'list', input: string): Promise<HelperResult> {
      const { spawn } = await import('node:child_process'); // kept off the startup path of the CLI bundle
      return new Promise((resolve, reject) => {
        const child = spawn(bin, [verb], {
          env: ctx.env,
          stdio: ['pipe', 'pipe', 'pipe'],
          timeout: TIMEOUT_MS,
        });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', (err: NodeJS.ErrnoException) =>
          reject(
            new WardenError(
              'PROVIDER_UNAVAILABLE',
              err.code === 'ENOENT'
                ? `${bin} is not installed or not on PATH`
                : `${bin} ${verb} could not start (${err.message})`,
            ),
          ),
        );
        child.on('close', (code, signal) =>
          signal
            ? reject(new WardenError('PROVIDER_UNAVAILABLE', `${bin} ${verb} was stopped by ${signal}`))
            : resolve({ code, stdout, stderr }),
        );
        child.stdin.on('error', () => undefined); // a helper that exits early closes its stdin
        child.stdin.end(input);
      });
    }

    /** The helper's own message for a failure, stripped to one line and with no stdin echoed. */
    function failure(verb: string, r: HelperResult, value?: string): WardenError {
      let why = (r.stderr.trim() || r.stdout.trim()).split('\n')[0]?.slice(0, 200) || `exit ${r.code}`;
      if (value) why = why.split(value).join('[redacted]');
      return new WardenError('PROVIDER_UNAVAILABLE', `${bin} ${verb} failed: ${why}`);
    }

    const url = (name: string) => prefix + assertSecretName(name);

    async function get(name: string): Promise<string | undefined> {
      const r = await run('get', url(name));
      if (r.code !== 0) {
        if (NOT_FOUND.test(r.stdout + r.stderr)) return undefined;
        throw failure('get', r);
      }
      let rec: { Username?: unknown; Secret?: unknown };
      try {
        rec = JSON.parse(r.stdout) as typeof rec;
      } catch {
        throw new WardenError('PROVIDER_FAILED', `${bin} get answered something that is not JSON`);
      }
      if (rec.Username === '' || rec.Username === undefined) return undefined;
      if (typeof rec.Secret !== 'string')
        throw new WardenError('PROVIDER_FAILED', `${bin} get answered a record without a Secret`);
      return rec.Secret;
    }

    return {
      type: 'credential-helper',
      name: ctx.name,
      capabilities: { read: true, list: true, set: true, delete: true, versions: false },
      get,
      async has(name) {
        return (await get(name)) !== undefined;
      },
      async inspect(name) {
        return (await get(name)) !== undefined ? { name, provider: ctx.name } : undefined;
      },
      async set(name, value) {
        const r = await run('store', JSON.stringify({ ServerURL: url(name), Username: name, Secret: value }));
        if (r.code !== 0) throw failure('store', r, value);
        return { name, provider: ctx.name };
      },
      async delete(name) {
        if ((await get(name)) === undefined) return false;
        const r = await run('erase', url(name));
        if (r.code !== 0) throw failure('erase', r);
        return true;
      },
      async list() {
        const r = await run('list', '');
        if (r.code !== 0) throw failure('list', r);
        let map: Record<string, unknown>;
        try {
          map = JSON.parse(r.stdout || '{}') as Record<string, unknown>;
        } catch {
          throw new WardenError('PROVIDER_FAILED', `${bin} list answered something that is not JSON`);
        }
        return Object.keys(map)
          .filter((u) => u.startsWith(prefix))
          .map((u) => ({ name: u.slice(prefix.length), provider: ctx.name }))
          .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      },
      async probe() {
        // docker-credential-pass answers `list` happily with no password store behind it.
        if (helper === 'pass') {
          const storeDir = ctx.env.PASSWORD_STORE_DIR || join(ctx.env.HOME || homedir(), '.password-store');
          if (!existsSync(join(storeDir, '.gpg-id'))) {
            return { usable: false, reason: `no pass store at ${storeDir}; run: pass init GPG-KEY-ID` };
          }
        }
        try {
          await this.list!();
          return { usable: true, reason: `${bin} answers` };
        } catch (err) {
          return { usable: false, reason: (err as Error).message };
        }
      },
    };
  },
);
