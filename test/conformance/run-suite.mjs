// Runs the server scenarios of the official MCP conformance suite (@modelcontextprotocol/conformance)
// against a Streamable HTTP URL, one `conformance server --scenario NAME` process per scenario,
// each with its own timeout, and reports scenario -> pass/fail with a short reason.
//
//   node test/conformance/run-suite.mjs URL [--json] [--timeout MS] [--concurrency N] [--scenario NAME]...
//
// Exit status: 0 when every scenario passed, 1 when one failed, 2 on a usage error.
//
// How the suite reports: each run writes <output-dir>/server-<scenario>-<timestamp>/checks.json,
// an array of checks {id, status: SUCCESS|FAILURE|WARNING|INFO, errorMessage?}, and exits 1 when
// any check is a FAILURE. A scenario passes here when its checks.json exists, holds no FAILURE
// and the process exited 0; WARNINGs (SHOULDs) are reported but do not fail it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const CONFORMANCE_DIR = dirname(require.resolve('@modelcontextprotocol/conformance/package.json'));
const CONFORMANCE_CLI = join(CONFORMANCE_DIR, 'dist', 'index.js');
const DEFAULT_TIMEOUT_MS = 60_000;

/** Runs the conformance CLI with `args`; kills it after `timeoutMs`. */
function runCli(args, { cwd, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CONFORMANCE_CLI, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = globalThis.setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      globalThis.clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      globalThis.clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** The server scenario names, from `conformance list --server` (never a copy of the list). */
export async function listServerScenarios({ timeoutMs = 30_000 } = {}) {
  const out = await runCli(['list', '--server'], { cwd: tmpdir(), timeoutMs });
  if (out.code !== 0) throw new Error(`conformance list exited ${out.code}: ${out.stderr.trim()}`);
  const names = [];
  let inServer = false;
  for (const line of out.stdout.split('\n')) {
    if (/^Server scenarios/i.test(line)) inServer = true;
    else if (/^\S/.test(line))
      inServer = false; // the next section's heading
    else if (inServer) {
      // "  - server-initialize [2025-06-18,2025-11-25]"
      const m = /^\s+-\s+(\S+)/.exec(line);
      if (m) names.push(m[1]);
    }
  }
  if (names.length === 0) throw new Error(`no server scenarios in conformance list output:\n${out.stdout}`);
  return names;
}

/** The CLI's own account of a crash: its first error line (plus the next when that one ends in ':'). */
function crashReason(stderr, stdout) {
  const lines = `${stderr}\n${stdout}`
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && l.length < 400); // not the minified source line a stack trace quotes
  const i = lines.findIndex((l) => /error/i.test(l));
  let reason = i < 0 ? (lines.at(-1) ?? 'no output') : lines[i];
  if (i >= 0 && reason.endsWith(':') && lines[i + 1]) reason += ` ${lines[i + 1]}`;
  return reason.length > 200 ? `${reason.slice(0, 197)}...` : reason;
}

function readChecks(dir) {
  // One run writes exactly one server-<scenario>-<timestamp>/ directory into its own dir.
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    try {
      const checks = JSON.parse(readFileSync(join(dir, entry.name, 'checks.json'), 'utf8'));
      if (Array.isArray(checks)) return checks;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const describeCheck = (c) => (c.errorMessage ? `${c.id}: ${c.errorMessage}` : c.id);

/**
 * Runs one scenario against `url` in its own output directory under `workDir`.
 * @returns {Promise<import('./run-suite.d.mts').ScenarioResult>}
 */
export async function runScenario(url, scenario, { workDir, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  const base = workDir ?? mkdtempSync(join(tmpdir(), 'mcp-conformance-'));
  const dir = mkdtempSync(join(base, `${scenario.replace(/[^\w.-]/g, '_')}-`));
  const started = performance.now();
  try {
    const out = await runCli(['server', '--url', url, '--scenario', scenario, '--output-dir', dir], {
      cwd: dir,
      timeoutMs,
    });
    const ms = Math.round(performance.now() - started);
    const result = { scenario, status: 'fail', reason: '', warnings: [], ms, passed: 0, failed: 0 };
    if (out.timedOut) return { ...result, reason: `timed out after ${timeoutMs} ms` };
    const checks = readChecks(dir);
    if (!checks) {
      const why = crashReason(out.stderr, out.stdout);
      return { ...result, reason: `no checks.json (exit ${out.code ?? out.signal}): ${why}` };
    }
    const failures = checks.filter((c) => c.status === 'FAILURE');
    result.passed = checks.filter((c) => c.status === 'SUCCESS').length;
    result.failed = failures.length;
    result.warnings = checks.filter((c) => c.status === 'WARNING').map(describeCheck);
    if (failures.length > 0) return { ...result, reason: failures.map(describeCheck).join('; ') };
    if (out.code !== 0) return { ...result, reason: `exit ${out.code ?? out.signal} without a failed check` };
    return { ...result, status: 'pass' };
  } finally {
    if (!workDir) rmSync(base, { recursive: true, force: true });
  }
}

/**
 * Runs every server scenario (or `opts.scenarios`) against `url`.
 * @param {string} url
 * @param {import('./run-suite.d.mts').SuiteOptions} [opts]
 * @returns {Promise<import('./run-suite.d.mts').ScenarioResult[]>} in list order
 */
export async function runSuite(url, opts = {}) {
  const { timeoutMs = DEFAULT_TIMEOUT_MS, concurrency = 1, onResult, keepResults = false } = opts;
  const scenarios = opts.scenarios ?? (await listServerScenarios());
  const workDir = mkdtempSync(join(tmpdir(), 'mcp-conformance-'));
  const results = new Array(scenarios.length);
  let next = 0;
  async function worker() {
    while (next < scenarios.length) {
      const i = next++;
      results[i] = await runScenario(url, scenarios[i], { workDir, timeoutMs });
      onResult?.(results[i]);
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, scenarios.length)) }, worker));
  } finally {
    if (!keepResults) rmSync(workDir, { recursive: true, force: true });
  }
  return results;
}

/** A plain-text table: scenario, PASS/FAIL, and the reason or the warnings. */
export function formatTable(results) {
  const width = Math.max(8, ...results.map((r) => r.scenario.length));
  const rows = results.map((r) => {
    const note = r.status === 'pass' ? r.warnings.map((w) => `warning ${w}`).join('; ') : r.reason;
    return `${r.scenario.padEnd(width)}  ${r.status === 'pass' ? 'PASS' : 'FAIL'}  ${note}`.trimEnd();
  });
  const passed = results.filter((r) => r.status === 'pass').length;
  return [
    `${'scenario'.padEnd(width)}  result`,
    ...rows,
    '',
    `${passed}/${results.length} scenarios passed`,
  ].join('\n');
}

async function main(argv) {
  const usage =
    'usage: node test/conformance/run-suite.mjs URL [--json] [--timeout MS] [--concurrency N] [--scenario NAME]...';
  let url;
  let json = false;
  const opts = { scenarios: undefined, timeoutMs: DEFAULT_TIMEOUT_MS, concurrency: 1 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${arg} needs a value`);
      return v;
    };
    if (arg === '--json') json = true;
    else if (arg === '--timeout') opts.timeoutMs = Number(value());
    else if (arg === '--concurrency') opts.concurrency = Number(value());
    else if (arg === '--scenario') (opts.scenarios ??= []).push(value());
    else if (arg === '-h' || arg === '--help') return void process.stdout.write(`${usage}\n`);
    else if (!arg.startsWith('-') && url === undefined) url = arg;
    else throw new RangeError(`unexpected argument ${arg}`);
  }
  if (!url) throw new RangeError('a server URL is required');
  if (!(opts.timeoutMs > 0) || !(opts.concurrency >= 1))
    throw new RangeError('--timeout and --concurrency take positive numbers');
  const started = performance.now();
  const results = await runSuite(url, {
    ...opts,
    onResult: json
      ? undefined
      : (r) => process.stderr.write(`${r.status === 'pass' ? 'PASS' : 'FAIL'} ${r.scenario}\n`),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (json) process.stdout.write(`${JSON.stringify({ url, seconds: Number(seconds), results }, null, 2)}\n`);
  else process.stdout.write(`${formatTable(results)} in ${seconds} s\n`);
  process.exitCode = results.every((r) => r.status === 'pass') ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`run-suite: ${err instanceof RangeError ? err.message : (err.stack ?? err)}\n`);
    process.exitCode = err instanceof RangeError ? 2 : 1;
  });
}
