import { chmodSync, copyFileSync, writeFileSync } from 'node:fs';
import { Agent, request, type RequestOptions } from 'node:https';
import { connect as tcpConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect, type SecureVersion } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isWardenError } from '../src/errors.js';
import { loadTls } from '../src/gateway/fronts/wire-tls.js';
import {
  createWireServer,
  type WireHandler,
  type WireOptions,
  type WireResponse,
  type WireServer,
} from '../src/gateway/fronts/wire.js';
import { selfSignedCert, type TestCert } from './helpers/tls.js';

/**
 * HTTPS on the hand-written HTTP/1.1 server (fronts/wire.ts) with a throwaway self-signed
 * certificate: real TLS clients (node:https, node:tls) and raw TCP sockets on 127.0.0.1.
 */
let cert: TestCert;
beforeAll(() => {
  cert = selfSignedCert();
});

const running: WireServer[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

interface Served {
  port: number;
  server: WireServer;
  errors: (Error & { code?: string })[];
}

async function serve(handler: WireHandler, opts: WireOptions = {}): Promise<Served> {
  const errors: (Error & { code?: string })[] = [];
  const server = await createWireServer(handler, {
    tls: { cert: cert.cert, key: cert.key },
    onError: (err) => errors.push(err as Error),
    ...opts,
  });
  await server.listen(0, '127.0.0.1');
  running.push(server);
  return { port: server.address()!.port, server, errors };
}

const echo: WireHandler = (req, res) => {
  const text = JSON.stringify({
    method: req.method,
    url: req.url,
    body: req.body().toString('utf8'),
    remote: req.socket.remoteAddress,
  });
  res
    .writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) })
    .end(text);
};

interface Answer {
  status: number;
  body: string;
  alpn: string | false | null;
  localPort: number | undefined;
}

/** One HTTPS request that trusts only the test certificate. */
function https(port: number, path: string, opts: { method?: string; body?: string; agent?: Agent } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    // ALPNProtocols reaches tls.connect; node's types leave it out of https.RequestOptions.
    const options: RequestOptions & { ALPNProtocols: string[] } = {
      host: '127.0.0.1',
      port,
      path,
      method: opts.method ?? 'GET',
      ca: cert.cert,
      servername: 'localhost',
      ALPNProtocols: ['h2', 'http/1.1'],
      agent: opts.agent ?? false,
      timeout: 5000,
    };
    const req = request(options, (res) => {
      const sock = res.socket as Socket & { alpnProtocol?: string | false | null };
      const alpn = sock.alpnProtocol ?? null;
      const localPort = sock.localPort;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, alpn, localPort }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A raw TCP client: everything it received until the server closed, and how long that took. */
function rawUntilClosed(port: number, send?: string | Buffer, maxMs = 5000) {
  return new Promise<{ text: string; ms: number }>((resolve, reject) => {
    const t0 = Date.now();
    const sock = tcpConnect(port, '127.0.0.1', () => {
      if (send !== undefined) sock.write(send);
    });
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`the server kept the connection open for ${maxMs} ms`));
    }, maxMs);
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, ms: Date.now() - t0 });
    });
  });
}

/** A TLS handshake limited to the given protocol versions: the version agreed, or the error. */
function handshake(port: number, min: SecureVersion, max: SecureVersion) {
  return new Promise<{ version?: string | null; error?: string }>((resolve) => {
    const sock = tlsConnect({
      host: '127.0.0.1',
      port,
      ca: cert.cert,
      servername: 'localhost',
      minVersion: min,
      maxVersion: max,
      // Lets this client offer TLS 1.0 and 1.1 at all (OpenSSL 3 refuses them at its default
      // security level): the refusal under test must be the server's.
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    sock.setTimeout(5000, () => sock.destroy(new Error('handshake timed out')));
    sock.on('secureConnect', () => {
      const version = sock.getProtocol();
      sock.destroy();
      resolve({ version });
    });
    sock.on('error', (err: Error & { code?: string }) => resolve({ error: err.code ?? err.message }));
  });
}

const until = async (ok: () => boolean, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('wire over TLS', () => {
  it('[tls:serves] HTTPS requests get their answers, over ALPN http/1.1, on a kept-alive connection', async () => {
    const { port, errors } = await serve(echo);
    const first = await https(port, '/mcp?x=1');
    expect(first.status).toBe(200);
    expect(first.alpn).toBe('http/1.1');
    expect(JSON.parse(first.body)).toEqual({ method: 'GET', url: '/mcp?x=1', body: '', remote: '127.0.0.1' });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', pad: 'x'.repeat(100_000) });
    const post = await https(port, '/mcp', { method: 'POST', body });
    expect(post.status).toBe(200);
    expect((JSON.parse(post.body) as { body: string }).body).toBe(body);
    // Two requests on one kept-alive TLS connection.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const a = await https(port, '/a', { agent });
      const b = await https(port, '/b', { agent });
      expect([a.status, b.status]).toEqual([200, 200]);
      expect(b.localPort).toBe(a.localPort);
    } finally {
      agent.destroy();
    }
    expect(errors).toEqual([]);
  });

  it('[tls:plain-http-refused] plain HTTP to the TLS port is dropped without an answer, logged, and the server goes on', async () => {
    const { port, errors } = await serve(echo);
    const { text } = await rawUntilClosed(port, 'GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    expect(text).not.toContain('HTTP/1.1');
    await until(() => errors.length > 0);
    expect(errors[0]!.message).toMatch(
      /^TLS handshake with 127\.0\.0\.1 failed: .*\(ERR_SSL_HTTP_REQUEST\)$/,
    );
    expect(errors[0]!.message).not.toContain('\n');
    // A ClientHello of garbage: the same.
    await rawUntilClosed(port, Buffer.from('16030100050102030405', 'hex'));
    await until(() => errors.length > 1);
    expect((await https(port, '/still-up')).status).toBe(200);
  });

  it('[tls:handshake-timeout] a client that opens TCP and never sends a ClientHello is dropped after the handshake timeout', async () => {
    const { port, errors } = await serve(echo, { handshakeTimeoutMs: 300 });
    const silent = await rawUntilClosed(port, undefined, 5000);
    expect(silent.ms).toBeGreaterThanOrEqual(250);
    expect(silent.ms).toBeLessThan(3000);
    expect(silent.text).toBe('');
    await until(() => errors.length > 0);
    expect(errors[0]!.code).toBe('ERR_TLS_HANDSHAKE_TIMEOUT');
    // Half a ClientHello, then silence: the same.
    const half = await rawUntilClosed(port, Buffer.from('160301020001', 'hex'), 5000);
    expect(half.ms).toBeLessThan(3000);
    // A client that connects and hangs up at once (a load balancer's TCP probe) is not an error.
    const before = errors.length;
    await new Promise<void>((resolve) => {
      const probe = tcpConnect(port, '127.0.0.1', () => probe.end());
      probe.on('close', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 400));
    expect(errors.length).toBe(before);
    expect((await https(port, '/after')).status).toBe(200);
  });

  it('[tls:old-versions-refused] TLS 1.0 and 1.1 are refused; 1.2 and 1.3 are served', async () => {
    const { port, errors } = await serve(echo);
    expect(await handshake(port, 'TLSv1', 'TLSv1')).toEqual({
      error: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    });
    expect(await handshake(port, 'TLSv1.1', 'TLSv1.1')).toEqual({
      error: 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
    });
    expect(await handshake(port, 'TLSv1.2', 'TLSv1.2')).toEqual({ version: 'TLSv1.2' });
    expect(await handshake(port, 'TLSv1.3', 'TLSv1.3')).toEqual({ version: 'TLSv1.3' });
    await until(() => errors.length >= 2);
    expect(errors.map((e) => e.code)).toEqual([
      'ERR_SSL_UNSUPPORTED_PROTOCOL',
      'ERR_SSL_UNSUPPORTED_PROTOCOL',
    ]);
  });

  it('[tls:close] idle connections and handshakes are dropped at once by closeIdleConnections and close(), busy ones only by closeAllConnections', async () => {
    const held: WireResponse[] = [];
    const { port, server } = await serve(
      (req, res) => {
        if (req.url !== '/hold') return echo(req, res);
        held.push(res);
      },
      { handshakeTimeoutMs: 30_000 },
    );
    const settled = (p: Promise<Answer>) =>
      p.then(
        (a) => `${a.status} ${a.body}`,
        (err: Error) => err.message,
      );
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      // closeIdleConnections: the handshake goes, the request in progress stays and is answered.
      const busy = settled(https(port, '/hold'));
      const silent = rawUntilClosed(port, undefined, 5000);
      await until(() => held.length === 1);
      await new Promise((r) => setTimeout(r, 50));
      server.closeIdleConnections();
      expect((await silent).ms).toBeLessThan(2000);
      held[0]!.writeHead(200, { 'content-length': '4' }).end('late');
      expect(await busy).toBe('200 late');
      // closeAllConnections: a request in progress and a handshake.
      const busy2 = settled(https(port, '/hold'));
      const silent2 = rawUntilClosed(port, undefined, 5000);
      await until(() => held.length === 2);
      server.closeAllConnections();
      expect(await busy2).toBe('socket hang up');
      expect((await silent2).ms).toBeLessThan(2000);
      // close(): an idle kept-alive connection and a handshake, at once.
      expect((await https(port, '/a', { agent })).status).toBe(200);
      const silent3 = rawUntilClosed(port, undefined, 5000);
      await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(Date.now() - t0).toBeLessThan(2000);
      expect((await silent3).ms).toBeLessThan(2000);
    } finally {
      agent.destroy();
    }
  });

  it('[tls:options] a bad handshake timeout is refused when the server is built', async () => {
    await expect(createWireServer(echo, { tls: cert, handshakeTimeoutMs: 0 })).rejects.toThrow(
      /handshakeTimeoutMs must be a positive integer/,
    );
  });
});

describe('loadTls', () => {
  async function loadError(certPath: string, keyPath: string): Promise<string> {
    try {
      await loadTls(certPath, keyPath);
    } catch (err) {
      if (isWardenError(err, 'CONFIG_INVALID')) return err.message;
      throw err;
    }
    throw new Error('expected a CONFIG_INVALID error');
  }

  it('[tls:key-file-mode] a key file group or others may read is refused with the chmod to run', async () => {
    const key = join(cert.dir, 'mode-key.pem');
    copyFileSync(cert.keyPath, key);
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      chmodSync(key, mode);
      const message = await loadError(cert.certPath, key);
      expect(message).toBe(
        `gateway.http.tls.key: ${key} is open to group or others (mode 0${mode.toString(8)}); run chmod 600 ${key}`,
      );
    }
    for (const mode of [0o600, 0o400]) {
      chmodSync(key, mode);
      const loaded = await loadTls(cert.certPath, key);
      expect(loaded.key.equals(cert.key)).toBe(true);
      expect(loaded.cert.equals(cert.cert)).toBe(true);
    }
    // What loadTls answers is what the server takes.
    const { port } = await serve(echo, { tls: await loadTls(cert.certPath, key) });
    expect((await https(port, '/')).status).toBe(200);
  });

  it('[tls:load-errors] an unreadable, non-PEM or mismatched file is one line naming it, without key material', async () => {
    const missing = join(cert.dir, 'missing.pem');
    expect(await loadError(missing, cert.keyPath)).toMatch(
      new RegExp(`^gateway\\.http\\.tls\\.cert: ${missing} cannot be read \\(ENOENT`),
    );
    expect(await loadError(cert.certPath, missing)).toMatch(
      /^gateway\.http\.tls\.key: .*missing\.pem cannot be read/,
    );
    const notPem = join(cert.dir, 'not-pem.txt');
    writeFileSync(notPem, 'hello\n', { mode: 0o600 });
    expect(await loadError(notPem, cert.keyPath)).toBe(
      `gateway.http.tls.cert: ${notPem} is not a PEM certificate`,
    );
    expect(await loadError(cert.certPath, notPem)).toBe(
      `gateway.http.tls.key: ${notPem} is not a PEM private key`,
    );
    // The certificate given as the key, and the key of another certificate.
    const certAsKey = join(cert.dir, 'cert-as-key.pem');
    copyFileSync(cert.certPath, certAsKey);
    chmodSync(certAsKey, 0o600);
    expect(await loadError(cert.certPath, certAsKey)).toBe(
      `gateway.http.tls.key: ${certAsKey} is not a PEM private key`,
    );
    const other = selfSignedCert();
    const message = await loadError(cert.certPath, other.keyPath);
    expect(message).toMatch(
      new RegExp(
        `^gateway\\.http\\.tls: ${cert.certPath} and ${other.keyPath} are not a usable certificate and key`,
      ),
    );
    expect(message).not.toContain('\n');
    const keyBody = other.key.toString('utf8').split('\n')[1]!;
    expect(message).not.toContain(keyBody.slice(0, 16));
  });
});
