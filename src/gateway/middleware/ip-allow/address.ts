import type * as NetModule from 'node:net';
import { WardenError } from '../../../errors.js';

/**
 * Addresses and address sets for the IP allowlist: node's `net.BlockList` (a C++ prefix match,
 * about 0.3 µs a check) over addresses in one plain form.
 *
 * Plain form: no zone id (`fe80::1%eth0` is `fe80::1`: a zone names our interface, not the
 * peer), and an IPv4-mapped IPv6 address as the IPv4 address it carries (a dual-stack socket
 * reports an IPv4 peer as `::ffff:10.1.2.3`, which `10.0.0.0/8` must match, and the audit shows
 * `10.1.2.3`).
 */

type Net = typeof NetModule;
let net: Net | undefined;
/** node:net when first needed: a static import would load it for every CLI command. */
const nodeNet = (): Net => (net ??= process.getBuiltinModule('node:net'));

export function plainIp(ip: string): string {
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  if (ip.length > 7 && ip.charCodeAt(0) === 58 && ip.indexOf('.') > 0) {
    const prefix = ip.slice(0, 7);
    if (prefix === '::ffff:' || prefix.toLowerCase() === '::ffff:') return ip.slice(7);
  }
  return ip;
}

const family = (ip: string) => (ip.includes(':') ? 'ipv6' : 'ipv4');

export interface Cidr {
  /** Plain form. */
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

const PREFIX = /^\d{1,3}$/;
const NOT_CIDR = 'is not an IP address or CIDR';

/**
 * `10.0.0.0/8`, `2001:db8::/32`, or one address (a /32 or /128); the mapped form
 * `::ffff:10.0.0.0/104` is `10.0.0.0/8`. Host bits under the prefix are ignored, as nginx and
 * BlockList do. A string saying what is wrong when it is not one.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const given = (slash < 0 ? text : text.slice(0, slash)).trim();
  const zone = given.indexOf('%');
  const bare = zone < 0 ? given : given.slice(0, zone);
  if (nodeNet().isIP(bare) === 0) return NOT_CIDR;
  const address = plainIp(bare);
  const v4 = !address.includes(':');
  const mapped = v4 && bare.includes(':');
  if (slash < 0) return { address, prefix: v4 ? 32 : 128, family: v4 ? 'ipv4' : 'ipv6' };
  const bits = text.slice(slash + 1).trim();
  if (!PREFIX.test(bits)) return NOT_CIDR;
  const prefix = Number(bits);
  if (prefix > (v4 && !mapped ? 32 : 128))
    return `${NOT_CIDR} (an ${v4 && !mapped ? 'IPv4 prefix is 0-32' : 'IPv6 prefix is 0-128'})`;
  if (!mapped) return { address, prefix, family: v4 ? 'ipv4' : 'ipv6' };
  // Shorter than the mapped range itself (::ffff:0:0/95): an IPv6 network, left as such.
  return prefix >= 96
    ? { address, prefix: prefix - 96, family: 'ipv4' }
    : { address: bare, prefix, family: 'ipv6' };
}

/** `entries[i]` as a Cidr, or CONFIG_INVALID naming it as `path[i]`. */
export function cidrAt(entries: readonly unknown[], i: number, path: string): Cidr {
  const entry = entries[i];
  const cidr = typeof entry === 'string' ? parseCidr(entry) : 'is not a string';
  if (typeof cidr === 'string')
    throw new WardenError(
      'CONFIG_INVALID',
      `${path}[${i}]: ${JSON.stringify(entry) ?? String(entry)} ${cidr}`,
    );
  return cidr;
}

export const formatCidr = (c: Cidr): string => `${c.address}/${c.prefix}`;

/** A set of networks; `has` takes an address in plain form. */
export interface AddressSet {
  readonly size: number;
  has(ip: string): boolean;
}

/**
 * Builds the set from config entries; `path` names the list for errors
 * (`gateway.allowIps[2]: "10.0.0.300/8" is not an IP address or CIDR`).
 */
export function addressSet(entries: readonly unknown[], path: string): AddressSet {
  const list = new (nodeNet().BlockList)();
  entries.forEach((entry, i) => {
    const cidr = cidrAt(entries, i, path);
    list.addSubnet(cidr.address, cidr.prefix, cidr.family);
  });
  const size = entries.length;
  return { size, has: size === 0 ? () => false : (ip) => list.check(ip, family(ip)) };
}

const PORT = /^:\d{1,5}$/;

/**
 * One X-Forwarded-For element in plain form: an address, `1.2.3.4:port`, `[v6]` or `[v6]:port`
 * (some proxies add the port); undefined for anything else (`unknown`, a name, garbage).
 */
export function forwardedIp(entry: string): string | undefined {
  let ip = entry;
  if (ip.charCodeAt(0) === 91 /* [ */) {
    const close = ip.indexOf(']');
    if (close < 0 || (close + 1 < ip.length && !PORT.test(ip.slice(close + 1)))) return undefined;
    ip = ip.slice(1, close);
  } else {
    const colon = ip.indexOf(':');
    if (colon >= 0 && colon === ip.lastIndexOf(':')) {
      if (!PORT.test(ip.slice(colon))) return undefined;
      ip = ip.slice(0, colon);
    }
  }
  return nodeNet().isIP(ip) === 0 ? undefined : plainIp(ip);
}
