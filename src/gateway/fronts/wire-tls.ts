import type { Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { WardenError, describe, isWardenError } from '../../errors.js';
import type { WireOptions } from './wire.js';

/**
 * The HTTPS listener: node:tls's server, each connection handed to `serve` once its handshake is
 * done. Until then it is no Conn; `handshaking` holds its TCP socket, by its address pair (node
 * tells no other way to find it from the TLS socket), so close() drops it without waiting for the
 * handshake timeout.
 */
export async function tlsServer(
  { cert, key }: NonNullable<WireOptions['tls']>,
  opts: Pick<Required<WireOptions>, 'handshakeTimeoutMs'> & Pick<WireOptions, 'onError'>,
  handshaking: Map<string, Socket>,
  serve: (sock: Socket) => void,
): Promise<Server> {
  const { createServer } = await import('node:tls');
  const server = createServer(
    {
      cert,
      key,
      minVersion: 'TLSv1.2',
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: opts.handshakeTimeoutMs,
      // Unlike the plain server's: a client that sends its FIN before its ClientHello (a load
      // balancer's TCP probe) would otherwise hold the socket until the handshake timeout. Once
      // a Conn has the socket, its 'end' handler destroys it outside LINGER either way.
      allowHalfOpen: false,
      noDelay: true,
    },
    (sock) => {
      handshaking.delete(pairOf(sock));
      serve(sock);
    },
  );
  server.on('connection', (sock: Socket) => {
    const pair = pairOf(sock);
    handshaking.set(pair, sock);
    sock.once('close', () => {
      if (handshaking.get(pair) === sock) handshaking.delete(pair);
    });
  });
  // Node leaves the socket open after some of these (a handshake timeout): the listener ends it.
  server.on('tlsClientError', (err: Error & { code?: string; reason?: string }, sock: TLSSocket) => {
    sock.destroy();
    if (err.code === 'ECONNRESET') return;
    // OpenSSL's message spans lines and names its source files; its reason is the useful part.
    const why = `${err.reason ?? err.message}${err.code ? ` (${err.code})` : ''}`;
    const from = sock.remoteAddress === undefined ? '' : ` with ${sock.remoteAddress}`;
    opts.onError?.(
      Object.assign(new Error(`TLS handshake${from} failed: ${why}`, { cause: err }), { code: err.code }),
    );
  });
  return server;
}

const pairOf = (sock: Socket) =>
  `${sock.remoteAddress}:${sock.remotePort}>${sock.localAddress}:${sock.localPort}`;

/**
 * Reads the certificate and key files of `gateway.http.tls` for `WireOptions.tls`. Every failure
 * is one CONFIG_INVALID line naming the file: unreadable, not PEM, a key that group or others
 * may read (refused, as ssh refuses one), or a pair OpenSSL will not use together.
 */
export async function loadTls(certPath: string, keyPath: string): Promise<{ cert: Buffer; key: Buffer }> {
  const { open } = await import('node:fs/promises');
  const read = async (path: string, what: 'cert' | 'key') => {
    const fail = (why: string) =>
      new WardenError('CONFIG_INVALID', `gateway.http.tls.${what}: ${path} ${why}`);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      throw fail(`cannot be read (${describe(err)})`);
    }
    try {
      const mode = (await fh.stat()).mode & 0o777;
      if (what === 'key' && process.platform !== 'win32' && (mode & 0o077) !== 0)
        throw fail(`is open to group or others (mode 0${mode.toString(8)}); run chmod 600 ${path}`);
      const pem = await fh.readFile();
      const label = what === 'cert' ? /-----BEGIN CERTIFICATE-----/ : /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
      if (!label.test(pem.toString('latin1')))
        throw fail(`is not a PEM ${what === 'cert' ? 'certificate' : 'private key'}`);
      return pem;
    } catch (err) {
      throw isWardenError(err) ? err : fail(`cannot be read (${describe(err)})`);
    } finally {
      await fh.close();
    }
  };
  const cert = await read(certPath, 'cert');
  const key = await read(keyPath, 'key');
  const { createSecureContext } = await import('node:tls');
  try {
    createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  } catch (err) {
    throw new WardenError(
      'CONFIG_INVALID',
      `gateway.http.tls: ${certPath} and ${keyPath} are not a usable certificate and key (${describe(err)})`,
    );
  }
  return { cert, key };
}
