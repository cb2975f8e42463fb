import { connect, type Socket } from 'node:net';

/** A hand-driven HTTP/1.1 client for framing tests: raw bytes out, responses parsed back. */
export interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The complete responses in `text` (framed by content-length, chunked, or by the close). */
export function responses(text: string, closed = false): Parsed[] {
  const out: Parsed[] = [];
  let rest = text;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return out;
    const [line, ...lines] = rest.slice(0, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines)
      headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    const status = Number(line!.slice(9, 12));
    let p = end + 4;
    let body = '';
    if (status === 100) {
      rest = rest.slice(p);
      continue;
    }
    if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (rest.length < p + n) return out;
      body = rest.slice(p, p + n);
      p += n;
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const lf = rest.indexOf('\r\n', p);
        if (lf < 0) return out;
        const n = parseInt(rest.slice(p, lf), 16);
        if (rest.length < lf + 2 + n + 2) return out;
        body += rest.slice(lf + 2, lf + 2 + n);
        p = lf + 2 + n + 2;
        if (n === 0) break;
      }
    } else {
      if (!closed) return out;
      body = rest.slice(p);
      p = rest.length;
    }
    out.push({ status, headers, body });
    rest = rest.slice(p);
  }
}

/** A raw client: what it has received so far, and waits on it. */
export function raw(port: number) {
  const sock: Socket = connect(port, '127.0.0.1');
  sock.setEncoding('latin1');
  let text = '';
  let isClosed = false;
  const wake = new Set<() => void>();
  sock.on('data', (d: string) => {
    text += d;
    for (const w of wake) w();
  });
  sock.on('error', () => undefined);
  sock.on('close', () => {
    isClosed = true;
    for (const w of wake) w();
  });
  const until = async (ok: () => boolean, ms = 3000, what = 'condition') => {
    const deadline = Date.now() + ms;
    while (!ok()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(text)}`);
      await new Promise<void>((r) => {
        wake.add(r);
        setTimeout(r, 20);
      });
    }
  };
  return {
    sock,
    get text() {
      return text;
    },
    get closed() {
      return isClosed;
    },
    send: (s: string) => sock.write(s),
    /** Waits for `n` complete responses, and answers them. */
    async responses(n: number, ms?: number) {
      await until(() => responses(text, isClosed).length >= n, ms, `${n} responses`);
      return responses(text, isClosed);
    },
    waitClosed: (ms?: number) => until(() => isClosed, ms, 'the close'),
    until,
  };
}

export const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`;
