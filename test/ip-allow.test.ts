import { afterEach, describe, expect, it } from 'vitest';
import { isWardenError } from '../src/errors.js';
import { createWireServer, type WireServer } from '../src/gateway/fronts/wire.js';
import { FORBIDDEN } from '../src/gateway/jsonrpc.js';
import {
  addressSet,
  clientAddress,
  ipAllow,
  parseIpAllow,
  type IpAllowOptions,
} from '../src/gateway/middleware/ip-allow/index.js';
import { admitted, type Admission, type Refusal } from '../src/gateway/pipeline.js';
import { raw } from './helpers/raw-http.js';

/**
 * The IP allowlist and the client address behind trusted proxies: the stage over Admission
 * objects (no socket), then through the wire server on real sockets (IPv4, a dual-stack socket's
 * IPv4-mapped peer, IPv6 loopback).
 */

function admission(peerIp: string, headers: Admission['headers'] = {}): Admission {
  return { method: 'POST', path: '/mcp', headers, peerIp, clientIp: peerIp };
}

/** Runs the stage once: what it answered, whether it called next, and the address it set. */
async function run(opts: IpAllowOptions, peerIp: string, headers: Admission['headers'] = {}) {
  const stage = ipAllow(opts);
  const ctx = admission(peerIp, headers);
  let nextCalled = false;
  const refusal = await stage(ctx, () => {
    nextCalled = true;
    return admitted();
  });
  return { refusal, admitted: refusal === undefined && nextCalled, clientIp: ctx.clientIp };
}

const admits = async (opts: IpAllowOptions, peerIp: string, headers: Admission['headers'] = {}) =>
  (await run(opts, peerIp, headers)).admitted;

async function configError(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (err) {
    if (isWardenError(err, 'CONFIG_INVALID')) return err.message;
    throw err;
  }
  throw new Error('expected a CONFIG_INVALID error');
}

describe('ip-allow: the allowlist', () => {
  it('[ipallow:cidr-v4] an IPv4 CIDR admits the addresses inside it and refuses those outside', async () => {
    const opts = { allowIps: ['10.0.0.0/8'] };
    for (const ip of ['10.0.0.0', '10.1.2.3', '10.255.255.255'])
      expect(await admits(opts, ip), ip).toBe(true);
    for (const ip of ['9.255.255.255', '11.0.0.0', '192.168.1.7', '::1', '2001:db8::1'])
      expect(await admits(opts, ip), ip).toBe(false);
    expect(await admits({ allowIps: ['192.168.1.0/24', '172.16.0.0/12'] }, '172.31.255.254')).toBe(true);
    expect(await admits({ allowIps: ['192.168.1.0/24', '172.16.0.0/12'] }, '172.32.0.1')).toBe(false);
  });

  it('[ipallow:cidr-v6] an IPv6 CIDR admits the addresses inside it and refuses those outside', async () => {
    const opts = { allowIps: ['2001:db8::/32'] };
    for (const ip of ['2001:db8::1', '2001:0db8:ffff::5', '2001:DB8:1:2:3:4:5:6'])
      expect(await admits(opts, ip), ip).toBe(true);
    for (const ip of ['2001:db9::1', '2001:db7:ffff::1', '::1', '10.1.2.3'])
      expect(await admits(opts, ip), ip).toBe(false);
  });

  it('[ipallow:single-address] a bare address admits itself only', async () => {
    const opts = { allowIps: ['192.168.1.7', '::1'] };
    expect(await admits(opts, '192.168.1.7')).toBe(true);
    expect(await admits(opts, '192.168.1.8')).toBe(false);
    expect(await admits(opts, '::1')).toBe(true);
    expect(await admits(opts, '::2')).toBe(false);
    expect(await admits(opts, '127.0.0.1')).toBe(false);
  });

  it('[ipallow:mapped-v4] an IPv4-mapped IPv6 peer matches IPv4 entries and is recorded as IPv4', async () => {
    const opts = { allowIps: ['10.0.0.0/8'] };
    expect(await run(opts, '::ffff:10.1.2.3')).toMatchObject({ admitted: true, clientIp: '10.1.2.3' });
    expect(await run(opts, '::FFFF:10.1.2.3')).toMatchObject({ admitted: true, clientIp: '10.1.2.3' });
    expect(await run(opts, '::ffff:11.1.2.3')).toMatchObject({ admitted: false, clientIp: '11.1.2.3' });
    // The mapped form in the config is the IPv4 network it carries.
    expect(await parseIpAllow({ allowIps: ['::ffff:192.168.0.0/112', '::ffff:10.9.9.9'] })).toEqual({
      allowIps: ['192.168.0.0/16', '10.9.9.9/32'],
    });
    expect(await admits({ allowIps: ['::ffff:192.168.0.0/112'] }, '192.168.3.4')).toBe(true);
    expect(await admits({ allowIps: ['::ffff:192.168.0.0/112'] }, '::ffff:192.168.3.4')).toBe(true);
    expect(await admits({ allowIps: ['::ffff:192.168.0.0/112'] }, '192.169.0.1')).toBe(false);
  });

  it('[ipallow:zone-id] a zone id on the peer or in the config is ignored', async () => {
    expect(await run({ allowIps: ['fe80::/10'] }, 'fe80::1%eth0')).toMatchObject({
      admitted: true,
      clientIp: 'fe80::1',
    });
    expect(await admits({ allowIps: ['fe80::1%lo'] }, 'fe80::1')).toBe(true);
    expect(await admits({ allowIps: ['fe80::1%lo'] }, 'fe80::2%lo')).toBe(false);
  });

  it('[ipallow:denied:403] a refused address gets a 403 with a JSON-RPC FORBIDDEN error and a policy_denied event', async () => {
    const { refusal, admitted: wasAdmitted, clientIp } = await run({ allowIps: ['10.0.0.0/8'] }, '192.0.2.1');
    expect(wasAdmitted).toBe(false);
    expect(clientIp).toBe('192.0.2.1');
    expect(refusal).toEqual<Refusal>({
      event: 'policy_denied',
      status: 403,
      reason: 'address 192.0.2.1 is not in gateway.allowIps',
      body: { jsonrpc: '2.0', id: null, error: { code: FORBIDDEN, message: expect.any(String) as string } },
    });
  });

  it('[ipallow:everyone] without allowIps every address is admitted and its address still resolved', async () => {
    for (const opts of [{}, { allowIps: [] }, await parseIpAllow({ allowIps: null })]) {
      expect(await run(opts, '203.0.113.5')).toMatchObject({ admitted: true, clientIp: '203.0.113.5' });
      expect(await run(opts, '::ffff:127.0.0.1')).toMatchObject({ admitted: true, clientIp: '127.0.0.1' });
    }
    expect(
      await run({ trustedProxies: ['127.0.0.1'] }, '127.0.0.1', { 'x-forwarded-for': '203.0.113.5' }),
    ).toMatchObject({ admitted: true, clientIp: '203.0.113.5' });
  });
});

describe('ip-allow: X-Forwarded-For', () => {
  const trusted = addressSet(['127.0.0.1', '172.16.0.0/12', '2001:db8:ffff::/48'], 'gateway.trustedProxies');

  it('[ipallow:xff:untrusted-ignored] a client cannot choose its address with X-Forwarded-For', async () => {
    // From a peer that is not a trusted proxy.
    const opts = { allowIps: ['10.0.0.0/8'], trustedProxies: ['127.0.0.1'] };
    expect(await run(opts, '203.0.113.9', { 'x-forwarded-for': '10.1.2.3' })).toMatchObject({
      admitted: false,
      clientIp: '203.0.113.9',
    });
    // Without trustedProxies the header is never read, even from loopback.
    expect(
      await run({ allowIps: ['10.0.0.0/8'] }, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3' }),
    ).toMatchObject({ admitted: false, clientIp: '127.0.0.1' });
    expect(clientAddress('198.51.100.1', { 'x-forwarded-for': '127.0.0.1' }, trusted)).toBe('198.51.100.1');
    expect(clientAddress('198.51.100.1', { 'x-forwarded-for': '1.1.1.1' })).toBe('198.51.100.1');
  });

  it('[ipallow:xff:trusted-proxy] behind a trusted proxy the client is the rightmost entry; a spoofed left entry is ignored', async () => {
    const opts = { allowIps: ['10.0.0.0/8'], trustedProxies: ['127.0.0.1'] };
    expect(await run(opts, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3' })).toMatchObject({
      admitted: true,
      clientIp: '10.1.2.3',
    });
    // The client sent "X-Forwarded-For: 10.9.9.9"; the proxy appended the address it saw.
    expect(await run(opts, '127.0.0.1', { 'x-forwarded-for': '10.9.9.9, 198.51.100.7' })).toMatchObject({
      admitted: false,
      clientIp: '198.51.100.7',
    });
    // A trusted proxy without the header: the proxy is the client.
    expect(await run(opts, '127.0.0.1')).toMatchObject({ admitted: false, clientIp: '127.0.0.1' });
    // A dual-stack socket's view of the proxy is trusted the same.
    expect(clientAddress('::ffff:127.0.0.1', { 'x-forwarded-for': '10.1.2.3' }, trusted)).toBe('10.1.2.3');
  });

  it('[ipallow:xff:multi-proxy] the walk skips every trusted proxy from the right, across repeated headers', () => {
    const xff = (v: string | string[], peer = '127.0.0.1') =>
      clientAddress(peer, { 'x-forwarded-for': v }, trusted);
    expect(xff('6.6.6.6, 10.1.2.3, 172.16.0.5')).toBe('10.1.2.3');
    expect(xff('6.6.6.6, 10.1.2.3, 172.16.0.5, 172.31.0.1')).toBe('10.1.2.3');
    expect(xff('2001:db8::77, 2001:db8:ffff::1', '172.20.0.1')).toBe('2001:db8::77');
    // Two header lines, as node:http gives them (an array) and as the wire server joins them.
    expect(xff(['6.6.6.6, 10.1.2.3', '172.16.0.5'])).toBe('10.1.2.3');
    expect(xff(['6.6.6.6', '10.1.2.3', '172.16.0.5, 172.16.0.6'])).toBe('10.1.2.3');
    // Every entry a trusted proxy: the leftmost.
    expect(xff('172.16.0.9, 172.16.0.5')).toBe('172.16.0.9');
    // Ports and brackets some proxies add; empty elements.
    expect(xff('6.6.6.6, 10.1.2.3:51234, 172.16.0.5')).toBe('10.1.2.3');
    expect(xff('[2001:db8::9]:443, [2001:db8:ffff::1]')).toBe('2001:db8::9');
    expect(xff('10.1.2.3,,  , 172.16.0.5,')).toBe('10.1.2.3');
    expect(xff('::ffff:10.1.2.3')).toBe('10.1.2.3');
  });

  it('[ipallow:xff:malformed] a malformed entry stops the walk at the last good hop', async () => {
    const xff = (v: string, peer = '127.0.0.1') => clientAddress(peer, { 'x-forwarded-for': v }, trusted);
    for (const bad of [
      'unknown',
      'evil.example',
      '10.1.2.300',
      '10.1.2.3:x',
      '[::1',
      '[::1]x',
      '"10.1.2.3"',
      '1.2.3',
    ])
      expect(xff(`10.1.2.3, ${bad}`), bad).toBe('127.0.0.1');
    expect(xff('10.1.2.3, unknown, 172.16.0.5')).toBe('172.16.0.5');
    // Garbage left of the client's entry is never reached.
    expect(xff('garbage, 10.1.2.3')).toBe('10.1.2.3');
    expect(xff('')).toBe('127.0.0.1');
    // Fails closed: the proxy's own address is not allowed.
    const opts = { allowIps: ['10.0.0.0/8'], trustedProxies: ['127.0.0.1'] };
    expect(await run(opts, '127.0.0.1', { 'x-forwarded-for': '10.1.2.3, unknown' })).toMatchObject({
      admitted: false,
      clientIp: '127.0.0.1',
    });
  });
});

describe('ip-allow: configuration', () => {
  it('[ipallow:config:canonical] parseIpAllow answers both lists in canonical form', async () => {
    expect(
      await parseIpAllow({
        allowIps: ['10.0.0.0/8', '::1', '2001:db8::/32', '192.168.1.7', ' 172.16.0.0 / 12 '],
        trustedProxies: ['127.0.0.1', '::ffff:10.0.0.0/104'],
      }),
    ).toEqual({
      allowIps: ['10.0.0.0/8', '::1/128', '2001:db8::/32', '192.168.1.7/32', '172.16.0.0/12'],
      trustedProxies: ['127.0.0.1/32', '10.0.0.0/8'],
    });
    expect(await parseIpAllow({})).toEqual({});
    expect(await parseIpAllow({ allowIps: null, trustedProxies: [] })).toEqual({ trustedProxies: [] });
  });

  it('[ipallow:config:invalid] a bad entry is a CONFIG_INVALID error naming it, when parsed and when the stage is built', async () => {
    expect(await configError(() => parseIpAllow({ allowIps: ['10.0.0.0/8', '::1', '10.0.0.300/8'] }))).toBe(
      'gateway.allowIps[2]: "10.0.0.300/8" is not an IP address or CIDR',
    );
    expect(await configError(() => parseIpAllow({ trustedProxies: ['10.0.0.0/33'] }))).toBe(
      'gateway.trustedProxies[0]: "10.0.0.0/33" is not an IP address or CIDR (an IPv4 prefix is 0-32)',
    );
    expect(await configError(() => parseIpAllow({ allowIps: ['::/129'] }))).toMatch(
      /^gateway\.allowIps\[0\]: .*0-128/,
    );
    for (const bad of [
      '10.0.0.0/',
      '/8',
      '10.0.0.0/8/8',
      '10.0.0.0/-1',
      '10.0.0.0/0x8',
      'localhost',
      '',
      '010.0.0.1',
    ])
      expect(await configError(() => parseIpAllow({ allowIps: [bad] })), bad).toMatch(
        /^gateway\.allowIps\[0\]: ".*" is not/,
      );
    expect(await configError(() => parseIpAllow({ allowIps: [10] }))).toBe(
      'gateway.allowIps[0]: 10 is not a string',
    );
    expect(await configError(() => parseIpAllow({ allowIps: '10.0.0.0/8' }))).toMatch(
      /^gateway\.allowIps: expected a list/,
    );
    expect(await configError(() => ipAllow({ allowIps: ['10.0.0.0/8', 'nope'] }))).toBe(
      'gateway.allowIps[1]: "nope" is not an IP address or CIDR',
    );
    expect(await configError(() => ipAllow({ trustedProxies: ['1.2.3.4/40'] }))).toMatch(
      /^gateway\.trustedProxies\[0\]/,
    );
  });
});

describe('ip-allow: on real sockets', () => {
  const running: WireServer[] = [];
  afterEach(async () => {
    for (const s of running.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  /** A wire server whose handler runs the stage as the HTTP front would, answering the refusal or the address. */
  async function serve(opts: IpAllowOptions, host: string): Promise<number> {
    const stage = ipAllow(opts);
    const server = await createWireServer(async (req, res) => {
      const peerIp = req.socket.remoteAddress ?? '';
      const ctx: Admission = {
        method: req.method,
        path: req.url,
        headers: req.headers,
        peerIp,
        clientIp: peerIp,
      };
      const refusal = await stage(ctx, admitted);
      const text = JSON.stringify(refusal ? refusal.body : { clientIp: ctx.clientIp, peerIp });
      res
        .writeHead(refusal?.status ?? 200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
        })
        .end(text);
    });
    await server.listen(0, host);
    running.push(server);
    return server.address()!.port;
  }

  async function get(port: number, headers = '') {
    const c = raw(port);
    c.send(`GET /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`);
    const [r] = await c.responses(1);
    c.sock.destroy();
    return { status: r!.status, body: JSON.parse(r!.body) as Record<string, unknown> };
  }

  it('[ipallow:real-socket] a real IPv4 peer, a dual-stack socket’s mapped peer and repeated X-Forwarded-For lines', async () => {
    const v4 = await serve({ allowIps: ['127.0.0.0/8'] }, '127.0.0.1');
    expect(await get(v4)).toEqual({ status: 200, body: { clientIp: '127.0.0.1', peerIp: '127.0.0.1' } });
    // An IPv6 socket bound to the mapped loopback sees the IPv4 client as ::ffff:127.0.0.1.
    const mapped = await serve({ allowIps: ['127.0.0.1'] }, '::ffff:127.0.0.1');
    expect(await get(mapped)).toEqual({
      status: 200,
      body: { clientIp: '127.0.0.1', peerIp: '::ffff:127.0.0.1' },
    });
    const refused = await serve({ allowIps: ['10.0.0.0/8'] }, '127.0.0.1');
    const denied = await get(refused, 'X-Forwarded-For: 10.1.2.3\r\n');
    expect(denied.status).toBe(403);
    expect(denied.body).toMatchObject({ error: { code: FORBIDDEN } });
    const proxied = await serve(
      { allowIps: ['10.0.0.0/8'], trustedProxies: ['127.0.0.1', '172.16.0.0/12'] },
      '127.0.0.1',
    );
    expect(
      await get(proxied, 'X-Forwarded-For: 6.6.6.6, 10.1.2.3\r\nx-forwarded-for: 172.16.0.5\r\n'),
    ).toEqual({
      status: 200,
      body: { clientIp: '10.1.2.3', peerIp: '127.0.0.1' },
    });
    expect((await get(proxied, 'X-Forwarded-For: 10.1.2.3\r\nX-Forwarded-For: 6.6.6.6\r\n')).status).toBe(
      403,
    );
  });

  it('[ipallow:real-socket-v6] an IPv6 loopback peer', async () => {
    const port = await serve({ allowIps: ['::1/128'] }, '::1');
    const { connect } = await import('node:net');
    const sock = connect(port, '::1');
    const text = await new Promise<string>((resolve, reject) => {
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
      sock.on('end', () => resolve(got));
      sock.on('error', reject);
      sock.write('GET /mcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toContain('"clientIp":"::1"');
  });
});
