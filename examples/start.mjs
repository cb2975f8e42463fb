// `npm start`: the gateway on the example config, on a fresh machine. The secrets live in a demo
// store inside the repository (.warden-demo/, git-ignored) unless MCP_WARDEN_HOME says otherwise;
// the example server's API key is generated there on first run. Extra arguments go to the
// gateway (`npm start -- --port 9000`).
import { spawnSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'bin', 'mcp-warden.mjs');
const env = { ...process.env, MCP_WARDEN_HOME: process.env.MCP_WARDEN_HOME ?? join(root, '.warden-demo') };
const config = ['--config', join(root, 'examples', 'mcp-warden.yaml')];

const has = spawnSync(process.execPath, [cli, 'secret', 'inspect', 'NOTES_API_KEY', ...config], {
  env,
  cwd: root,
});
if (has.status !== 0) {
  const made = spawnSync(
    process.execPath,
    [cli, 'secret', 'set', 'NOTES_API_KEY', '--provider', 'local', ...config],
    {
      env,
      cwd: root,
      input: `notes_${randomBytes(24).toString('base64url')}`,
      stdio: ['pipe', 'inherit', 'inherit'],
    },
  );
  if (made.status !== 0) process.exit(made.status ?? 1);
  process.stderr.write(`example: stored a generated NOTES_API_KEY in ${env.MCP_WARDEN_HOME}\n`);
}
process.stderr.write(
  'example: point an MCP client at the URL below (tools notes__add_note, notes__list_notes,\n' +
    'notes__key_fingerprint), or curl its /readyz. Ctrl-C stops it.\n',
);
const gateway = spawn(process.execPath, [cli, 'gateway', '--http', ...config, ...process.argv.slice(2)], {
  env,
  cwd: root,
  stdio: 'inherit',
});
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => gateway.kill(sig));
gateway.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
