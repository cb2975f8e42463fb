import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe } from './errors.js';
import type { ProbeResult } from './provider.js';
import { keychainPresent } from './store/open.js';
import type { Store } from './store/store.js';

/** One row of `secret diagnose`: a backend, whether it is usable here, and why. */
export interface DiagnoseRow {
  backend: string;
  usable: boolean;
  reason: string;
  /** False for backends detected here whose provider arrives in a later release. */
  supported: boolean;
}

export interface Diagnosis {
  rows: DiagnoseRow[];
  chain: string[];
  recommended: { provider: string; type: string; reason: string };
}

const HELPERS = ['secretservice', 'pass', 'osxkeychain', 'wincred', 'desktop'];

function onPath(bin: string, env: NodeJS.ProcessEnv): string | undefined {
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    for (const ext of exts) if (dir && existsSync(join(dir, bin + ext))) return join(dir, bin + ext);
  }
  return undefined;
}

/** GET on the Docker Engine API over its unix socket, with a short timeout. */
async function dockerGet(socket: string, path: string): Promise<Record<string, unknown>> {
  // Imported here: loading node:http costs about as much as starting node itself.
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function dockerSocket(env: NodeJS.ProcessEnv): string {
  const host = env.DOCKER_HOST;
  if (host?.startsWith('unix://')) return host.slice('unix://'.length);
  return '/var/run/docker.sock';
}

async function dockerRows(env: NodeJS.ProcessEnv): Promise<DiagnoseRow[]> {
  const socket = dockerSocket(env);
  const home = env.HOME || homedir();
  const desktopDir = existsSync(join(home, '.docker', 'desktop'));
  let info: Record<string, unknown> | undefined;
  let why = '';
  if (env.DOCKER_HOST && !env.DOCKER_HOST.startsWith('unix://'))
    why = `DOCKER_HOST=${env.DOCKER_HOST} is not a unix socket; not probed`;
  else if (!existsSync(socket)) why = `no Docker Engine socket at ${socket}`;
  else
    info = await dockerGet(socket, '/info').catch(
      (err: unknown) => ((why = `Docker Engine at ${socket} does not answer (${describe(err)})`), undefined),
    );
  const os = typeof info?.OperatingSystem === 'string' ? info.OperatingSystem : '';
  const isDesktop = /docker desktop/i.test(os) || desktopDir;
  const swarm = (info?.Swarm ?? {}) as { LocalNodeState?: string; ControlAvailable?: boolean };
  return [
    {
      backend: 'docker-desktop',
      usable: isDesktop,
      reason: isDesktop
        ? os
          ? `Docker Desktop (${os})`
          : '~/.docker/desktop exists'
        : info
          ? `engine is ${os || 'not Docker Desktop'}`
          : why,
      supported: false,
    },
    {
      backend: 'swarm',
      usable: swarm.LocalNodeState === 'active' && swarm.ControlAvailable === true,
      reason: info
        ? swarm.LocalNodeState === 'active'
          ? swarm.ControlAvailable
            ? 'this node is a Swarm manager'
            : 'this node is a Swarm worker (secrets need a manager)'
          : `Swarm mode is ${swarm.LocalNodeState || 'inactive'}; run docker swarm init`
        : why,
      supported: true,
    },
  ];
}

async function kubernetesRow(env: NodeJS.ProcessEnv): Promise<DiagnoseRow> {
  const files = (env.KUBECONFIG || join(env.HOME || homedir(), '.kube', 'config'))
    .split(delimiter)
    .filter(Boolean);
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const { parse } = await import('yaml');
    const ctx = (() => {
      try {
        return (parse(text) as { 'current-context'?: unknown } | null)?.['current-context'];
      } catch {
        return undefined;
      }
    })();
    if (typeof ctx === 'string' && ctx)
      return {
        backend: 'kubernetes',
        usable: true,
        reason: `kubeconfig ${f}, context "${ctx}"`,
        supported: false,
      };
    return {
      backend: 'kubernetes',
      usable: false,
      reason: `kubeconfig ${f} has no current-context`,
      supported: false,
    };
  }
  return {
    backend: 'kubernetes',
    usable: false,
    reason: `no kubeconfig (${files.join(', ')})`,
    supported: false,
  };
}

function hintRow(backend: string, found: string | undefined, missing: string): DiagnoseRow {
  return { backend, usable: !!found, reason: found ?? missing, supported: false };
}

function cloudRows(env: NodeJS.ProcessEnv): DiagnoseRow[] {
  const home = env.HOME || homedir();
  const vault = env.VAULT_ADDR
    ? `VAULT_ADDR=${env.VAULT_ADDR}${env.VAULT_TOKEN || existsSync(join(home, '.vault-token')) ? ', with a token' : ', no token yet'}`
    : undefined;
  const aws = env.AWS_ACCESS_KEY_ID
    ? 'AWS_ACCESS_KEY_ID is set'
    : env.AWS_PROFILE
      ? `AWS_PROFILE=${env.AWS_PROFILE}`
      : existsSync(join(home, '.aws', 'credentials'))
        ? '~/.aws/credentials exists'
        : undefined;
  const azure = env.AZURE_CLIENT_ID
    ? 'AZURE_CLIENT_ID is set'
    : existsSync(join(home, '.azure'))
      ? '~/.azure exists (az login)'
      : undefined;
  const gcp = env.GOOGLE_APPLICATION_CREDENTIALS
    ? 'GOOGLE_APPLICATION_CREDENTIALS is set'
    : existsSync(join(home, '.config', 'gcloud', 'application_default_credentials.json'))
      ? 'gcloud application default credentials exist'
      : undefined;
  return [
    hintRow('vault', vault, 'VAULT_ADDR is not set'),
    hintRow('aws', aws, 'no AWS credentials in the environment or ~/.aws'),
    hintRow('azure', azure, 'no Azure credentials in the environment or ~/.azure'),
    hintRow('gcp', gcp, 'no Google application credentials'),
  ];
}

async function probeAs(
  type: string,
  build: () => Promise<{ probe?: () => Promise<ProbeResult> }>,
): Promise<ProbeResult> {
  try {
    const p = await build();
    return p.probe ? await p.probe() : { usable: true, reason: `${type} provider` };
  } catch (err) {
    return { usable: false, reason: describe(err) };
  }
}

/**
 * Checks every backend this machine could use, the ones this release implements by asking them
 * (a keychain read, a helper `list`), the later ones (Docker Desktop, Swarm, Kubernetes, Vault,
 * clouds) by detection only; then names the recommended write target.
 */
export async function diagnose(store: Store, env: NodeJS.ProcessEnv): Promise<Diagnosis> {
  const { Store: StoreClass } = await import('./store/store.js');
  const { dataHome } = await import('./paths.js');
  // Probe instances of each local type, independent of what the chain holds.
  const scratch = (type: string, options: Record<string, unknown> = {}) =>
    new StoreClass({
      specs: [{ name: type, type, options }],
      home: dataHome(env),
      env,
      warn: () => undefined,
    }).provider(type);
  const rows: DiagnoseRow[] = [];
  const add = (backend: string, r: ProbeResult) =>
    rows.push({ backend, usable: r.usable, reason: r.reason, supported: true });

  add('file', await probeAs('file', () => scratch('file')));
  add(
    'keychain',
    keychainPresent(env)
      ? await probeAs('keychain', () => scratch('keychain'))
      : { usable: false, reason: 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS), so no Secret Service' },
  );
  const helpers = HELPERS.filter((h) => onPath(`docker-credential-${h}`, env));
  if (helpers.length === 0)
    add('credential-helper', { usable: false, reason: 'no docker-credential-* helper on PATH' });
  for (const h of helpers)
    add(
      `credential-helper:${h}`,
      await probeAs('credential-helper', () => scratch('credential-helper', { helper: h })),
    );
  for (const dir of ['/run/secrets', '/run/agenix'])
    add(`dir:${dir}`, await probeAs('dir', () => scratch('dir', { path: dir })));
  add('dotenv', await probeAs('dotenv', () => scratch('dotenv')));
  add('env', { usable: true, reason: 'the process environment (read-only)' });
  rows.push(...(await dockerRows(env)), await kubernetesRow(env), ...cloudRows(env));

  const rec = await store.recommended();
  return {
    rows,
    chain: [...store.chain],
    recommended: { provider: rec.provider.name, type: rec.provider.type, reason: rec.reason },
  };
}
