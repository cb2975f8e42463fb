// The CLI as one ES module, loaded by bin/mcp-warden.mjs. tsc still emits dist/ for type checking and the library; this
// bundle is what `mcp-warden` runs: one file to load instead of ~20, which is most of the
// difference between `secret get` and a bare `node -e 0`. Dependencies stay external and are
// imported lazily, so `secret get` never loads yaml, dotenv or the keychain addon.
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

export default {
  input: 'dist/cli/run.js',
  platform: 'node',
  external: [/^node:/, ...Object.keys(pkg.dependencies ?? {}).map((d) => new RegExp(`^${d}(/|$)`))],
  output: {
    file: 'dist/mcp-warden-main.mjs',
    format: 'esm',
    inlineDynamicImports: true,
  },
};
