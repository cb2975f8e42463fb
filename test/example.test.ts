import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listening } from './helpers/gateway.js';
import { tempDir } from './helpers/tmp.js';

/** What `npm start` runs (examples/start.mjs), on an empty store: it must work on a fresh machine. */
describe('npm start: the example gateway', () => {
  it('stores a generated key, starts the gateway, and the example server gets its key as a file', async () => {
    const home = join(tempDir('mcpw-example-'), 'store');
    const child = spawn(process.execPath, ['examples/start.mjs', '--port', '0'], {
      env: { PATH: process.env.PATH, HOME: home, MCP_WARDEN_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { url, stderr } = await listening(child);
    const exited = new Promise((r) => child.on('exit', r));
    try {
      expect(stderr()).toMatch(/stored a generated NOTES_API_KEY/);
      const client = new Client({ name: 'example', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const r = await client.callTool({ name: 'notes__key_fingerprint' });
      expect((r.content as { text: string }[])[0]!.text).toMatch(/^[0-9a-f]{12} \(from a file\)$/);
      await client.callTool({ name: 'notes__add_note', arguments: { text: 'hello' } });
      const listed = await client.callTool({ name: 'notes__list_notes' });
      expect(listed.content).toEqual([{ type: 'text', text: '1. hello' }]);
      await client.close();
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
