import { promises as fsp, type Stats } from 'node:fs';
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
        if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') return path;
        throw new WardenError('PROVIDER_UNAVAILABLE', `cannot read ${path} (${describe(err)})`);
      }
      // sops-nix and agenix make root itself a symlink; only an escape from the resolved root is refused.
      if (real !== realRoot && !real.startsWith(realRoot + sep)) {
        throw new WardenError('INVALID_REFERENCE', `${path} points outside ${root}; refusing to read it`);
      }
      return path;
    }

    async function readAt(path: string): Promise<string | undefined> {
      try {
        const fh = await fsp.open(path, 'r');
        try {
          const st = await fh.stat();
          if (!st.isFile()) return undefined;
          warnIfExposed(path, st);
          return trimOneNewline(await fh.readFile('utf8'));
        } finally {
          await fh.close();
        }
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
        throw new WardenError('PROVIDER_UNAVAILABLE', `cannot read ${path} (${describe(err)})`);
      }
    }

    /** The file a secret name maps to: the exact name first, then the other spellings. */
    async function fileFor(name: string): Promise<string | undefined> {
      assertSecretName(name);
      const exact = join(root, name);
      const st = await fsp.stat(exact).catch((err: unknown) => {
        const code = errnoCode(err);
        if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
        throw new WardenError('PROVIDER_UNAVAILABLE', `cannot read ${exact} (${describe(err)})`);
      });
      if (st?.isFile()) return inside(name);
      const want = canonical(name);
      let entries: string[];
      try {
        entries = await fsp.readdir(root);
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return undefined;
        throw new WardenError('PROVIDER_UNAVAILABLE', `cannot list ${root} (${describe(err)})`);
      }
      const match = entries.filter((e) => canonical(e) === want).sort()[0];
      return match === undefined ? undefined : inside(match);
    }

    async function walk(dir: string, out: SecretMeta[]): Promise<void> {
      for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        const path = join(dir, e.name);
        const st = await fsp.stat(path).catch(() => undefined);
        if (!st) continue;
        if (st.isDirectory()) await walk(path, out);
        else if (st.isFile()) {
          warnIfExposed(path, st);
          out.push({
            name: relative(root, path).split(sep).join('/'),
            provider: ctx.name,
            updated: st.mtime.toISOString(),
          });
        }
      }
    }

    return {
      type: 'dir',
      name: ctx.name,
      capabilities: { read: true, list: true, set: false, delete: false, versions: false },
      async get(name) {
        const path = await fileFor(name);
        return path === undefined ? undefined : readAt(path);
      },
      async getPath(path) {
        return readAt(await inside(path));
      },
      async has(name) {
        return (await fileFor(name)) !== undefined;
      },
      async inspect(name) {
        const path = await fileFor(name);
        if (path === undefined) return undefined;
        const st = await fsp.stat(path);
        return { name, provider: ctx.name, updated: st.mtime.toISOString() };
      },
      async list() {
        const out: SecretMeta[] = [];
        try {
          await walk(root, out);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return [];
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
