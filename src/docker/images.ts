import type { Engine } from './engine.js';

export interface ImageInspect {
  Id: string;
  Config?: { Labels?: Record<string, string> | null; Env?: string[] | null } | null;
}

export async function inspectImage(engine: Engine, name: string): Promise<ImageInspect> {
  return engine.request('GET', `/images/${encodeURIComponent(name)}/json`);
}
