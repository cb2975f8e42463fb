// The example MCP server `npm start` puts behind the gateway: a notebook that needs an API key.
// The key arrives as a file (NOTES_API_KEY_FILE, a 0400 file on tmpfs that mcp-warden writes and
// removes); the server shows only a fingerprint of it, never the key. Notes live in memory, one
// notebook per process: every client identity of the gateway gets its own.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const keyFile = process.env.NOTES_API_KEY_FILE;
const key = keyFile ? readFileSync(keyFile, 'utf8') : process.env.NOTES_API_KEY;
if (!key) {
  process.stderr.write('notes: NOTES_API_KEY_FILE (or NOTES_API_KEY) is not set\n');
  process.exit(1);
}
const fingerprint = createHash('sha256').update(key).digest('hex').slice(0, 12);
const notes = [];
const text = (t) => ({ content: [{ type: 'text', text: t }] });

const server = new McpServer({ name: 'notes', version: '1.0.0' });
server.registerTool(
  'add_note',
  { description: 'Adds a note', inputSchema: { text: z.string() }, annotations: { destructiveHint: false } },
  async ({ text: note }) => {
    notes.push(note);
    return text(`note ${notes.length} saved`);
  },
);
server.registerTool(
  'list_notes',
  { description: 'Lists the notes', annotations: { readOnlyHint: true } },
  async () => text(notes.map((n, i) => `${i + 1}. ${n}`).join('\n') || '(no notes)'),
);
server.registerTool(
  'key_fingerprint',
  {
    description: 'The SHA-256 prefix of the API key this server was given',
    annotations: { readOnlyHint: true },
  },
  async () => text(`${fingerprint} (from ${keyFile ? 'a file' : 'the environment'})`),
);
server.registerResource('readme', 'notes://readme', { mimeType: 'text/plain' }, async (uri) => ({
  contents: [{ uri: uri.href, text: 'A notebook behind mcp-warden.' }],
}));
await server.connect(new StdioServerTransport());
