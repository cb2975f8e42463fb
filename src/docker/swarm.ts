import type { Engine } from './engine.js';

/**
 * Swarm secrets, services and tasks through the Engine API, each function one call, with Docker's
 * own field names. These endpoints answer only on a swarm manager; elsewhere the daemon says 503,
 * which arrives as DOCKER_UNAVAILABLE with its message ("This node is not a swarm manager...").
 */

const enc = encodeURIComponent;

interface Versioned {
  ID: string;
  /** The object's version; an update must name the one it read. */
  Version: { Index: number };
  CreatedAt: string;
  UpdatedAt: string;
}

// ---- secrets ----------------------------------------------------------------------------------

export interface Secret extends Versioned {
  /** Never carries the data: Swarm does not give a secret's value back. */
  Spec: { Name: string; Labels?: Record<string, string> };
}

/** Creates a secret; its value is immutable from then on. DOCKER_CONFLICT if the name is taken. */
export async function createSecret(
  engine: Engine,
  secret: { name: string; data: string | Uint8Array; labels?: Record<string, string> },
): Promise<{ ID: string }> {
  const data = typeof secret.data === 'string' ? Buffer.from(secret.data, 'utf8') : Buffer.from(secret.data);
  return engine.request('POST', '/secrets/create', {
    // Standard base64: the daemon decodes this field as a Go []byte.
    body: { Name: secret.name, Labels: secret.labels ?? {}, Data: data.toString('base64') },
  });
}

/** Secrets carrying every given label (`key` or `key=value`); all secrets without labels. */
export async function listSecrets(engine: Engine, opts: { labels?: string[] } = {}): Promise<Secret[]> {
  return engine.request('GET', '/secrets', {
    query: { filters: opts.labels?.length ? JSON.stringify({ label: opts.labels }) : undefined },
  });
}

export async function inspectSecret(engine: Engine, idOrName: string): Promise<Secret> {
  return engine.request('GET', `/secrets/${enc(idOrName)}`);
}

/** DOCKER_CONFLICT while a service uses it: update or remove those services first. */
export async function removeSecret(engine: Engine, idOrName: string): Promise<void> {
  await engine.request('DELETE', `/secrets/${enc(idOrName)}`);
}

// ---- services ---------------------------------------------------------------------------------

/** A secret mounted into a service's containers, on a tmpfs under /run/secrets. */
export interface SecretReference {
  SecretID: string;
  SecretName: string;
  /** `Name` is relative to /run/secrets or absolute; UID and GID are strings; Mode e.g. 0o400. */
  File: { Name: string; UID: string; GID: string; Mode: number };
}

export interface ServiceContainerSpec {
  Image: string;
  Command?: string[];
  Args?: string[];
  Env?: string[];
  Labels?: Record<string, string>;
  User?: string;
  Dir?: string;
  ReadOnly?: boolean;
  Init?: boolean;
  CapabilityDrop?: string[];
  CapabilityAdd?: string[];
  Secrets?: SecretReference[];
  /** Nanoseconds. */
  StopGracePeriod?: number;
  /** Keep stdin open so a client on this node can attach to the task's container. */
  OpenStdin?: boolean;
}

export interface ServiceSpec {
  Name: string;
  Labels?: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: ServiceContainerSpec;
    RestartPolicy?: { Condition?: 'none' | 'on-failure' | 'any'; Delay?: number; MaxAttempts?: number };
    Resources?: { Limits?: { MemoryBytes?: number; NanoCPUs?: number; Pids?: number } };
    Networks?: Array<{ Target: string; Aliases?: string[] }>;
    /** Bump to redeploy the tasks with an unchanged spec. */
    ForceUpdate?: number;
  };
  Mode?: { Replicated?: { Replicas: number } } | { Global: Record<string, never> };
}

export interface Service extends Versioned {
  Spec: ServiceSpec;
}

export type TaskState =
  | 'new'
  | 'allocated'
  | 'pending'
  | 'assigned'
  | 'accepted'
  | 'preparing'
  | 'ready'
  | 'starting'
  | 'running'
  | 'complete'
  | 'shutdown'
  | 'failed'
  | 'rejected'
  | 'remove'
  | 'orphaned';

export interface Task {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: TaskState;
  Status: {
    Timestamp: string;
    State: TaskState;
    Message?: string;
    Err?: string;
    ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
  };
  Spec: ServiceSpec['TaskTemplate'];
}

export async function createService(
  engine: Engine,
  spec: ServiceSpec,
): Promise<{ ID: string; Warnings?: string[] | null }> {
  return engine.request('POST', '/services/create', { body: spec });
}

export async function inspectService(engine: Engine, idOrName: string): Promise<Service> {
  return engine.request('GET', `/services/${enc(idOrName)}`);
}

/**
 * Replaces the service's spec. `version` is the `Version.Index` the caller read: the daemon
 * refuses the update (DOCKER_CONFLICT, "update out of sequence") if the service changed since.
 */
export async function updateService(
  engine: Engine,
  idOrName: string,
  version: number,
  spec: ServiceSpec,
): Promise<{ Warnings?: string[] | null }> {
  return engine.request('POST', `/services/${enc(idOrName)}/update`, { query: { version }, body: spec });
}

export async function removeService(engine: Engine, idOrName: string): Promise<void> {
  await engine.request('DELETE', `/services/${enc(idOrName)}`);
}

/** Services carrying every given label (`key` or `key=value`). */
export async function listServices(engine: Engine, opts: { labels?: string[] } = {}): Promise<Service[]> {
  return engine.request('GET', '/services', {
    query: { filters: opts.labels?.length ? JSON.stringify({ label: opts.labels }) : undefined },
  });
}

export async function listTasks(
  engine: Engine,
  opts: { service?: string; desiredState?: 'running' | 'shutdown' | 'accepted' } = {},
): Promise<Task[]> {
  const filters: Record<string, string[]> = {};
  if (opts.service) filters.service = [opts.service];
  if (opts.desiredState) filters['desired-state'] = [opts.desiredState];
  return engine.request('GET', '/tasks', {
    query: { filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined },
  });
}
