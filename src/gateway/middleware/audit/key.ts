import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';
import { WardenError, describe, errnoCode } from '../../../errors.js';
import { atomicWrite, ensurePrivateDir } from '../../../fsutil.js';

/**
 * The audit chain's HMAC key: 32 random bytes, kept as 64 hex characters and a newline in a 0600
 * file (by default `$MCP_WARDEN_HOME/audit.key`). Whoever can read it can forge a valid chain
 * (see format.ts), so it stays beside the store's own key, never beside the log.
 */
export const KEY_BYTES = 32;

function decode(path: string, text: Buffer): KeyObject {
  const hex = text.toString('latin1').trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new WardenError(
      'AUDIT_IO',
      `${path} is not an audit key (expected ${KEY_BYTES * 2} hex characters); restore it from a backup, or move it away to start a new chain`,
    );
  return createSecretKey(Buffer.from(hex, 'hex'));
}

/** Reads an existing key; AUDIT_IO naming the file when it is missing or unreadable. */
export async function readAuditKey(path: string): Promise<KeyObject> {
  let text: Buffer;
  try {
    text = await fsp.readFile(path);
  } catch (err) {
    throw new WardenError(
      'AUDIT_IO',
      errnoCode(err) === 'ENOENT'
        ? `no audit key at ${path}; pass --key-file with the key the gateway used`
        : `cannot read the audit key ${path} (${describe(err)})`,
      { cause: err },
    );
  }
  return decode(path, text);
}

/**
 * The key at `path`, created (0600, atomically, in a 0700 directory) on first use. Two gateways
 * starting at once agree on one key: the new key is written to a temporary file and published
 * with link(2), which fails when another process published first; then that one is read.
 * Warns (through `warn`) when the file is readable by others.
 */
export async function loadAuditKey(path: string, warn: (m: string) => void = () => {}): Promise<KeyObject> {
  try {
    const st = await fsp.stat(path);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0)
      warn(
        `audit: the key ${path} is readable by group or others (whoever reads it can forge the chain); run chmod 600 ${path}`,
      );
    return await readAuditKey(path);
  } catch (err) {
    if (errnoCode(err) !== 'ENOENT') throw err;
  }
  await ensurePrivateDir(dirname(path));
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.new`;
  try {
    await atomicWrite(tmp, `${randomBytes(KEY_BYTES).toString('hex')}\n`, 0o600);
    await fsp.link(tmp, path).catch(async (err: unknown) => {
      const code = errnoCode(err);
      if (code === 'EEXIST') return;
      // No hard links here (FAT, some network shares): a plain rename, last writer wins.
      if (code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS') await fsp.rename(tmp, path);
      else throw err;
    });
  } catch (err) {
    throw new WardenError('AUDIT_IO', `cannot create the audit key ${path} (${describe(err)})`, {
      cause: err,
    });
  } finally {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
  }
  return readAuditKey(path);
}
