import type { z as Z } from 'zod';
import { WardenError } from '../errors.js';
import { SECRET_NAME } from '../names.js';
import { catalogEntry, recognise, type CatalogEntry } from './catalog.js';

/**
 * The `servers` section (and a Claude Desktop style `mcpServers`), validated with zod. Loaded
 * only by the commands that launch or check servers: `secret get` never pays for zod.
 */
/**
 * The schemas, built once zod is loaded (a static import would put zod on every command's
 * startup path, since the CLI is one bundle).
 */
function build(z: typeof Z) {
  const secretEntry = z
    .object({
      name: z.string().regex(SECRET_NAME, 'a secret name: a letter or _, then letters, digits, _ . -'),
      /** The name in the store when it differs from `name`. */
      secret: z.string().regex(SECRET_NAME, 'a secret name').optional(),
      env: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
        .optional(),
      file: z.string().startsWith('/', 'an absolute path').optional(),
      required: z.boolean().default(true),
      pattern: z
        .string()
        .refine((p) => {
          try {
            new RegExp(p);
            return true;
          } catch {
            return false;
          }
        }, 'a valid regular expression')
        .optional(),
    })
    .strict()
    .refine((e) => !(e.env && e.file), { message: 'give env or file, not both' });

  const server = z
    .object({
      catalog: z.string().optional(),
      command: z.string().min(1).optional(),
      args: z.array(z.string()).default([]),
      env: z.record(z.string(), z.string()).default({}),
      cwd: z.string().optional(),
      url: z.url().optional(),
      headers: z.record(z.string(), z.string()).default({}),
      image: z.string().min(1).optional(),
      runtime: z.enum(['process', 'docker', 'swarm']).optional(),
      network: z.boolean().default(false),
      secrets: z.array(z.union([secretEntry, z.string().regex(SECRET_NAME, 'a secret name')])).default([]),
      disabled: z.boolean().default(false),
      /** The gateway exposes this server's tools as `<prefix>__<tool>`; false: unprefixed. */
      prefix: z
        .union([
          z.string().regex(/^[A-Za-z0-9-]+(?:_[A-Za-z0-9-]+)*$/, 'letters, digits, - and single _ inside'),
          z.literal(false),
        ])
        .optional(),
      /** When the gateway starts it: on first use (default) or as soon as a client connects. */
      start: z.enum(['lazy', 'eager']).default('lazy'),
      /**
       * One process for every client identity instead of one each. Only for a server that keeps
       * no state between calls: what one client leaves in it, the others see.
       */
      share: z.boolean().default(false),
      /** Claude Desktop and VS Code fields we accept and ignore. */
      type: z.string().optional(),
    })
    .strict()
    .refine((s) => [s.command, s.url, s.image].filter(Boolean).length === 1, {
      message: 'give exactly one of command, url or image',
    });

  const servers = z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a server name'), server);
  return { server, servers };
}

export type RawServer = Z.infer<ReturnType<typeof build>['server']>;

export interface SecretNeed {
  /** The name the server knows it by (default variable). */
  name: string;
  /** The name in the store. */
  secret: string;
  /** Delivered as this variable, or as a file with `${env}_FILE` pointing at it. */
  env: string;
  file?: string;
  required: boolean;
  pattern?: string;
  /** A `secret://` reference from `env` or `headers`, resolved as is. */
  ref?: string;
  /** For a remote server: the header whose value holds the reference. */
  header?: string;
}

/** `secret://...` references inside a longer string, such as `Bearer secret://DOCS_TOKEN`. */
export const EMBEDDED_REF = /secret:\/\/[A-Za-z_][A-Za-z0-9_.-]*(?:\/[^\s#"']+)?(?:#[\w.-]+)?/g;

export interface ServerConfig {
  name: string;
  kind: 'process' | 'docker' | 'swarm' | 'remote';
  command?: string;
  args: string[];
  cwd?: string;
  /** Literal variables (references moved to `needs`). */
  env: Record<string, string>;
  url?: string;
  headers: Record<string, string>;
  image?: string;
  network: boolean;
  disabled: boolean;
  /** Gateway namespacing: undefined = the server's name. */
  prefix?: string | false;
  /** Started by the gateway as soon as a client connects, rather than on first use. */
  eager: boolean;
  /** The gateway runs one copy for all client identities (`share: true`). */
  shared: boolean;
  catalog?: string;
  needs: SecretNeed[];
}

/** `servers.github.secrets[0].env`, from zod's issue path. */
function pathOf(path: readonly PropertyKey[]): string {
  return path
    .reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : `${acc}.${String(seg)}`), '')
    .slice(1);
}

let schemas: ReturnType<typeof build> | undefined;

export async function parseServers(
  configPath: string,
  doc: Record<string, unknown>,
): Promise<ServerConfig[]> {
  const key = doc.servers !== undefined ? 'servers' : doc.mcpServers !== undefined ? 'mcpServers' : undefined;
  if (!key) return [];
  schemas ??= build((await import('zod')).z);
  const parsed = schemas.servers.safeParse(doc[key]);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new WardenError(
      'CONFIG_INVALID',
      `${configPath}: ${pathOf([key, ...issue.path])}: ${issue.message}`,
    );
  }
  return Object.entries(parsed.data).map(([name, raw]) => normalise(configPath, key, name, raw));
}

function normalise(configPath: string, key: string, name: string, raw: RawServer): ServerConfig {
  const where = `${configPath}: ${key}.${name}`;
  let entry: CatalogEntry | undefined;
  if (raw.catalog !== undefined) {
    entry = catalogEntry(raw.catalog);
    if (!entry)
      throw new WardenError('CONFIG_INVALID', `${where}.catalog: no catalog entry "${raw.catalog}"`);
  } else entry = recognise(raw.args, raw.image);

  const needs = new Map<string, SecretNeed>();
  for (const c of entry?.secrets ?? []) {
    needs.set(c.name, {
      name: c.name,
      secret: c.name,
      env: c.env,
      required: c.required,
      ...(c.pattern && { pattern: c.pattern }),
    });
  }
  for (const e of raw.secrets) {
    const own = typeof e === 'string' ? { name: e, required: true } : e;
    const base = needs.get(own.name);
    needs.set(own.name, {
      name: own.name,
      secret: ('secret' in own && own.secret) || base?.secret || own.name,
      env: ('env' in own && own.env) || base?.env || own.name,
      required: own.required,
      ...('file' in own && own.file ? { file: own.file } : {}),
      ...(('pattern' in own && own.pattern) || base?.pattern
        ? { pattern: ('pattern' in own && own.pattern) || base!.pattern! }
        : {}),
    });
  }
  // A variable whose value is a reference is a secret too; a literal one stays as it is.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw.env)) {
    if (v.startsWith('secret://')) needs.set(k, { name: k, secret: k, env: k, required: true, ref: v });
    else if (needs.has(k))
      throw new WardenError(
        'CONFIG_INVALID',
        `${where}.env.${k}: holds a literal value for a secret; use secret://${k} or remove it`,
      );
    else env[k] = v;
  }
  for (const [header, value] of Object.entries(raw.headers)) {
    for (const [ref] of value.matchAll(EMBEDDED_REF)) {
      needs.set(`${header}:${ref}`, {
        name: ref.slice('secret://'.length),
        secret: ref.slice('secret://'.length),
        env: header,
        required: true,
        ref,
        header,
      });
    }
  }
  const kind = raw.url ? 'remote' : raw.image ? (raw.runtime === 'swarm' ? 'swarm' : 'docker') : 'process';
  return {
    name,
    kind,
    ...(raw.command !== undefined && { command: raw.command }),
    args: raw.args,
    ...(raw.cwd !== undefined && { cwd: raw.cwd }),
    env,
    ...(raw.url !== undefined && { url: raw.url }),
    headers: raw.headers,
    ...(raw.image !== undefined && { image: raw.image }),
    network: raw.network,
    disabled: raw.disabled,
    ...(raw.prefix !== undefined && { prefix: raw.prefix }),
    eager: raw.start === 'eager',
    shared: raw.share,
    ...(entry && { catalog: entry.id }),
    needs: [...needs.values()],
  };
}
