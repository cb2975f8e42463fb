import type { Readable, Writable } from 'node:stream';

/**
 * A newline-delimited JSON-RPC byte stream to one running server: a child's stdio, a container's
 * attached stdio, or an in-process bridge to a remote server. Lines are split here by hand (a
 * hot path: every upstream message passes through it once).
 */
export interface Channel {
  /** Writes one serialised message; answers false when the server is gone. */
  write(line: string): boolean;
  /** Each complete line the server writes. */
  onLine: (line: string) => void;
  /** Asks the server to stop (end of input, then a signal) and waits for it. */
  close(): Promise<void>;
  /** Settles once, when the server has gone: its exit code, or why it ended. */
  readonly exited: Promise<{ code: number | null; reason: string }>;
}

/** Splits a readable into lines (UTF-8, LF or CRLF) and hands each non-empty one to `each`. */
export function splitLines(stream: Readable, each: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const first = chunk.indexOf('\n');
    if (first < 0) {
      rest += chunk;
      return;
    }
    const text = rest + chunk;
    let nl = rest.length + first;
    let start = 0;
    rest = '';
    while (nl >= 0) {
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end > start) each(text.slice(start, end));
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    if (start < text.length) rest = text.slice(start);
  });
}

/** A channel over a pair of streams, ending when `done` settles. */
export function streamChannel(
  input: Writable,
  output: Readable,
  done: Promise<{ code: number | null; reason: string }>,
  stop: () => void,
): Channel {
  let open = true;
  const exited = done.finally(() => {
    open = false;
  });
  const channel: Channel = {
    onLine: () => undefined,
    write(line) {
      if (!open || input.destroyed || input.writableEnded) return false;
      input.write(line + '\n');
      return true;
    },
    async close() {
      if (open) {
        input.end();
        stop();
      }
      await exited;
    },
    exited,
  };
  splitLines(output, (line) => channel.onLine(line));
  input.on('error', () => undefined);
  return channel;
}
