import { dirname, resolve } from 'node:path';
import { WardenError } from '../errors.js';

/**
 * The `gateway` section of the config, with its defaults. Command-line flags override it.
 */
export interface GatewaySettings {
  host: string;
  port: number;
  /** An HTTP session with no request for this long is closed, and its servers stopped. */
  sessionIdleMs: number;
  /** A server with no request for this long is stopped (it starts again on next use). */
  upstreamIdleMs: number;
  /** Items per page of a merged list. */
  pageSize: number;
  /** On shutdown, how long calls in flight get to finish. */
  drainMs: number;
  maxBodyBytes: number;
  /** Extra Host and Origin values accepted besides the bound address and localhost. */
  allowedHosts: string[];
  allowedOrigins: string[];
  /** PEM files for HTTPS (relative paths: from the config file's directory). */
  tls?: { cert: string; key: string };
}

export const DEFAULTS: GatewaySettings = {
  host: '127.0.0.1',
  port: 8811,
  sessionIdleMs: 30 * 60_000,
  upstreamIdleMs: 10 * 60_000,
  pageSize: 500,
  drainMs: 10_000,
  maxBodyBytes: 4 * 1024 * 1024,
  allowedHosts: [],
  allowedOrigins: [],
};

export async function parseSettings(path: string, doc: Record<string, unknown>): Promise<GatewaySettings> {
  const raw = doc.gateway;
  if (raw === undefined || raw === null) return { ...DEFAULTS };
  const { z } = await import('zod');
  const seconds = z
    .number()
    .positive()
    .max(7 * 24 * 3600);
  const schema = z
    .object({
      http: z
        .object({
          host: z.string().min(1).optional(),
          port: z.number().int().min(0).max(65535).optional(),
          tls: z
            .object({ cert: z.string().min(1), key: z.string().min(1) })
            .strict()
            .optional(),
        })
        .strict()
        .optional(),
      sessionIdleSeconds: seconds.optional(),
      upstreamIdleSeconds: seconds.optional(),
      pageSize: z.number().int().min(1).max(100_000).optional(),
      drainSeconds: z.number().min(0).max(600).optional(),
      maxBodyBytes: z
        .number()
        .int()
        .min(1024)
        .max(1024 ** 3)
        .optional(),
      allowedHosts: z.array(z.string().min(1)).optional(),
      allowedOrigins: z.array(z.string().min(1)).optional(),
    })
    // The security sections (auth, rateLimit, audit, allowIps, safety) are read by their stages.
    .passthrough();
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = ['gateway', ...issue.path.map(String)].join('.');
    throw new WardenError('CONFIG_INVALID', `${path}: ${where}: ${issue.message}`);
  }
  const g = parsed.data;
  return {
    host: g.http?.host ?? DEFAULTS.host,
    port: g.http?.port ?? DEFAULTS.port,
    sessionIdleMs: g.sessionIdleSeconds !== undefined ? g.sessionIdleSeconds * 1000 : DEFAULTS.sessionIdleMs,
    upstreamIdleMs:
      g.upstreamIdleSeconds !== undefined ? g.upstreamIdleSeconds * 1000 : DEFAULTS.upstreamIdleMs,
    pageSize: g.pageSize ?? DEFAULTS.pageSize,
    drainMs: g.drainSeconds !== undefined ? g.drainSeconds * 1000 : DEFAULTS.drainMs,
    maxBodyBytes: g.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
    allowedHosts: g.allowedHosts ?? [],
    allowedOrigins: g.allowedOrigins ?? [],
    ...(g.http?.tls && {
      tls: { cert: resolve(dirname(path), g.http.tls.cert), key: resolve(dirname(path), g.http.tls.key) },
    }),
  };
}
