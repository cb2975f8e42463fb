import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { WardenError, describe, errnoCode } from '../errors.js';
import {
  assertPrivateDir,
  atomicWrite,
  ensurePrivateDir,
  isTempFile,
  readIfExists,
  readSmallIfExists,
  sweepTempFiles,
  withLock,
} from '../fsutil.js';
import { SECRET_NAME, assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretMeta, type SecretProvider } from '../provider.js';
import { loadKey, type StoreKey } from '../store/file-key.js';

/**
 * The embedded default: one AES-256-GCM file per secret under `<dir>/secrets/NAME.json`.
 *
 * The file is one JSON object: plaintext metadata (so `ls` decrypts nothing and needs no key)
 * and the sealed value. The associated data binds the format version, the secret's name as the
 * caller asked for it (not as the file claims), its metadata and the key id, so a ciphertext
 * copied to another name, or edited metadata, fails to decrypt.
 */
const FORMAT = 'mcp-warden/secret';
const VERSION = 1;
const SUFFIX = '.json';

interface SecretFile {
  format: typeof FORMAT;
  v: typeof VERSION;
  name: string;
  created: string;
  updated: string;
  version: number;
  key: string;
  alg: 'A256GCM';
  nonce: string;
  data: string;
}

function aad(name: string, f: Pick<SecretFile, 'created' | 'updated' | 'version' | 'key'>): Buffer {
  return Buffer.from(
    [FORMAT, `v${VERSION}`, name, f.created, f.updated, String(f.version), f.key].join('\0'),
    'utf8',
  );
}

export function seal(name: string, value: string, key: StoreKey, prev?: SecretMeta): SecretFile {
  const now = new Date().toISOString();
  const meta = {
    created: prev?.created ?? now,
    updated: now,
    version: (prev?.version ?? 0) + 1,
    key: key.id,
  };
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key.key, nonce);
  c.setAAD(aad(name, meta));
  const data = Buffer.concat([c.update(value, 'utf8'), c.final(), c.getAuthTag()]);
  return {
    format: FORMAT,
    v: VERSION,
    name,
    ...meta,
    alg: 'A256GCM',
    nonce: nonce.toString('base64'),
    data: data.toString('base64'),
  };
}

function corrupt(name: string, path: string, why: string): WardenError {
  return new WardenError(
    'SECRET_CORRUPT',
    `secret "${name}" is corrupt or was tampered with (${why}): ${path}; set it again or restore it`,
  );
}

/**
 * Decrypts first and compares key ids only when that fails ("another key" or "tampered"): a
 * success proves the key, since the id the file records is bound into the associated data, and
 * the id costs a SHA-256, which `run` would otherwise be first to need.
 */
export function open(name: string, f: SecretFile, key: StoreKey, path: string): string {
  const fail = (why: string) => {
    if (f.key === key.id) return corrupt(name, path, why);
    return new WardenError(
      'KEY_MISMATCH',
      `secret "${name}" was encrypted with another key (id ${f.key}, this store's ${key.source} gives ${key.id}); ` +
        (key.source === 'passphrase'
          ? 'unset MCP_WARDEN_PASSPHRASE or use the passphrase it was stored with'
          : 'set MCP_WARDEN_PASSPHRASE to the passphrase it was stored with'),
    );
  };
  const raw = Buffer.from(f.data, 'base64');
  const nonce = Buffer.from(f.nonce, 'base64');
  if (nonce.length !== 12 || raw.length < 16) throw fail('truncated ciphertext');
  try {
    const d = createDecipheriv('aes-256-gcm', key.key, nonce);
    d.setAAD(aad(name, f));
    d.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([d.update(raw.subarray(0, raw.length - 16)), d.final()]).toString('utf8');
  } catch {
    throw fail('authentication failed');
  }
}

function parseFile(name: string, path: string, raw: string | Buffer): SecretFile {
  let f: unknown;
  try {
    f = JSON.parse(raw.toString());
  } catch {
    throw corrupt(name, path, 'not JSON');
  }
  const s = f as Partial<SecretFile> | null;
  if (
    !s ||
    s.format !== FORMAT ||
    s.v !== VERSION ||
    typeof s.created !== 'string' ||
    typeof s.updated !== 'string' ||
    typeof s.version !== 'number' ||
    typeof s.key !== 'string' ||
    typeof s.nonce !== 'string' ||
    typeof s.data !== 'string'
  ) {
    throw corrupt(name, path, 'unknown format');
  }
  if (typeof s.name !== 'string') throw corrupt(name, path, 'unknown format');
  return s as SecretFile;
}

export default defineProvider(
  (raw, ctx) => {
    const o = new OptionReader(raw, `providers.${ctx.name}`).only('path');
    return { dir: o.string('path') ?? ctx.home };
  },
  ({ dir }, ctx): SecretProvider => {
    const secretsDir = join(dir, 'secrets');
    // Not join(): a checked name holds no separator and cannot be `.` or `..`, and path.join,
    // run cold 50 times by `run`, costs about half a millisecond.
    const pathOf = (name: string) => secretsDir + sep + assertSecretName(name) + SUFFIX;
    let loaded: StoreKey | undefined;
    let loading: Promise<StoreKey | undefined> | undefined;
    let checking: Promise<void> | undefined;
    const passphrase = ctx.env.MCP_WARDEN_PASSPHRASE;

    /** The directory check; calls made together (the 50 gets of a `run`) share one. */
    function checkDir(): Promise<void> {
      checking ??= assertPrivateDir(dir).finally(() => {
        checking = undefined;
      });
      return checking;
    }

    /**
     * The key, read once per instance (scrypt is slow on purpose) and shared by concurrent
     * callers: `run` asks for 50 secrets at once, and each used to read the key file, or run
     * scrypt, on its own. `ls` never needs it, and `get` of a missing secret never creates it; a
     * failure or an absent key is not remembered. The directory is checked on every call.
     */
    async function key(create: boolean): Promise<StoreKey | undefined> {
      if (create) await ensurePrivateDir(dir);
      else await checkDir();
      if (loaded) return loaded;
      loading ??= loadKey(dir, passphrase, false).finally(() => {
        loading = undefined;
      });
      loaded = (await loading) ?? (create ? await loadKey(dir, passphrase, true) : undefined);
      return loaded;
    }

    /**
     * The file for `name`, or undefined. On a case-insensitive filesystem FOO.json answers for
     * foo: the name in the header tells them apart (`set` refuses such a clash).
     */
    function readSecret(name: string, at?: string): Promise<SecretFile | undefined> {
      return Promise.resolve().then(() => {
        const path = at ?? pathOf(name);
        const raw = readSmallIfExists(path, 'utf8');
        return raw === undefined ? undefined : ownFile(name, path, raw);
      });
    }

    function ownFile(name: string, path: string, raw: string): SecretFile | undefined {
      const f = parseFile(name, path, raw);
      if (f.name === name) return f;
      if (f.name.toLowerCase() === name.toLowerCase()) return undefined;
      throw corrupt(name, path, 'the file names another secret');
    }

    function metaOf(f: SecretFile): SecretMeta {
      return { name: f.name, provider: ctx.name, created: f.created, updated: f.updated, version: f.version };
    }

    const provider: SecretProvider = {
      type: 'file',
      name: ctx.name,
      capabilities: { read: true, list: true, set: true, delete: true, versions: true },

      async get(name) {
        const path = pathOf(name);
        const f = await readSecret(name, path);
        if (!f) return undefined;
        const k = await key(false);
        if (!k) {
          throw new WardenError(
            'KEY_MISMATCH',
            passphrase
              ? `secret "${name}" exists but ${dir} has no passphrase settings (kdf.json); unset MCP_WARDEN_PASSPHRASE if it was stored with the key file, or restore kdf.json`
              : `secret "${name}" exists but ${dir} has no key file; set MCP_WARDEN_PASSPHRASE if it was stored with a passphrase, or restore the key file`,
          );
        }
        return open(name, f, k, path);
      },

      async has(name) {
        return (await readSecret(name)) !== undefined;
      },

      async inspect(name) {
        const f = await readSecret(name);
        return f && metaOf(f);
      },

      async set(name, value) {
        const path = pathOf(name);
        const k = await key(true);
        if (!k) throw new WardenError('STORE_IO', `cannot create the store key in ${dir}`);
        await fsp.mkdir(secretsDir, { mode: 0o700 }).catch((err: unknown) => {
          if (errnoCode(err) !== 'EEXIST')
            throw new WardenError('STORE_IO', `cannot create ${secretsDir} (${describe(err)})`);
        });
        await assertPrivateDir(secretsDir);
        return withLock(join(secretsDir, `.${name}.lock`), async () => {
          const raw = await readIfExists(path);
          let prev: SecretFile | undefined;
          if (raw !== undefined) {
            try {
              prev = parseFile(name, path, raw);
            } catch {
              prev = undefined; // a corrupt file is replaced: setting a secret again is the documented repair
            }
            if (prev && prev.name !== name) {
              if (prev.name.toLowerCase() === name.toLowerCase()) {
                throw new WardenError(
                  'INVALID_NAME',
                  `secret "${name}" would overwrite "${prev.name}" on this case-insensitive filesystem; pick another name`,
                );
              }
              prev = undefined;
            }
          }
          const f = seal(name, value, k, prev && metaOf(prev));
          await atomicWrite(path, JSON.stringify(f) + '\n');
          return metaOf(f);
        });
      },

      async delete(name) {
        const path = pathOf(name);
        if (!(await readSecret(name, path))) return false;
        try {
          await fsp.rm(path);
          return true;
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return false;
          throw new WardenError('STORE_IO', `cannot remove ${path} (${describe(err)})`);
        }
      },

      async list() {
        let entries: string[];
        try {
          entries = await fsp.readdir(secretsDir);
        } catch (err) {
          if (errnoCode(err) === 'ENOENT') return [];
          throw new WardenError('STORE_IO', `cannot list ${secretsDir} (${describe(err)})`);
        }
        await assertPrivateDir(secretsDir);
        await sweepTempFiles(secretsDir, entries);
        const names = entries
          .filter((e) => e.endsWith(SUFFIX) && !isTempFile(e))
          .map((e) => e.slice(0, -SUFFIX.length))
          .filter((n) => SECRET_NAME.test(n));
        const metas: SecretMeta[] = [];
        // Synchronous reads on purpose: for 10,000 small files, fs.promises.readFile's
        // open/stat/read/close round trips cost 3-5x more (bench/run.js measured 560 ms against
        // about 210 ms for the whole `secret ls`). A listing is never on the gateway's request path.
        for (const name of names) {
          const path = pathOf(name);
          let raw: string;
          try {
            raw = readFileSync(path, 'utf8');
          } catch (err) {
            if (errnoCode(err) === 'ENOENT') continue; // removed since readdir
            throw new WardenError('STORE_IO', `cannot read ${path} (${describe(err)})`);
          }
          try {
            const f = ownFile(name, path, raw);
            if (f) metas.push(metaOf(f));
          } catch (err) {
            if (!(err instanceof WardenError && err.code === 'SECRET_CORRUPT')) throw err;
            ctx.warn(err.message);
            metas.push({ name, provider: ctx.name });
          }
        }
        return metas.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      },

      async probe() {
        try {
          await ensurePrivateDir(dir);
          return {
            usable: true,
            reason:
              `encrypted files in ${dir}` +
              (passphrase ? ' (key from MCP_WARDEN_PASSPHRASE)' : ' (key file)'),
          };
        } catch (err) {
          return { usable: false, reason: err instanceof WardenError ? err.message : describe(err) };
        }
      },
    };
    return provider;
  },
);
