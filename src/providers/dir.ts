import { constants, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { WardenError, describe, errnoCode } from '../errors.js';
import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretMeta, type SecretProvider } from '../provider.js';

/**
 * A read-only directory of secret files: Docker/Swarm `/run/secrets`, sops-nix (`/run/secrets`,
 * possibly nested, a symlink into `/run/secrets.d/N`), agenix (`/run/agenix`). One file per
 * secret; one trailing newline is trimmed (editors and `echo` add it). `OPENAI_API_KEY` also
 * finds `openai_api_key` and `openai-api-key`, the spellings these tools use for file names.
 */
function canonical(name: string): string {
  return name.toLowerCase().replace(/-/g, '_');
}

/** "Not there": no such file, or a path through a regular file (`file/x`). */
function isMissing(err: unknown): boolean {
  const code = errnoCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function unavailable(path: string, err: unknown): WardenError {
  return new WardenError('PROVIDER_UNAVAILABLE', `cannot read ${path} (${describe(err)})`, { cause: err });
}

function within(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}

function trimOneNewline(s: string): string {
  if (s.endsWith('\r\n')) return s.slice(0, -2);
  if (s.endsWith('\n')) return s.slice(0, -1);
  return s;
}

export default defineProvider(
  (raw, ctx) => {
    const o = new OptionReader(raw, `providers.${ctx.name}`).only('path');
    return { root: resolve(o.string('path') ?? '/run/secrets') };
  },
  ({ root }, ctx): SecretProvider => {
    const warned = new Set<string>();

    function warnIfExposed(path: string, st: Stats): void {
      if (process.platform === 'win32' || (st.mode & 0o044) === 0 || warned.has(path)) return;
      warned.add(path);
      ctx.warn(
        `secret file ${path} is readable by ${st.mode & 0o004 ? 'every user' : 'its group'} (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it or mount it with mode 0400`,
      );
    }

    /** Resolves a path below root, refusing `..`, absolute paths and symlinks that leave root. */
    async function inside(rel: string): Promise<string> {
      if (
        rel === '' ||
        rel.split(/[\\/]/).some((seg) => seg === '..' || seg === '') ||
        rel.startsWith('/') ||
        rel.includes('\0')
      ) {
        throw new WardenError(
          'INVALID_REFERENCE',
          `invalid path ${JSON.stringify(rel)} for provider ${ctx.name}: a relative path below ${root} without ..`,
        );
      }
      const path = join(root, rel);
      let real: string;
      let realRoot: string;
      try {
        [real, realRoot] = await Promise.all([fsp.realpath(path), fsp.realpath(root)]);
      } catch (err) {
        if (isMissing(err)) return path;
        throw unavailable(path, err);
      }
      // sops-nix and agenix make root itself a symlink; only an escape from the resolved root is refused.
      if (!within(realRoot, real)) {
        throw new WardenError('INVALID_REFERENCE', `${path} points outside ${root}; refusing to read it`);
      }
      return path;
    }

    /**
     * Reads one secret file. Opened non-blocking: a FIFO planted in the directory would otherwise
     * hang the lookup until some writer shows up. A directory is a namespace in the nested
     * layouts, not a secret, so it reads as "not here" and a lookup chain moves on.
     */
    async function readAt(path: string): Promise<string | undefined> {
      let fh: FileHandle;
      try {
        fh = await fsp.open(path, constants.O_RDONLY | constants.O_NONBLOCK);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw unavailable(path, err);
      }
      try {
        const st = await fh.stat();
        if (st.isDirectory()) return undefined;
        if (!st.isFile())
          throw new WardenError(
            'PROVIDER_UNAVAILABLE',
            `${path} is not a regular file; a secret must be one`,
          );
        warnIfExposed(path, st);
        return trimOneNewline(await fh.readFile('utf8'));
      } catch (err) {
        throw err instanceof WardenError ? err : unavailable(path, err);
      } finally {
        await fh.close();
      }
    }

    /** Whether `entry` below root could hold a secret: it exists (through symlinks) and is no directory. */
    async function holdsSecret(entry: string): Promise<boolean> {
      const path = join(root, entry);
      try {
        return !(await fsp.stat(path)).isDirectory();
      } catch (err) {
        if (isMissing(err)) return false;
        throw unavailable(path, err);
      }
    }

    /** The file a secret name maps to: the exact name first, then the other spellings. */
    async function fileFor(name: string): Promise<string | undefined> {
      assertSecretName(name);
      if (await holdsSecret(name)) return inside(name);
      const want = canonical(name);
      let entries: string[];
      try {
        entries = await fsp.readdir(root);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return undefined;
        throw new WardenError('PROVIDER_UNAVAILABLE', `cannot list ${root} (${describe(err)})`);
      }
      for (const e of entries.filter((e) => e !== name && canonical(e) === want).sort()) {
        if (await holdsSecret(e)) return inside(e);
      }
      return undefined;
    }

    async function get(name: string): Promise<string | undefined> {
      const path = await fileFor(name);
      return path === undefined ? undefined : readAt(path);
    }

    /**
     * Descends into real directories only, so a symlink loop cannot recurse; a symlink is listed
     * when it resolves to a regular file inside root (Kubernetes mounts link every key into
     * `..data/`), never when it leads out of root, where get would refuse it anyway.
     */
    async function walk(dir: string, realRoot: string, out: SecretMeta[]): Promise<void> {
      for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        const path = join(dir, e.name);
        if (e.isDirectory()) {
          await walk(path, realRoot, out);
          continue;
        }
        const real = await fsp.realpath(path).catch(() => undefined);
        const st =
          real !== undefined && within(realRoot, real)
            ? await fsp.stat(real).catch(() => undefined)
            : undefined;
        if (!st?.isFile()) continue;
        warnIfExposed(path, st);
        out.push({
          name: relative(root, path).split(sep).join('/'),
          provider: ctx.name,
          updated: st.mtime.toISOString(),
        });
      }
    }

    return {
      type: 'dir',
      name: ctx.name,
      capabilities: { read: true, list: true, set: false, delete: false, versions: false },
      get,
      async getPath(path) {
        return readAt(await inside(path));
      },
      async has(name) {
        return (await get(name)) !== undefined;
      },
      async inspect(name) {
        const path = await fileFor(name);
        if (path === undefined) return undefined;
        const st = await fsp.stat(path).catch((err: unknown) => {
          if (isMissing(err)) return undefined;
          throw unavailable(path, err);
        });
        return st && { name, provider: ctx.name, updated: st.mtime.toISOString() };
      },
      async list() {
        let realRoot: string;
        try {
          realRoot = await fsp.realpath(root);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return [];
          throw new WardenError('PROVIDER_UNAVAILABLE', `cannot list ${root} (${describe(err)})`);
        }
        const out: SecretMeta[] = [];
        try {
          await walk(root, realRoot, out);
        } catch (err) {
          throw new WardenError('PROVIDER_UNAVAILABLE', `cannot list ${root} (${describe(err)})`);
        }
        return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      },
      async probe() {
        try {
          const st = await fsp.stat(root);
          return st.isDirectory()
            ? { usable: true, reason: `directory ${root}` }
            : { usable: false, reason: `${root} is not a directory` };
        } catch (err) {
          return {
            usable: false,
            reason: errnoCode(err) === 'ENOENT' ? `${root} does not exist` : describe(err),
          };
        }
      },
    };
  },
);
