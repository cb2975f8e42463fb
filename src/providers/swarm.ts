import { WardenError, isWardenError } from '../errors.js';
import { assertSecretName } from '../names.js';
import { OptionReader } from '../options.js';
import { defineProvider, type SecretMeta, type SecretProvider } from '../provider.js';
import type { Engine } from '../docker/engine.js';
import type { Secret } from '../docker/swarm.js';

/**
 * Docker Swarm secrets through the Engine API. Swarm secrets are immutable and cannot be read
 * back (they are only mounted into services), so:
 * - a secret NAME is stored as the Swarm secret `mcp-warden.NAME.vN`, labelled as ours with its
 *   name and version;
 * - `set` of an existing NAME creates version N+1, moves every service that mounts version N to
 *   it (same target file), then removes version N;
 * - `get` answers that the value cannot be read back, which is not "not found".
 * The daemon is reached at DOCKER_HOST (a unix socket) or /var/run/docker.sock.
 */
const MANAGED = 'mcp-warden.managed';
const NAME = 'mcp-warden.name';
const VERSION = 'mcp-warden.version';
/** Swarm secret names are at most 64 characters. */
const MAX_SWARM_NAME = 64;

const swarmName = (name: string, version: number) => `mcp-warden.${name}.v${version}`;
const versionOf = (s: Secret) => Number(s.Spec.Labels?.[VERSION] ?? 0);

export default defineProvider(
  (raw, ctx) => {
    new OptionReader(raw, `providers.${ctx.name}`).only();
    return {};
  },
  (_opts, ctx): SecretProvider => {
    let engine: Promise<Engine> | undefined;
    const docker = () =>
      (engine ??= import('../docker/engine.js').then((m) => m.dockerEngine({ env: ctx.env })));
    const swarm = () => import('../docker/swarm.js');

    /** Every stored version of NAME, newest first. */
    async function versions(name: string): Promise<Secret[]> {
      const { listSecrets } = await swarm();
      const all = await listSecrets(await docker(), {
        labels: [`${MANAGED}=true`, `${NAME}=${assertSecretName(name)}`],
      });
      return all.sort((a, b) => versionOf(b) - versionOf(a));
    }

    function meta(name: string, all: Secret[]): SecretMeta {
      const newest = all[0]!;
      return {
        name,
        provider: ctx.name,
        created: newest.Spec.Labels?.['mcp-warden.created'] ?? newest.CreatedAt,
        updated: newest.CreatedAt,
        version: versionOf(newest),
      };
    }

    /** Points every service that mounts one of `old` at `next` instead, keeping the target file. */
    async function moveServices(old: Secret[], next: { ID: string; name: string }): Promise<string[]> {
      const { listServices, inspectService, updateService } = await swarm();
      const e = await docker();
      const oldIds = new Set(old.map((s) => s.ID));
      const moved: string[] = [];
      for (const svc of await listServices(e)) {
        if (!(svc.Spec.TaskTemplate.ContainerSpec.Secrets ?? []).some((r) => oldIds.has(r.SecretID)))
          continue;
        // The update carries the version it read; a concurrent change answers a conflict: re-read.
        for (let attempt = 0; ; attempt++) {
          const cur = await inspectService(e, svc.ID);
          const spec = structuredClone(cur.Spec);
          spec.TaskTemplate.ContainerSpec.Secrets = (spec.TaskTemplate.ContainerSpec.Secrets ?? []).map(
            (r) => (oldIds.has(r.SecretID) ? { ...r, SecretID: next.ID, SecretName: next.name } : r),
          );
          try {
            await updateService(e, svc.ID, cur.Version.Index, spec);
            break;
          } catch (err) {
            if (!isWardenError(err, 'DOCKER_CONFLICT') || attempt >= 4) throw err;
          }
        }
        moved.push(svc.Spec.Name);
      }
      return moved;
    }

    const provider: SecretProvider = {
      type: 'swarm',
      name: ctx.name,
      capabilities: { read: false, list: true, set: true, delete: true, versions: true },
      get(name) {
        return Promise.resolve().then(() => {
          assertSecretName(name);
          throw new WardenError(
            'PROVIDER_UNSUPPORTED',
            `Swarm secrets cannot be read back: "${name}" in ${ctx.name} is only mounted into services (at /run/secrets/...); read it there, or keep a copy in another provider`,
          );
        });
      },
      async has(name) {
        return (await versions(name)).length > 0;
      },
      async inspect(name) {
        const all = await versions(name);
        return all.length > 0 ? meta(name, all) : undefined;
      },
      async set(name, value) {
        const all = await versions(name);
        const version = (all[0] ? versionOf(all[0]) : 0) + 1;
        const target = swarmName(name, version);
        if (target.length > MAX_SWARM_NAME) {
          throw new WardenError(
            'INVALID_NAME',
            `"${name}" is too long for a Swarm secret (Swarm names are at most ${MAX_SWARM_NAME} characters with our prefix and version)`,
          );
        }
        const { createSecret, removeSecret } = await swarm();
        const e = await docker();
        const created = all.at(-1)?.Spec.Labels?.['mcp-warden.created'] ?? new Date().toISOString();
        const { ID } = await createSecret(e, {
          name: target,
          data: value,
          labels: {
            [MANAGED]: 'true',
            [NAME]: name,
            [VERSION]: String(version),
            'mcp-warden.created': created,
          },
        });
        await moveServices(all, { ID, name: target });
        for (const old of all) {
          // A service task still shutting down can hold it for a moment.
          for (let attempt = 0; ; attempt++) {
            try {
              await removeSecret(e, old.ID);
              break;
            } catch (err) {
              if (!isWardenError(err, 'DOCKER_CONFLICT') || attempt >= 20) throw err;
              await new Promise((r) => setTimeout(r, 250));
            }
          }
        }
        return { name, provider: ctx.name, created, updated: new Date().toISOString(), version };
      },
      async delete(name) {
        const all = await versions(name);
        const { removeSecret } = await swarm();
        const e = await docker();
        for (const s of all) {
          try {
            await removeSecret(e, s.ID);
          } catch (err) {
            if (isWardenError(err, 'DOCKER_CONFLICT')) {
              throw new WardenError(
                'DOCKER_CONFLICT',
                `"${name}" is still mounted by a service; remove it from the service first (${err.message})`,
              );
            }
            throw err;
          }
        }
        return all.length > 0;
      },
      async list() {
        const { listSecrets } = await swarm();
        const byName = new Map<string, Secret[]>();
        for (const s of await listSecrets(await docker(), { labels: [`${MANAGED}=true`] })) {
          const n = s.Spec.Labels?.[NAME];
          if (n) byName.set(n, [...(byName.get(n) ?? []), s]);
        }
        return [...byName]
          .map(([n, all]) =>
            meta(
              n,
              all.sort((a, b) => versionOf(b) - versionOf(a)),
            ),
          )
          .sort((a, b) => (a.name < b.name ? -1 : 1));
      },
      async probe() {
        try {
          const { info, swarmUsable } = await import('../docker/system.js');
          const i = await info(await docker());
          return swarmUsable(i)
            ? { usable: true, reason: 'this Docker node is a Swarm manager' }
            : { usable: false, reason: 'Docker is not a Swarm manager here; run docker swarm init' };
        } catch (err) {
          return { usable: false, reason: (err as Error).message };
        }
      },
    };
    return provider;
  },
);
