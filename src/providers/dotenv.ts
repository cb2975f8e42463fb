import { promises as fsp } from 'node:fs';
import { resolve } from 'node:path';
import { WardenError, describe, errnoCode } from '../errors.js';
import { atomicWrite, readIfExists, withLock } from '../fsutil.js';
import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretProvider } from '../provider.js';
import { dotenvParse, editDotenv } from '../store/dotenv-edit.js';

/** A `.env` file, read with the dotenv library's own rules and edited in place. */
export default defineProvider(
  (raw, ctx) => ({
    path: resolve(new OptionReader(raw, `providers.${ctx.name}`).only('path').string('path') ?? '.env'),
  }),
  ({ path }, ctx): SecretProvider => {
    async function read(): Promise<string | undefined> {
      return (await readIfExists(path))?.toString('utf8');
    }
    async function parsed(): Promise<Record<string, string>> {
      const text = await read();
      return text === undefined ? {} : dotenvParse(text);
    }
    /**
     * Writes through a symlinked .env to its target (renaming over the link would replace it with
     * a copy) and keeps the file's exact mode: the temporary file's mode passes through the umask.
     */
    async function write(next: string): Promise<void> {
      const target = await fsp.realpath(path).catch(() => path);
      const mode = await fsp
        .stat(target)
        .then((st) => st.mode & 0o777)
        .catch((err: unknown) => {
          if (errnoCode(err) === 'ENOENT') return 0o600;
          throw new WardenError('STORE_IO', `cannot stat ${target} (${describe(err)})`);
        });
      await atomicWrite(target, next, mode);
      await fsp.chmod(target, mode).catch((err: unknown) => {
        throw new WardenError('STORE_IO', `cannot chmod ${target} (${describe(err)})`);
      });
    }
    /** Read, edit, write under a lock: two concurrent sets must not drop each other's entry. */
    function edit<T>(fn: (text: string | undefined) => { next?: string; result: T }): Promise<T> {
      return withLock(`${path}.lock`, async () => {
        const { next, result } = fn(await read());
        if (next !== undefined) await write(next);
        return result;
      });
    }

    return {
      type: 'dotenv',
      name: ctx.name,
      capabilities: { read: true, list: true, set: true, delete: true, versions: false },
      async get(name) {
        assertSecretName(name);
        const env = await parsed();
        return Object.hasOwn(env, name) ? env[name] : undefined;
      },
      async has(name) {
        return (await this.get(name)) !== undefined;
      },
      async inspect(name) {
        return (await this.has(name)) ? { name, provider: ctx.name } : undefined;
      },
      async set(name, value) {
        assertSecretName(name);
        return edit((text) => ({
          next: editDotenv(text ?? '', name, value, path),
          result: { name, provider: ctx.name },
        }));
      },
      async delete(name) {
        assertSecretName(name);
        return edit((text) =>
          text === undefined || !Object.hasOwn(dotenvParse(text), name)
            ? { result: false }
            : { next: editDotenv(text, name, undefined, path), result: true },
        );
      },
      async list() {
        return Object.keys(await parsed())
          .sort()
          .map((name) => ({ name, provider: ctx.name }));
      },
      async probe() {
        const text = await read().catch(() => undefined);
        return text === undefined
          ? { usable: false, reason: `${path} does not exist` }
          : { usable: true, reason: `${path}` };
      },
    };
  },
);
