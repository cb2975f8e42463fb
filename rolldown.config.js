// The CLI bundle, loaded by bin/mcp-warden.mjs. tsc still emits dist/ for type checking and the
// library; this bundle is what `mcp-warden` runs: an entry chunk (dist/bundle/mcp-warden.cjs)
// with the command table, a `core` chunk, and a chunk per command, required when that command
// runs. Dependencies stay external and are imported lazily, so `secret get` never loads yaml,
// dotenv or the keychain addon.
//
// CommonJS, not ES modules, because of Node's built-ins: an ES import of one evaluates all of its
// lazy parts (`import { readFileSync } from 'node:fs'` loads fs.promises, readline and the file
// streams; node:util loads worker_threads), about 10 ms of a `run` that may take 25 ms more than
// a bare `node -e 0`; require() leaves them lazy.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

// One chunk for what every command that opens the store needs (the default chain: the file
// store, the environment), the command runner of run and serve, and the two commands whose
// start-up is measured (bench/): `run` and `secret get`. Left to itself, rolldown cuts this into
// eight files, and each file costs a command about 0.3 ms to load.
const CORE = [
  'names',
  'paths',
  'config',
  'refs',
  'provider',
  'options',
  'fsutil',
  'store/store',
  'store/open',
  'store/file-key',
  'providers/index',
  'providers/file',
  'providers/env',
  'cli/io',
  'cli/common',
  'delivery/spawn',
  'run/env',
  'run/forms',
  'run/matcher',
  'run/redactor',
  'cli/run-cmd',
  'cli/secret/get',
].map((m) => new URL(`./dist/${m}.js`, import.meta.url).pathname);

export default {
  input: { 'mcp-warden': 'dist/cli/run.js' },
  platform: 'node',
  external: [/^node:/, ...Object.keys(pkg.dependencies ?? {}).map((d) => new RegExp(`^${d}(/|$)`))],
  // The entry exports nothing of its own; the chunks share its errors module through it.
  preserveEntrySignatures: 'allow-extension',
  output: {
    dir: 'dist/bundle',
    format: 'cjs',
    entryFileNames: '[name].cjs',
    chunkFileNames: '[name]-[hash].cjs',
    cleanDir: true,
    codeSplitting: {
      // Only these modules: their dependencies (errors.js) stay in the entry, which --help needs.
      groups: [{ name: 'core', test: (id) => CORE.includes(id), includeDependenciesRecursively: false }],
    },
  },
};
