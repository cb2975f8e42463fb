import type { Engine } from './engine.js';

/** What `GET /info` answers; only the fields we read are typed. */
export interface EngineInfo {
  ServerVersion: string;
  OperatingSystem: string;
  Swarm: {
    /** `inactive`, `pending`, `active`, `error` or `locked`. */
    LocalNodeState: string;
    /** True on a manager: only managers serve the secret and service endpoints. */
    ControlAvailable: boolean;
    NodeID: string;
    Error: string;
  };
  [key: string]: unknown;
}

/** Resolves when the daemon answers; DOCKER_UNAVAILABLE when it cannot be reached. */
export async function ping(engine: Engine): Promise<void> {
  await engine.request('GET', '/_ping', { timeoutMs: 5_000 });
}

export async function info(engine: Engine): Promise<EngineInfo> {
  return engine.request('GET', '/info');
}

/** True when this daemon is a manager of an active swarm (secrets and services work here). */
export function swarmUsable(i: EngineInfo): boolean {
  return i.Swarm.LocalNodeState === 'active' && i.Swarm.ControlAvailable;
}
