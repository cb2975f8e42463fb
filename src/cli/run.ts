import { main } from './main.js';
import { promptTTY } from './prompt.js';

/** The process entry point: real stdio, and the only `process.exit` in the code base. */
async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

// No top-level await: the CLI bundle is CommonJS (see rolldown.config.js), and main() never rejects.
void main(process.argv.slice(2), {
  env: process.env,
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  // Asked only by the commands that read stdin: node:tty (and node:net behind it) and the stdin
  // stream cost more than `secret get` itself.
  get stdinIsTTY() {
    return process.getBuiltinModule('node:tty').isatty(0);
  },
  readStdin,
  prompt: promptTTY,
}).then((code) => {
  // Not process.exit(): stdout drains first (a pipe to `head` may close early).
  process.exitCode = code;
});
