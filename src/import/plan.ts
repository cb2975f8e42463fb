import type { ClientServer } from '../clients.js';
import { SECRET_NAME } from '../names.js';
import { detect, detectArgs, shapeOf, urlPassword, type Finding } from '../detect/secrets.js';

/**
 * What `import` does to one client config, worked out before anything is written: which values
 * go into the store under which names, and how each server entry is rewritten so that it runs
 * through mcp-warden with references instead of values:
 * - a local server: `mcp-warden run -- CMD ARGS...` with `secret://NAME` in its env;
 * - a remote server: `mcp-warden serve --url URL --header "K: V"` with the reference in V.
 * Secrets on a command line or in a URL cannot become references without landing in an argv,
 * so they are reported and left for the user to move.
 */
export interface Store {
  name: string;
  value: string;
  where: string;
  masked: string;
}

export interface Unmovable extends Finding {
  where: string;
  why: string;
}

export interface ImportPlan {
  servers: Record<string, ClientServer>;
  stores: Store[];
  unmovable: Unmovable[];
  /** Servers rewritten. */
  rewritten: string[];
}

/** A store name from a setting name: `X-API-Key` of server `docs` → DOCS_X_API_KEY. */
export function storeName(...parts: string[]): string {
  const name = parts
    .join('_')
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .replace(/^[^A-Za-z_]+/, '')
    .toUpperCase()
    .slice(0, 128);
  return SECRET_NAME.test(name) ? name : `SECRET_${name}`.slice(0, 128);
}

/**
 * `taken(name, value)` answers whether NAME already holds another value in the store (then a
 * server-prefixed name is used).
 */
export async function planImport(
  key: string,
  servers: Record<string, ClientServer>,
  launcher: string[],
  taken: (name: string, value: string) => Promise<boolean>,
  vscode: boolean,
): Promise<ImportPlan> {
  const plan: ImportPlan = { servers: {}, stores: [], unmovable: [], rewritten: [] };
  const chosen = new Map<string, string>();
  const pick = async (value: string, ...candidates: string[][]) => {
    for (const parts of candidates) {
      const name = storeName(...parts);
      const mine = chosen.get(name);
      if (mine === value) return name;
      if (mine === undefined && !(await taken(name, value))) {
        chosen.set(name, value);
        return name;
      }
    }
    let i = 2;
    const base = storeName(...candidates.at(-1)!);
    while (chosen.has(`${base}_${i}`) || (await taken(`${base}_${i}`, value))) i++;
    chosen.set(`${base}_${i}`, value);
    return `${base}_${i}`;
  };

  for (const [server, entry] of Object.entries(servers)) {
    const at = `${key}.${server}`;
    const next: ClientServer = structuredClone(entry);
    let changed = false;
    if (typeof entry.command === 'string') {
      for (const [k, v] of Object.entries(entry.env ?? {})) {
        const f = typeof v === 'string' ? detect(k, v) : undefined;
        if (!f) continue;
        const name = await pick(v, [k], [server, k]);
        plan.stores.push({ name, value: v, where: `${at}.env.${k}`, masked: f.masked });
        next.env![k] = `secret://${name}`;
        changed = true;
      }
      for (const f of detectArgs((entry.args ?? []).filter((a): a is string => typeof a === 'string'))) {
        plan.unmovable.push({
          ...f,
          where: `${at}.args[${f.index}]`,
          why: 'a secret on the command line would stay visible to every local user; pass it in an environment variable the server reads, then import again',
        });
      }
      if (changed && !isLauncher(entry, launcher)) {
        next.command = launcher[0]!;
        next.args = [...launcher.slice(1), 'run', '--', entry.command, ...(entry.args ?? [])];
      }
    } else if (typeof entry.url === 'string') {
      const headers: string[] = [];
      for (const [h, v] of Object.entries(entry.headers ?? {})) {
        const f = typeof v === 'string' ? detect(h, v) : undefined;
        if (!f) {
          headers.push(`${h}: ${v}`);
          continue;
        }
        // Keep the scheme (`Bearer `): only the token becomes a reference.
        const token = shapeOf(v)?.re.exec(v)?.[0] ?? v.replace(/^(Bearer|Basic|Token)\s+/i, '');
        const name = await pick(token, [server, h]);
        plan.stores.push({ name, value: token, where: `${at}.headers.${h}`, masked: f.masked });
        headers.push(`${h}: ${v.replace(token, `secret://${name}`)}`);
        changed = true;
      }
      const inUrl =
        urlPassword(entry.url) ?? [...safeParams(entry.url)].map(([p, v]) => detect(p, v)).find(Boolean);
      if (inUrl) {
        plan.unmovable.push({
          ...inUrl,
          where: `${at}.url`,
          why: 'a secret in the URL cannot be a reference yet; move it to a header, then import again',
        });
      }
      if (changed) {
        for (const k of ['url', 'headers', 'type'] as const) delete next[k];
        next.command = launcher[0]!;
        next.args = [
          ...launcher.slice(1),
          'serve',
          '--url',
          entry.url,
          ...headers.flatMap((h) => ['--header', h]),
        ];
        if (vscode) next.type = 'stdio';
      }
    }
    plan.servers[server] = next;
    if (changed) plan.rewritten.push(server);
  }
  return plan;
}

function safeParams(url: string): URLSearchParams {
  try {
    return new URL(url).searchParams;
  } catch {
    return new URLSearchParams();
  }
}

function isLauncher(entry: ClientServer, launcher: string[]): boolean {
  return (
    entry.command === launcher[0] &&
    (entry.args ?? []).slice(0, launcher.length - 1).join('\0') === launcher.slice(1).join('\0') &&
    (entry.args ?? []).includes('run')
  );
}
