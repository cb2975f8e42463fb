#!/usr/bin/env node
// The mcp-warden command. It turns on Node's compile cache before loading the CLI bundle: reusing
// V8's compiled code saves about a fifth of the start-up of a short command such as `secret get`.
// The cache lives in a 0700 directory of this user's (never a shared /tmp, where another user
// could plant compiled code).
//
// Built-ins come from process.getBuiltinModule, not from import statements: an ES import of
// node:fs evaluates every lazy part of it (fs.promises, the file streams, readline), which costs
// more than the rest of this file. So the version check can come first, too.
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`mcp-warden: needs Node.js 22.12 or newer; this is ${process.version}\n`);
  process.exit(1);
}

const { mkdirSync } = process.getBuiltinModule('node:fs');
const { createRequire, enableCompileCache } = process.getBuiltinModule('node:module');
const { homedir } = process.getBuiltinModule('node:os');
const { join } = process.getBuiltinModule('node:path');

try {
  const cache = process.env.XDG_CACHE_HOME || `${homedir()}/.cache`;
  const dir = join(cache, 'mcp-warden', 'compile-cache');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  enableCompileCache?.(dir);
} catch {
  // No cache (read-only home): the command works the same, a little slower.
}
// CommonJS (see rolldown.config.js), so require()d.
createRequire(import.meta.url)('../dist/bundle/mcp-warden.cjs');
