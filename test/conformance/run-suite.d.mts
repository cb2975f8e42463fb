// Types for run-suite.mjs (plain ESM so it runs without a build; this lets the vitest files
// import it type-checked).

export interface ScenarioResult {
  scenario: string;
  status: 'pass' | 'fail';
  /** Why it failed: the failed checks (`id: message`), a timeout, or the CLI's last words. Empty on a pass. */
  reason: string;
  /** WARNING checks (`id: message`): SHOULDs the server missed; they do not fail a scenario. */
  warnings: string[];
  /** SUCCESS and FAILURE check counts. */
  passed: number;
  failed: number;
  /** Wall time of the scenario's CLI run. */
  ms: number;
}

export interface SuiteOptions {
  /** Scenario names; default: every server scenario `conformance list --server` prints. */
  scenarios?: string[];
  /** Per scenario; the CLI process is killed after it. Default 60 000. */
  timeoutMs?: number;
  /** Scenarios run at once, each in its own process. Default 1. */
  concurrency?: number;
  /** Called as each scenario finishes. */
  onResult?: (result: ScenarioResult) => void;
  /** Keep the temporary results directory (checks.json per scenario). Default false. */
  keepResults?: boolean;
}

export function listServerScenarios(opts?: { timeoutMs?: number }): Promise<string[]>;
export function runScenario(
  url: string,
  scenario: string,
  opts?: { workDir?: string; timeoutMs?: number },
): Promise<ScenarioResult>;
export function runSuite(url: string, opts?: SuiteOptions): Promise<ScenarioResult[]>;
export function formatTable(results: ScenarioResult[]): string;
