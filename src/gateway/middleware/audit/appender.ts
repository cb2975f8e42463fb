import { writeSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WardenError, errnoCode } from '../../../errors.js';

/**
 * The audit file as the writer appends to it: a handle opened for append (0600; its directory
 * 0700 if created here), batches of whole lines written byte-exact, and the file it is open on
 * remembered, so that a line a failed write cut half-way is completed only in that same file
 * (never written twice there), and written again whole in any other. A file found ending
 * mid-line (a crash during a write) gets a newline first, so the next line starts clean.
 */
export class Appender {
  private fh: FileHandle | undefined;
  private ino = -1;
  private dev = -1;
  /** Bytes at the start of the next batch already in the file: the part of a cut line. */
  private skip = 0;

  constructor(
    readonly file: string,
    private readonly log: (line: string) => void,
  ) {}

  get isOpen(): boolean {
    return this.fh !== undefined;
  }

  /** (Re)opens the path; throws what the filesystem says. */
  async open(): Promise<void> {
    await this.close();
    await fsp.mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    // a+: appends, and lets us read the last byte to see whether the file ends mid-line.
    const fh = await fsp.open(this.file, 'a+', 0o600);
    try {
      const st = await fh.stat();
      if (this.skip > 0 && (st.ino !== this.ino || st.dev !== this.dev)) {
        this.log(
          `audit: ${this.file} is a new file; the line cut by the failed write is written again whole`,
        );
        this.skip = 0;
      }
      this.ino = st.ino;
      this.dev = st.dev;
      if (this.skip === 0 && st.isFile() && st.size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, st.size - 1);
        if (last[0] !== 10) await fh.write('\n');
      }
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    this.fh = fh;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }

  /**
   * Appends `batch` (whole lines; after a failure, the same bytes from the cut line on).
   * Answers `done`, the bytes at its start that are in the file for good (whole lines: all of
   * them on success), and the error that stopped it. After an error the handle is closed (it may
   * be dead: EBADF, EIO); the next attempt opens the path again.
   */
  async append(batch: Buffer): Promise<{ done: number; error?: unknown }> {
    // writeSync, as pino's sonic-boom does: a batch is appended every few tens of milliseconds to
    // the page cache, which takes microseconds; an asynchronous write costs a thread-pool round
    // trip whose wake-ups, on a busy 2-core machine, cost the event loop more than the write.
    let off = this.skip;
    try {
      if (this.fh === undefined) throw new WardenError('AUDIT_IO', `${this.file} is not open`);
      while (off < batch.length) {
        const bytesWritten = writeSync(this.fh.fd, batch, off, batch.length - off);
        if (bytesWritten <= 0) throw new WardenError('AUDIT_IO', 'the file accepted no bytes');
        off += bytesWritten;
      }
      this.skip = 0;
      return { done: batch.length };
    } catch (error) {
      await this.close();
      const lineStart = off === 0 ? 0 : batch.lastIndexOf(10, off - 1) + 1;
      this.skip = off - lineStart;
      return { done: lineStart, error };
    }
  }

  /** Whether the path now names another file, or none (moved away, removed): why, or undefined. */
  async moved(): Promise<string | undefined> {
    if (this.fh === undefined) return undefined;
    try {
      const st = await fsp.stat(this.file);
      return st.ino !== this.ino || st.dev !== this.dev ? 'was replaced' : undefined;
    } catch (err) {
      return errnoCode(err) === 'ENOENT' ? 'was moved away or removed' : undefined;
    }
  }
}
