import { watch, type FSWatcher } from 'node:fs';
import type { Gateway, ServerRuntime } from '../gateway/gateway.js';
import { isLoopback } from '../gateway/fronts/origin.js';
import type { ManagedSecret } from '../gateway/pipeline.js';
import type { Security } from '../gateway/security.js';
import type { GatewaySettings } from '../gateway/settings.js';
import { assess } from '../servers/readiness.js';
import { openServers, parse } from './common.js';
import { usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden gateway [--stdio | --http] [--host H] [--port P] [--env E]

One MCP endpoint for every configured server. Tools and prompts are named <server>__<name>
(a server with 'prefix: false' keeps its own names); each client identity gets its own copy of
each server, started on first use ('start: eager' to start at connect), stopped when idle and
restarted after a crash ('share: true' runs one copy for everyone: only for a server that keeps
no state). A server whose required secret is missing is left out, with the reason on stderr.

  --stdio        serve one client on stdin/stdout (the default); stdout carries JSON-RPC only
  --http         Streamable HTTP at /mcp (protocol 2025-03-26 to 2025-11-25 with sessions, and
                 2026-07-28 stateless), legacy HTTP+SSE at /sse and /messages, /healthz, /readyz
  --host H       bind address (default 127.0.0.1, or gateway.http.host)
  --port P       port (default 8811, or gateway.http.port; 0 picks a free one)
  --config F     config file (default ./mcp-warden.yaml, then $XDG_CONFIG_HOME/mcp-warden/config.yaml)
  --env E        the environment whose providers to read secrets from
  --allow-unauthenticated
                 allow a non-loopback bind with no client authentication configured (warns)

Security (the gateway: section of the config; see the README): gateway.auth.keys (client API
keys, see 'mcp-warden keys'), gateway.auth.oauth (JWT access tokens from an issuer),
gateway.allowIps and gateway.trustedProxies, gateway.rateLimit (Redis to share it between
replicas), gateway.audit (a hash-chained JSON-lines file, see 'mcp-warden audit'),
gateway.safety (destructive tools are denied by default), gateway.leakGuard (secret values and
token shapes redacted from arguments and results by default), gateway.http.tls (cert and key).

SIGHUP, or a change to the config file, reloads the servers without dropping other sessions
(SIGHUP also reopens the audit file, for logrotate); key changes apply at once. SIGTERM and
SIGINT let calls in flight finish (gateway.drainSeconds) and stop every server.
`;

interface Values {
  stdio?: boolean;
  http?: boolean;
  host?: string;
  port?: string;
  env?: string;
  'allow-unauthenticated'?: boolean;
}

/** The config's servers, with the secrets of the ready ones; the others are reported. */
async function load(
  cli: Cli,
  config: string | undefined,
  environment: string | undefined,
  log: (l: string) => void,
): Promise<{
  runtimes: ServerRuntime[];
  settings: GatewaySettings;
  path: string;
  doc: Record<string, unknown>;
  secrets: ManagedSecret[];
  resolve: (ref: string) => Promise<string>;
}> {
  const { store, servers, config: doc } = await openServers(cli, config, environment);
  const { parseSettings } = await import('../gateway/settings.js');
  const settings = await parseSettings(doc.path, doc.doc);
  const runtimes: ServerRuntime[] = [];
  for (const r of await Promise.all(servers.map((s) => assess(store, s)))) {
    if (r.state === 'ready') runtimes.push({ config: r.server, values: r.values });
    else if (r.state !== 'off')
      log(`${r.server.name} is ${r.state}: ${r.problems.map((p) => p.detail).join('; ')}`);
  }
  const secrets: ManagedSecret[] = [];
  for (const r of runtimes)
    for (const [need, value] of r.values) secrets.push({ name: need.name, value, server: r.config.name });
  const resolve = async (ref: string) => (await store.resolveRefs([ref])).get(ref)!;
  return { runtimes, settings, path: doc.path, doc: doc.doc, secrets, resolve };
}

/** secret_access lines: which server was given which secrets (names only), at start and reload. */
function recordAccess(security: Security, runtimes: readonly ServerRuntime[], why: string): void {
  for (const r of runtimes) {
    if (r.values.size === 0) continue;
    security.audit?.record({
      event: 'secret_access',
      server: r.config.name,
      secrets: [...r.values.keys()].map((n) => n.name),
      reason: why,
      outcome: 'ok',
    });
  }
}

export async function run(args: string[], cli: Cli): Promise<number> {
  const p = parse<Values>(
    cli,
    args,
    {
      stdio: { type: 'boolean' },
      http: { type: 'boolean' },
      host: { type: 'string' },
      port: { type: 'string' },
      env: { type: 'string' },
      'allow-unauthenticated': { type: 'boolean' },
    },
    HELP,
  );
  if (!p) return 0;
  const v = p.values;
  if (p.positionals.length > 0) throw usage(`gateway takes no arguments (got "${p.positionals[0]}")`);
  if (v.stdio && v.http) throw usage('give --stdio or --http, not both');
  let port: number | undefined;
  if (v.port !== undefined) {
    port = Number(v.port);
    if (!/^\d+$/.test(v.port) || port > 65535) throw usage(`--port must be 0 to 65535, got "${v.port}"`);
  }
  const log = (line: string) => cli.stderr(`mcp-warden gateway: ${line}\n`);
  const first = await load(cli, v.config, v.env, log);
  const settings: GatewaySettings = {
    ...first.settings,
    ...(v.host !== undefined && { host: v.host }),
    ...(port !== undefined && { port }),
  };
  let secrets: readonly ManagedSecret[] = first.secrets;
  const { buildSecurity, publicUrlOf } = await import('../gateway/security.js');
  const security = await buildSecurity(first.doc, {
    configPath: first.path,
    env: cli.env,
    log,
    secrets: () => secrets,
    stdio: !v.http,
    resolve: first.resolve,
    ...(v.http && { publicUrl: publicUrlOf(settings) }),
  });
  if (v.http && !isLoopback(settings.host) && !security.authenticated) {
    await security.close();
    if (!v['allow-unauthenticated'])
      throw usage(
        `refusing to listen on ${settings.host} without client authentication; configure gateway.auth (keys or oauth), bind 127.0.0.1, or pass --allow-unauthenticated`,
      );
  }
  if (v.http && !isLoopback(settings.host) && !security.authenticated)
    log(
      `WARNING: listening on ${settings.host} with no client authentication: anyone who can reach it can call every tool`,
    );
  for (const line of security.summary) log(line);
  const { Gateway } = await import('../gateway/gateway.js');
  const gateway: Gateway = new Gateway({
    settings,
    env: cli.env,
    log,
    stages: security.stages,
    ...(security.admission && { admission: security.admission }),
    ...(security.audit && { audit: security.audit }),
  });
  await gateway.setServers(first.runtimes);
  recordAccess(security, first.runtimes, 'resolved at start');
  log(`servers: ${first.runtimes.map((r) => r.config.name).join(', ') || 'none ready'}`);

  let reloading = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      try {
        const next = await load(cli, v.config, v.env, log);
        secrets = next.secrets;
        const d = await gateway.setServers(next.runtimes);
        log(
          `config reloaded (${why}): added ${d.added.join(', ') || '-'}, removed ${d.removed.join(', ') || '-'}, changed ${d.changed.join(', ') || '-'}`,
        );
        if (JSON.stringify(next.doc.gateway ?? null) !== JSON.stringify(first.doc.gateway ?? null))
          log('the gateway: section changed; its security settings apply at the next start');
        security.audit?.record({
          event: 'config_reload',
          reason: why,
          outcome: 'ok',
          added: d.added,
          removed: d.removed,
          changed: d.changed,
        });
        recordAccess(security, next.runtimes, `resolved at reload (${why})`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        log(`config reload failed, keeping the running config: ${message}`);
        security.audit?.record({ event: 'config_reload', reason: `${why}: ${message}`, outcome: 'error' });
      }
    });
  };
  let debounce: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(first.path, () => {
      clearTimeout(debounce);
      debounce = setTimeout(() => reload('file changed'), 200);
    });
  } catch {
    log(`cannot watch ${first.path}; reload with SIGHUP`);
  }
  const onHup = () => {
    security
      .reopen()
      .catch((err: unknown) =>
        log(`reopening the audit log failed: ${err instanceof Error ? err.message : String(err)}`),
      );
    reload('SIGHUP');
  };
  process.on('SIGHUP', onHup);

  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onStop = () => stop();
  process.once('SIGTERM', onStop);
  process.once('SIGINT', onStop);
  try {
    if (v.http) {
      const { startHttp } = await import('../gateway/fronts/http.js');
      const { loadTls } = await import('../gateway/fronts/wire-tls.js');
      const tls = settings.tls && (await loadTls(settings.tls.cert, settings.tls.key));
      const front = await startHttp(gateway, {
        host: settings.host,
        port: settings.port,
        ...(tls && { tls }),
        ...(security.wellKnown && { wellKnown: security.wellKnown }),
      });
      log(`listening on ${front.url}`);
      await stopped;
      log('stopping: letting calls in flight finish');
      await front.close();
    } else {
      const { serveStdio } = await import('../gateway/fronts/stdio.js');
      await Promise.race([serveStdio(gateway, process.stdin, process.stdout), stopped]);
      await gateway.shutdown();
    }
  } finally {
    await reloading;
    await security.close();
    watcher?.close();
    clearTimeout(debounce);
    process.off('SIGHUP', onHup);
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
  }
  return 0;
}
