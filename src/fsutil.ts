import { randomBytes } from 'node:crypto';
import { constants, promises as fsp, readFileSync, statSync } from 'node:fs';
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
export function assertPrivateDir(dir: string): Promise<void> {
  return Promise.resolve().then(() => checkPrivateDir(dir));
}

function checkPrivateDir(dir: string): void {
  if (!isPosix) return;
  let st;
  try {
    // statSync: a stat of a directory is microseconds, a thread-pool trip costs more (run asks 50 times).
    st = statSync(dir);
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

/** A file the user named on the command line: any failure is a one-line INVALID_VALUE error. */
export async function readUserFile(path: string): Promise<Buffer> {
  try {
    return await fsp.readFile(path);
  } catch (err) {
    throw new WardenError('INVALID_VALUE', `cannot read ${path} (${describe(err)})`, { cause: err });
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

/**
 * readIfExists for a file of a few hundred bytes (a secret, the store key): one synchronous read
 * costs microseconds, where fs.promises.readFile makes four thread-pool round trips (open, stat,
 * read, close). Resolving 50 references for `run` took 25-30 ms the asynchronous way and about
 * 1 ms this way.
 */
export function readSmallIfExists(path: string): Buffer | undefined;
/** As text: one call into Node's C++ side, where a Buffer read makes four or five. */
export function readSmallIfExists(path: string, encoding: 'utf8'): string | undefined;
export function readSmallIfExists(path: string, encoding?: 'utf8'): Buffer | string | undefined {
  try {
    return encoding ? readFileSync(path, encoding) : readFileSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new WardenError('STORE_IO', `cannot read ${path} (${describe(err)})`, { cause: err });
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a lock file says: its owner, and which file it is (locks are re-created, never rewritten). */
interface LockInfo {
  owner: number;
  ino: number;
  mtimeMs: number;
}

async function readLock(lockPath: string): Promise<LockInfo | undefined> {
  let fh;
  try {
    fh = await fsp.open(lockPath, constants.O_RDONLY);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new WardenError('STORE_IO', `cannot read lock ${lockPath} (${describe(err)})`, { cause: err });
  }
  try {
    const st = await fh.stat();
    // '' is 0 and junk NaN: no owner (only the O_EXCL fallback below can leave an empty lock).
    return { owner: Number(await fh.readFile('utf8')), ino: st.ino, mtimeMs: st.mtimeMs };
  } finally {
    await fh.close();
  }
}

/**
 * Stale when its owner is dead. A lock naming no pid (only the O_EXCL fallback, killed between
 * creating and writing it, leaves one) is stale once it has been so for a second.
 */
function isStale(lock: LockInfo): boolean {
  return Number.isInteger(lock.owner) && lock.owner > 0
    ? !isAlive(lock.owner)
    : Date.now() - lock.mtimeMs > 1000;
}

/**
 * Creates `lockPath` holding this pid, or answers undefined if it exists. The pid is written to a
 * temporary file first and published with link(2), which fails on an existing target: the lock is
 * never seen empty, so a writer killed while taking it leaves a lock naming a dead pid (broken at
 * once) rather than an empty one (which would have to age first). Answers the lock's inode.
 */
async function tryCreateLock(lockPath: string): Promise<number | undefined> {
  const tmp = join(
    dirname(lockPath),
    `${TEMP_PREFIX}${process.pid}.${randomBytes(6).toString('hex')}.${basename(lockPath)}`,
  );
  try {
    await fsp.writeFile(tmp, String(process.pid), { flag: 'wx', mode: 0o600 });
    try {
      await fsp.link(tmp, lockPath);
      return (await fsp.stat(tmp)).ino;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST') return undefined;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw err;
    }
    // No hard links on this filesystem (FAT, some network shares): O_EXCL, then write the pid.
    const fh = await fsp.open(lockPath, 'wx', 0o600).catch((err: unknown) => {
      if (errnoCode(err) === 'EEXIST') return undefined;
      throw err;
    });
    if (!fh) return undefined;
    try {
      await fh.writeFile(String(process.pid));
      return (await fh.stat()).ino;
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new WardenError('STORE_IO', `cannot create lock ${lockPath} (${describe(err)})`, { cause: err });
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** Removes the lock only if it is still the file this process created. */
async function releaseLock(lockPath: string, ino: number): Promise<void> {
  const st = await fsp.stat(lockPath).catch(() => undefined);
  if (st?.ino === ino) await fsp.rm(lockPath, { force: true }).catch(() => undefined);
}

/**
 * A lock file holding the owner's pid, created exclusively (see tryCreateLock). A lock whose owner
 * died (SIGKILL, power cut) is broken by the next writer. Hand-written: proper-lockfile detects
 * staleness by mtime only, so a killed writer would stall the next one for the whole stale period.
 */
export async function withLock<T>(lockPath: string, fn: () => Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  let mine: number | undefined;
  for (;;) {
    mine = await tryCreateLock(lockPath);
    if (mine !== undefined) break;
    const lock = await readLock(lockPath);
    if (lock === undefined) continue; // released meanwhile
    const stale = isStale(lock);
    if (Date.now() > deadline) {
      throw new WardenError(
        'LOCK_TIMEOUT',
        stale
          ? `cannot break the stale lock ${lockPath}; remove it (its owner is gone)`
          : `${lockPath} is held by process ${lock.owner}; retry, or remove it if that process is stuck`,
      );
    }
    if (stale) {
      await breakStaleLock(lockPath);
      continue;
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 20);
  }
  try {
    return await fn();
  } finally {
    await releaseLock(lockPath, mine);
  }
}

/**
 * Removes a stale lock. Several waiting writers find a dead lock at the same instant; were each to
 * check and remove it, a slow one would remove the lock a fast one had meanwhile taken, and two
 * writers would run at once (the concurrency test saw it in half the runs). So breakers take a
 * second lock, `LOCK.break`, and check again under it: while it is held, only the lock's owner
 * (dead) could remove the lock, so the file found stale is the file removed.
 *
 * The guard is held for microseconds. One left by a breaker killed inside it is removed by the
 * next breaker without that protection: a race needs a kill there and two breakers at once.
 */
async function breakStaleLock(lockPath: string): Promise<void> {
  const guardPath = `${lockPath}.break`;
  const guard = await tryCreateLock(guardPath);
  if (guard === undefined) {
    const other = await readLock(guardPath);
    if (other && isStale(other)) await fsp.rm(guardPath, { force: true });
    else await sleep(1);
    return;
  }
  try {
    const lock = await readLock(lockPath);
    if (lock && isStale(lock)) {
      await fsp.rm(lockPath, { force: true }).catch((err: unknown) => {
        throw new WardenError('STORE_IO', `cannot remove the stale lock ${lockPath} (${describe(err)})`, {
          cause: err,
        });
      });
    }
  } finally {
    await releaseLock(guardPath, guard);
  }
}
