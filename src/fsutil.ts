import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { WardenError, describe, errnoCode } from './errors.js';

const isPosix = process.platform !== 'win32';

/** Creates `dir` (and parents) 0700 if missing, then checks it is private to this user. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new WardenError('STORE_IO', `cannot create directory ${dir} (${describe(err)})`, { cause: err });
  }
  await assertPrivateDir(dir);
}

/**
 * Refuses a directory other users could write to or that belongs to someone else: either would
 * let them swap ciphertexts or plant a key file.
 */
export async function assertPrivateDir(dir: string): Promise<void> {
  if (!isPosix) return;
  let st;
  try {
    st = await fsp.stat(dir);
  } catch (err) {
    throw new WardenError('STORE_IO', `cannot read directory ${dir} (${describe(err)})`, { cause: err });
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new WardenError(
      'STORE_INSECURE',
      `refusing store directory ${dir}: owned by uid ${st.uid}, not by you (uid ${uid}); use your own directory`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new WardenError(
      'STORE_INSECURE',
      `refusing store directory ${dir}: group or others can write to it; run chmod 700 ${dir}`,
    );
  }
}

/** fsync a directory so a rename in it survives a power cut (a no-op where that is unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  if (!isPosix) return;
  const fh = await fsp.open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** The temporary files atomicWrite leaves behind when killed; cleaned by `sweepTempFiles`. */
const TEMP_PREFIX = '.tmp.';

/**
 * Writes `data` to `path` atomically and durably: a 0600 temporary file in the same directory,
 * fsync, rename over the target, fsync the directory. A reader sees the old or the new content,
 * never a mix, whenever the writer dies.
 */
export async function atomicWrite(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${TEMP_PREFIX}${process.pid}.${randomBytes(6).toString('hex')}.${basename(path)}`);
  try {
    const fh = await fsp.open(tmp, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, path);
    await fsyncDir(dir);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw new WardenError('STORE_IO', `cannot write ${path} (${describe(err)})`, { cause: err });
  }
}

/** Removes temporary files left by writers that no longer run. */
export async function sweepTempFiles(dir: string, entries: readonly string[]): Promise<void> {
  for (const entry of entries) {
    if (!entry.startsWith(TEMP_PREFIX)) continue;
    const pid = Number(entry.slice(TEMP_PREFIX.length).split('.')[0]);
    if (Number.isInteger(pid) && !isAlive(pid))
      await fsp.rm(join(dir, entry), { force: true }).catch(() => undefined);
  }
}

export function isTempFile(entry: string): boolean {
  return entry.startsWith(TEMP_PREFIX);
}

export function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM';
  }
}

/** Reads a file, answering undefined for "no such file" and throwing STORE_IO for anything else. */
export async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new WardenError('STORE_IO', `cannot read ${path} (${describe(err)})`, { cause: err });
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A lock file made with O_EXCL holding the owner's pid. A lock whose owner died (SIGKILL, power
 * cut) is broken by the next writer. Hand-written: proper-lockfile detects staleness by mtime
 * only, so a killed writer would stall the next one for the whole stale period.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    try {
      const fh = await fsp.open(lockPath, 'wx', 0o600);
      try {
        await fh.writeFile(String(process.pid));
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        throw new WardenError('STORE_IO', `cannot create lock ${lockPath} (${describe(err)})`, {
          cause: err,
        });
      }
    }
    const content = (await readIfExists(lockPath))?.toString();
    if (content === undefined) continue; // released meanwhile
    const owner = Number(content); // '' is 0: a creator between open and write, or killed there
    if (!Number.isInteger(owner) || owner <= 0 || !isAlive(owner)) {
      await breakStaleLock(lockPath, owner);
      continue;
    }
    if (Date.now() > deadline) {
      throw new WardenError(
        'LOCK_TIMEOUT',
        `${lockPath} is held by process ${owner}; retry, or remove it if that process is stuck`,
      );
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 20);
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockPath, { force: true }).catch(() => undefined);
  }
}

async function breakStaleLock(lockPath: string, owner: number): Promise<void> {
  // Re-read right before removing: another writer may have released, broken or taken it since.
  const st = await fsp.stat(lockPath).catch(() => undefined);
  if (!st) return; // released meanwhile: just try to take it
  const again = Number((await readIfExists(lockPath))?.toString() ?? 'gone');
  if (Number.isNaN(again)) return;
  if (again === 0) {
    // Empty: a live writer between open and write, unless it has been empty for a while (killed).
    if (Date.now() - st.mtimeMs < 1000) await sleep(2);
    else await fsp.rm(lockPath, { force: true });
    return;
  }
  // The same dead owner as before. A writer that broke it and took it between our read and this
  // rm would lose its lock; that needs two writers to find one dead lock at the same instant,
  // and costs at most a repeated version number, never a torn file (writes are renames).
  if (again === owner && !isAlive(again)) await fsp.rm(lockPath, { force: true });
}
