import type { Socket } from 'node:net';
import type { PassThrough, Readable, Writable } from 'node:stream';
import { WardenError, describe } from '../errors.js';
import type { Engine } from './engine.js';

/**
 * A container's stdio over one hijacked connection (`POST /containers/{id}/attach`). Without a
 * TTY the daemon multiplexes stdout and stderr into frames with an 8-byte header
 * `[stream, 0, 0, 0, size (uint32 big-endian)]`; we split them back into two streams. With a TTY
 * the stream is raw and all of it is stdout.
 *
 * Attach before `start`: `stream=1` carries only what is written after the attach.
 */

export interface ContainerStdio {
  /** To the container's stdin; `end()` closes it (with `OpenStdin` and `StdinOnce` set). */
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Settles when the connection closes, with the transport error if there was one. */
  closed: Promise<WardenError | undefined>;
  /** Drops the connection at once. */
  close(): void;
}

const HEADER = 8;

export async function attachContainer(
  engine: Engine,
  id: string,
  opts: { tty?: boolean; stdin?: boolean; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ContainerStdio> {
  const stream = await import('node:stream'); // kept off the startup path of the CLI bundle
  const withStdin = opts.stdin ?? true;
  const { socket, head } = await engine.hijack(`/containers/${encodeURIComponent(id)}/attach`, {
    query: { stream: 1, stdin: withStdin ? 1 : 0, stdout: 1, stderr: 1 },
    ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }),
    ...(opts.signal && { signal: opts.signal }),
  });
  const stdout = new stream.PassThrough();
  const stderr = new stream.PassThrough();
  const stdin = new stream.Writable({
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, (err) => cb(err ?? null));
    },
    final(cb) {
      // A half-close: the daemon closes the container's stdin and keeps sending its output.
      socket.end();
      cb();
    },
    destroy(err, cb) {
      if (err) socket.destroy();
      cb(err);
    },
  });
  stdin.on('error', () => {
    // Reported through `closed`; a write after the container exits must not crash the caller.
  });
  const closed = pipeOutput(socket, head, opts.tty ?? false, stdout, stderr);
  return { stdin, stdout, stderr, closed, close: () => socket.destroy() };
}

function pipeOutput(
  socket: Socket,
  head: Buffer,
  tty: boolean,
  stdout: PassThrough,
  stderr: PassThrough,
): Promise<WardenError | undefined> {
  let pending: Buffer = Buffer.alloc(0);
  let waiting = 0; // outputs whose buffers are full: the socket stays paused until they drain

  const push = (target: PassThrough, data: Buffer) => {
    if (target.write(data)) return;
    waiting++;
    socket.pause();
    target.once('drain', () => {
      if (--waiting === 0) socket.resume();
    });
  };

  const onData = (chunk: Buffer) => {
    if (tty) return push(stdout, chunk);
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= HEADER) {
      const size = pending.readUInt32BE(4);
      if (pending.length < HEADER + size) break;
      const payload = pending.subarray(HEADER, HEADER + size);
      // 1 stdout, 2 stderr; 0 (stdin echoed) and 3 (daemon error) are not the server's stderr.
      const type = pending[0];
      if (size > 0) push(type === 2 || type === 3 ? stderr : stdout, payload);
      pending = pending.subarray(HEADER + size);
    }
  };

  return new Promise((resolve) => {
    let error: WardenError | undefined;
    if (head.length) onData(head);
    socket.on('data', onData);
    socket.on('error', (err) => {
      error = new WardenError('DOCKER_UNAVAILABLE', `attached connection lost: ${describe(err)}`, {
        cause: err,
      });
    });
    socket.on('close', () => {
      stdout.end();
      stderr.end();
      resolve(error);
    });
  });
}
