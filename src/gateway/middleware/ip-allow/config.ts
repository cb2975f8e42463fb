import type { z as Z } from 'zod';
import { WardenError } from '../../../errors.js';
import { cidrAt, formatCidr } from './address.js';

/** `gateway.allowIps` and `gateway.trustedProxies`: addresses or CIDRs, IPv4 or IPv6. */
export interface IpAllowOptions {
  /** Empty or absent: everyone. */
  allowIps?: readonly string[];
  /** Peers whose X-Forwarded-For is believed. Empty or absent: none (the header is ignored). */
  trustedProxies?: readonly string[];
}

let list: Z.ZodOptional<Z.ZodArray<Z.ZodUnknown>> | undefined;

/**
 * Checks both lists and answers them in a canonical form (`192.168.1.7` is `192.168.1.7/32`,
 * `::ffff:10.0.0.0/104` is `10.0.0.0/8`). Throws CONFIG_INVALID naming the entry:
 * `gateway.allowIps[2]: "10.0.0.300/8" is not an IP address or CIDR`. Async because zod is
 * imported when it is needed, as the other config sections do.
 */
export async function parseIpAllow(raw: {
  allowIps?: unknown;
  trustedProxies?: unknown;
}): Promise<IpAllowOptions> {
  const { z } = await import('zod');
  list ??= z.array(z.unknown()).optional();
  const check = (name: 'allowIps' | 'trustedProxies'): string[] | undefined => {
    // `allowIps:` with nothing after it is YAML's null: absent.
    const parsed = list!.safeParse(raw[name] ?? undefined);
    if (!parsed.success)
      throw new WardenError(
        'CONFIG_INVALID',
        `gateway.${name}: expected a list of addresses or CIDRs such as "10.0.0.0/8" or "::1"`,
      );
    return parsed.data?.map((_, i, entries) => formatCidr(cidrAt(entries, i, `gateway.${name}`)));
  };
  const allowIps = check('allowIps');
  const trustedProxies = check('trustedProxies');
  return { ...(allowIps && { allowIps }), ...(trustedProxies && { trustedProxies }) };
}
