import { WardenError } from '../errors.js';
import type { Engine } from './engine.js';

/**
 * Containers through the Engine API, each function one call. Field names are Docker's own
 * (`POST /containers/create` body), so the API reference reads straight onto this code.
 *
 * `createContainer` hardens by default: all capabilities dropped, no-new-privileges (always),
 * no network, and memory, CPU and process limits; a caller loosens one by setting that field.
 */

export interface HostConfig {
  /** `source:target[:ro]`; see {@link readOnlyBind}. */
  Binds?: string[];
  /** Mount point to mount options, e.g. `{ '/tmp': 'rw,noexec,nosuid,size=64m' }`. */
  Tmpfs?: Record<string, string>;
  SecurityOpt?: string[];
  CapDrop?: string[];
  CapAdd?: string[];
  /** Bytes. */
  Memory?: number;
  /** Billionths of a CPU. */
  NanoCpus?: number;
  PidsLimit?: number;
  /** `none` (default), `bridge`, `host`, or a network name. */
  NetworkMode?: string;
  AutoRemove?: boolean;
  ReadonlyRootfs?: boolean;
  Init?: boolean;
}

export interface ContainerConfig {
  Image: string;
  Cmd?: string[];
  Entrypoint?: string[];
  /** `NAME=value`. Secret values do not belong here: deliver them as files. */
  Env?: string[];
  Labels?: Record<string, string>;
  User?: string;
  WorkingDir?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  OpenStdin?: boolean;
  /** Close the container's stdin when the attached client closes its side. */
  StdinOnce?: boolean;
  Tty?: boolean;
  StopSignal?: string;
  StopTimeout?: number;
  HostConfig?: HostConfig;
}

/** The limits and restrictions every container gets unless its config says otherwise. */
export const HARDENED_DEFAULTS = {
  CapDrop: ['ALL'],
  NetworkMode: 'none',
  Memory: 512 * 1024 * 1024,
  NanoCpus: 1_000_000_000,
  PidsLimit: 256,
} as const satisfies HostConfig;

const NO_NEW_PRIVILEGES = 'no-new-privileges';

/** What `GET /containers/{id}/json` answers; only the fields we read are typed. */
export interface ContainerInspect {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode: number; Pid: number; Error?: string };
  Config: ContainerConfig & { Env?: string[] | null; Cmd?: string[] | null };
  HostConfig: HostConfig & Record<string, unknown>;
  Mounts?: Array<{ Type: string; Source: string; Destination: string; RW: boolean }>;
  [key: string]: unknown;
}

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Labels: Record<string, string>;
}

const enc = encodeURIComponent;

/**
 * A read-only bind mount in `Binds` syntax. The syntax splits on `:`, so a path holding one
 * (or a relative path, which Docker would take for a volume name) is refused.
 */
export function readOnlyBind(source: string, target: string): string {
  for (const p of [source, target])
    if (!p.startsWith('/') || p.includes(':') || p.includes(','))
      throw new WardenError(
        'INVALID_VALUE',
        `bind mount path "${p}" must be absolute and contain no ":" or ","`,
      );
  return `${source}:${target}:ro`;
}

/** The config with the hardened defaults filled in; no-new-privileges is forced on. */
export function hardened(config: ContainerConfig): ContainerConfig {
  const given = Object.entries(config.HostConfig ?? {}).filter(([, v]) => v !== undefined);
  const host: HostConfig = {
    ...HARDENED_DEFAULTS,
    CapDrop: [...HARDENED_DEFAULTS.CapDrop],
    ...(Object.fromEntries(given) as HostConfig),
  };
  // Not negotiable: an MCP server never needs to gain privileges (setuid binaries, file caps).
  host.SecurityOpt = [
    ...(host.SecurityOpt ?? []).filter((o) => !o.startsWith(NO_NEW_PRIVILEGES)),
    NO_NEW_PRIVILEGES,
  ];
  return { ...config, HostConfig: host };
}

export async function createContainer(
  engine: Engine,
  config: ContainerConfig,
  opts: { name?: string } = {},
): Promise<{ Id: string; Warnings: string[] | null }> {
  return engine.request('POST', '/containers/create', {
    query: { name: opts.name },
    body: hardened(config),
  });
}

export async function startContainer(engine: Engine, id: string): Promise<void> {
  await engine.request('POST', `/containers/${enc(id)}/start`);
}

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

/**
 * Waits for the container to stop (a long poll, no timeout: pass a signal to give up). Called
 * before `start` with `next-exit`, it cannot miss a quick exit; with `removed`, it also covers the
 * removal of an AutoRemove container.
 */
export async function waitContainer(
  engine: Engine,
  id: string,
  opts: { condition?: WaitCondition; signal?: AbortSignal } = {},
): Promise<{ StatusCode: number; Error?: { Message: string } | null }> {
  return engine.request('POST', `/containers/${enc(id)}/wait`, {
    query: { condition: opts.condition ?? 'not-running' },
    timeoutMs: 0,
    ...(opts.signal && { signal: opts.signal }),
  });
}

export async function killContainer(engine: Engine, id: string, signal = 'SIGKILL'): Promise<void> {
  await engine.request('POST', `/containers/${enc(id)}/kill`, { query: { signal } });
}

export async function removeContainer(
  engine: Engine,
  id: string,
  opts: { force?: boolean; volumes?: boolean } = {},
): Promise<void> {
  await engine.request('DELETE', `/containers/${enc(id)}`, {
    query: { force: opts.force ?? false, v: opts.volumes ?? false },
  });
}

export async function inspectContainer(engine: Engine, id: string): Promise<ContainerInspect> {
  return engine.request('GET', `/containers/${enc(id)}/json`);
}

/** Containers carrying every given label (`key` or `key=value`); stopped ones too with `all`. */
export async function listContainers(
  engine: Engine,
  opts: { all?: boolean; labels?: string[] } = {},
): Promise<ContainerSummary[]> {
  return engine.request('GET', '/containers/json', {
    query: {
      all: opts.all ?? false,
      filters: opts.labels?.length ? JSON.stringify({ label: opts.labels }) : undefined,
    },
  });
}
