import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { basename, join } from 'node:path';
import { WardenError, describe } from '../errors.js';
import { ensurePrivateDir, isAlive } from '../fsutil.js';
import { dataHome } from '../paths.js';
import type { SecretNeed, ServerConfig } from '../servers/schema.js';

/**
 * Delivery to a local process: each secret as an environment variable, or (with `file:`) as a
 * 0400 file in a private 0700 directory on tmpfs where there is one, with `VAR_FILE` pointing at
 * it. The directory is removed when the server stops; a crashed run's is removed at the next
 * start. Values never appear in an argv.
 */
export interface Prepared {
  env: NodeJS.ProcessEnv;
  /** The per-launch directory holding secret files, if any. */
  dir?: string;
  cleanup(): Promise<void>;
}

/** Variables of ours that must not reach a server: the store passphrase is a secret itself. */
const PRIVATE_VARS = ['MCP_WARDEN_PASSPHRASE'];

/** `$XDG_RUNTIME_DIR/mcp-warden` (tmpfs on systemd hosts), else /dev/shm, else the data dir. */
export function runtimeRoot(env: NodeJS.ProcessEnv): string {
  if (env.XDG_RUNTIME_DIR && existsSync(env.XDG_RUNTIME_DIR)) return join(env.XDG_RUNTIME_DIR, 'mcp-warden');
  if (process.platform === 'linux' && existsSync('/dev/shm'))
    return join('/dev/shm', `mcp-warden-${process.getuid?.() ?? 'user'}`);
  return join(dataHome(env), 'run');
}

/** Removes launch directories whose process is gone (named `<pid>.<random>`). */
export async function sweepLaunchDirs(root: string): Promise<void> {
  const entries = await fsp.readdir(root).catch(() => [] as string[]);
  for (const e of entries) {
    const pid = Number(e.split('.')[0]);
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid))
      await fsp.rm(join(root, e), { recursive: true, force: true });
  }
}

function fileName(need: SecretNeed): string {
  const name = need.file ? basename(need.file) : need.name.toLowerCase();
  return /^[A-Za-z0-9_.-]+$/.test(name) && name !== '.' && name !== '..' ? name : need.name;
}

export async function prepareProcess(
  server: ServerConfig,
  values: Map<SecretNeed, string>,
  base: NodeJS.ProcessEnv,
): Promise<Prepared> {
  const env: NodeJS.ProcessEnv = { ...base, ...server.env };
  for (const v of PRIVATE_VARS) delete env[v];
  const files = [...values].filter(([need]) => need.file !== undefined);
  for (const [need, value] of values)
    if (need.file === undefined && need.header === undefined) env[need.env] = value;
  if (files.length === 0) return { env, cleanup: () => Promise.resolve() };

  const root = runtimeRoot(base);
  await ensurePrivateDir(root);
  await sweepLaunchDirs(root);
  const dir = join(root, `${process.pid}.${randomBytes(6).toString('hex')}`);
  const cleanup = () => fsp.rm(dir, { recursive: true, force: true });
  try {
    await fsp.mkdir(dir, { mode: 0o700 });
    for (const [need, value] of files) {
      const path = join(dir, fileName(need));
      await fsp.writeFile(path, value, { mode: 0o400, flag: 'wx' });
      env[`${need.env}_FILE`] = path;
    }
  } catch (err) {
    await cleanup();
    throw new WardenError(
      'STORE_IO',
      `cannot write the secret files of ${server.name} in ${dir} (${describe(err)})`,
    );
  }
  return { env, dir, cleanup };
}
