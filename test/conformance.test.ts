import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatTable, runSuite, type ScenarioResult } from './conformance/run-suite.mjs';
import { CLI } from './helpers/cli.js';

/**
 * The official MCP conformance suite (@modelcontextprotocol/conformance, server scenarios) run
 * against test/fixtures/conformance-server: first directly over its own Streamable HTTP, then
 * through `mcp-warden gateway --http` with the fixture as a stdio upstream. Whatever passes
 * directly must pass through the gateway.
 */
const FIXTURE = join(process.cwd(), 'test', 'fixtures', 'conformance-server', 'server.mjs');
// Each scenario is its own CLI process, mostly module loading: one per core.
const SUITE = { concurrency: Math.min(4, availableParallelism()), timeoutMs: 30_000 };
const SUITE_TIMEOUT = 240_000;
const CORE = [
  'server-initialize',
  'tools-list',
  'tools-call-simple-text',
  'resources-read-text',
  'prompts-get-simple',
  'dns-rebinding-protection',
];

const names = (results: ScenarioResult[], status: ScenarioResult['status']) =>
  results.filter((r) => r.status === status).map((r) => r.scenario);

/** Collects a child's stderr and resolves with the first match of `pattern` in it. */
function waitForStderr(child: ChildProcess, pattern: RegExp, ms = 15_000): Promise<RegExpExecArray> {
  let stderr = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no ${String(pattern)} on stderr within ${ms} ms: ${stderr}`)),
      ms,
    );
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const m = pattern.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.on('exit', (code) => reject(new Error(`exited with ${code} before ${String(pattern)}: ${stderr}`)));
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The suite against the fixture in HTTP mode on a free port. */
async function runAgainstFixture(): Promise<ScenarioResult[]> {
  const child = spawn(process.execPath, [FIXTURE, '--http', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const [, url] = await waitForStderr(child, /listening on (http:\/\/\S+)/);
    return await runSuite(url!, SUITE);
  } finally {
    await stop(child);
  }
}

/** The direct run, once per file: the gateway comparison reuses it. */
let directRun: Promise<ScenarioResult[]> | undefined;
const runDirect = () => (directRun ??= runAgainstFixture());

describe('conformance suite: the fixture server directly (Streamable HTTP)', () => {
  let results: ScenarioResult[];
  let table: string;

  beforeAll(async () => {
    results = await runDirect();
    table = formatTable(results);
  }, SUITE_TIMEOUT);

  it('runs the server scenarios the suite lists, and some pass', () => {
    expect(results.length, table).toBeGreaterThan(CORE.length);
    expect(names(results, 'pass'), table).not.toHaveLength(0);
  });

  it('passes the core scenarios', () => {
    expect(names(results, 'pass'), table).toEqual(expect.arrayContaining(CORE));
  });

  it('passes every scenario (the fixture implements them all)', () => {
    expect(names(results, 'fail'), table).toEqual([]);
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once something answers HTTP on `url` (any status). */
async function waitForHttp(url: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url, { method: 'GET' });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw new Error(`nothing answered ${url} within ${ms} ms`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Through the gateway: the fixture as a stdio upstream, unprefixed so the suite's names hold.
// ---------------------------------------------------------------------------------------------
describe('conformance suite: through the gateway (fixture as a stdio upstream)', () => {
  let direct: ScenarioResult[];
  let gatewayed: ScenarioResult[];
  let table: string;
  let dir: string | undefined;
  let gateway: ChildProcess | undefined;
  // Cleanup registers here: vitest ignores an afterAll added while a beforeAll runs.
  afterAll(async () => {
    if (gateway) await stop(gateway);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mcpw-conformance-'));
    const config = join(dir, 'mcp-warden.yaml');
    writeFileSync(
      config,
      [
        'servers:',
        '  conformance:',
        '    command: node',
        `    args: [${JSON.stringify(FIXTURE)}]`,
        '    prefix: false',
        '',
      ].join('\n'),
    );
    const port = await freePort();
    gateway = spawn(
      process.execPath,
      [CLI, 'gateway', '--http', '--port', String(port), '--config', config],
      {
        cwd: dir,
        env: { PATH: process.env.PATH, HOME: dir, MCP_WARDEN_HOME: join(dir, 'home') },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    gateway.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const url = `http://127.0.0.1:${port}/mcp`;
    await waitForHttp(url).catch((err: Error) => {
      throw new Error(`${err.message}; gateway stderr: ${stderr}`);
    });
    direct = await runDirect();
    gatewayed = await runSuite(url, SUITE);
    table = `direct:\n${formatTable(direct)}\n\nthrough the gateway:\n${formatTable(gatewayed)}\n\ngateway stderr:\n${stderr}`;
  }, SUITE_TIMEOUT);

  it('passes every scenario that passes directly', () => {
    // Both results side by side in the test log, for the record.
    const through = new Map(gatewayed.map((r) => [r.scenario, r]));
    const rows = direct.map(
      (r) => `${r.scenario.padEnd(34)} ${r.status.padEnd(7)} ${through.get(r.scenario)?.status ?? 'missing'}`,
    );
    console.log(['scenario'.padEnd(34) + ' direct  gateway', ...rows].join('\n'));
    const passedDirectly = names(direct, 'pass');
    expect(passedDirectly.length, table).toBeGreaterThan(0);
    const lost = passedDirectly.filter((s) => !names(gatewayed, 'pass').includes(s));
    expect(lost, table).toEqual([]);
  });
});
