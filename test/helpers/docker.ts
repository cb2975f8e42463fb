import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { dockerEngine, type Engine } from '../../src/docker/engine.js';
import { info, ping, swarmUsable } from '../../src/docker/system.js';
import { isWardenError } from '../../src/errors.js';

/**
 * The Docker side of the tests: a client for the real dockerd (`.ci/run` installs and starts it,
 * in swarm mode), and a test image built FROM scratch, since no image can be pulled here.
 */

const HOW_TO =
  'run `bash .ci/run` (it installs docker.io, starts dockerd and initialises swarm mode), or ' +
  '`apt-get install docker.io` and start `dockerd --iptables=false &` yourself';

/** An engine for the tests' daemon; fails the test, saying what to do, when it does not answer. */
export async function requireDocker(): Promise<Engine> {
  const engine = dockerEngine();
  try {
    await ping(engine);
  } catch (err) {
    if (isWardenError(err, 'DOCKER_UNAVAILABLE'))
      throw new Error(`these tests need a running Docker daemon: ${HOW_TO}\n(${err.message})`, {
        cause: err,
      });
    throw err;
  }
  return engine;
}

/** Like {@link requireDocker}, and the daemon must be a manager of an active swarm. */
export async function requireSwarm(): Promise<Engine> {
  const engine = await requireDocker();
  const i = await info(engine);
  if (!swarmUsable(i))
    throw new Error(
      `these tests need swarm mode (the daemon says ${i.Swarm.LocalNodeState}): ` +
        '`docker swarm init --advertise-addr 127.0.0.1`, or run `bash .ci/run`',
    );
  return engine;
}

export const FIXTURE_SERVER = join(process.cwd(), 'test', 'fixtures', 'mcp-server', 'server.mjs');
/** Where things live inside the test image. */
export const IMAGE_NODE = '/usr/local/bin/node';
export const IMAGE_SERVER = '/app/server.mjs';

const DOCKERFILE = `FROM scratch
COPY root/ /
LABEL mcp-warden.test=true
ENTRYPOINT ["${IMAGE_NODE}"]
CMD ["${IMAGE_SERVER}"]
`;

/** The shared libraries `ldd` lists for a binary, the dynamic loader included (absolute paths). */
function sharedLibraries(binary: string): string[] {
  const r = spawnSync('ldd', [binary], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`ldd ${binary} failed: ${r.stderr}`);
  const libs: string[] = [];
  for (const line of r.stdout.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m?.[1]) libs.push(m[1]);
  }
  if (!libs.some((l) => l.includes('ld-linux'))) throw new Error(`ldd ${binary}: no dynamic loader found`);
  return libs;
}

function placeFile(source: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  try {
    linkSync(source, target); // the 120 MB node binary: a hard link when on the same filesystem
  } catch {
    copyFileSync(source, target); // follows symlinks: the library's real bytes land at the ldd path
  }
}

const built = new Map<string, Promise<string>>();

/**
 * A FROM scratch image holding the project's Node 24 binary, the libraries it links and the
 * fixture MCP server (entrypoint node, command the server). Tagged `repo:<content hash>`, so it is
 * built once and reused while node, its libraries and the fixture stay the same. Resolves to the tag.
 */
export function buildNodeImage(engine: Engine, repo = 'mcp-warden-test-node'): Promise<string> {
  let p = built.get(repo);
  if (!p) {
    p = build(engine, repo);
    built.set(repo, p);
  }
  return p;
}

async function build(engine: Engine, repo: string): Promise<string> {
  const node = realpathSync(join(process.cwd(), 'node_modules', 'node', 'bin', 'node'));
  const libs = sharedLibraries(node);
  const hash = createHash('sha256').update(DOCKERFILE);
  for (const file of [node, ...libs, FIXTURE_SERVER]) hash.update(file).update(readFileSync(file));
  const tag = `${repo}:${hash.digest('hex').slice(0, 16)}`;

  try {
    await engine.request('GET', `/images/${encodeURIComponent(tag)}/json`);
    return tag; // built by an earlier run
  } catch (err) {
    if (!isWardenError(err, 'DOCKER_NOT_FOUND')) throw err;
  }

  const context = mkdtempSync(join(tmpdir(), 'mcpw-image-'));
  try {
    const root = join(context, 'root');
    placeFile(node, join(root, IMAGE_NODE));
    for (const lib of libs) placeFile(realpathSync(lib), join(root, lib));
    placeFile(FIXTURE_SERVER, join(root, IMAGE_SERVER));
    writeFileSync(join(context, 'Dockerfile'), DOCKERFILE);
    const r = spawnSync('docker', ['build', '--quiet', '--tag', tag, context], {
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, DOCKER_BUILDKIT: '0' }, // the classic builder: no buildx plugin needed
    });
    if (r.status !== 0)
      throw new Error(`docker build of the test image failed: ${r.stderr || r.error?.message}`);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  return tag;
}
