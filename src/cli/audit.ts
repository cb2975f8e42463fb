import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import { findConfig, loadConfig } from '../config.js';
import { WardenError, errnoCode } from '../errors.js';
import { parseAudit } from '../gateway/middleware/audit/config.js';
import { readAuditKey } from '../gateway/middleware/audit/key.js';
import { readLastLines } from '../gateway/middleware/audit/read.js';
import { describeReport, verifyAudit } from '../gateway/middleware/audit/verify.js';
import { dataHome } from '../paths.js';
import { parse } from './common.js';
import { json, usage, type Cli } from './io.js';

const HELP = `Usage: mcp-warden audit verify [FILE...] [--key-file F] [--partial] [--json]
       mcp-warden audit tail [FILE] [-n N] [--follow] [--json]

The gateway's audit log: one JSON line per event, each chained to the one before by an HMAC.

verify   checks every line: that it is an audit line, that its hash is the HMAC of its text under
         the key (else it was edited, or forged without the key), and that its prev and seq follow
         the line before (else lines were removed, inserted or moved). Prints
         "ok: N lines, chain intact (first seq X, last seq Y)" and exits 0, or names the first
         broken line and exits 1. Give a rotated log's files oldest first:
           mcp-warden audit verify audit.log.2 audit.log.1 audit.log
         --partial accepts a first file that starts mid-chain (its predecessor is gone).
         Cutting lines off the end leaves an intact chain: compare the last seq with what your
         log collector last received.
tail     the last N lines (default 10), one line per event: time, event, client, tool (or
         prompt, resource, server, method), outcome, duration and reason. --json prints the
         lines as they are in the file. --follow keeps printing new lines, across rotation,
         until interrupted.

FILE defaults to the config's gateway.audit.file (relative to the data directory), else
audit.log in the data directory ($MCP_WARDEN_HOME, else $XDG_DATA_HOME/mcp-warden, else
~/.local/share/mcp-warden). The key defaults to gateway.audit.keyFile, else audit.key there.
`;

interface Values {
  'key-file'?: string;
  partial?: boolean;
  json?: boolean;
  lines?: string;
  follow?: boolean;
}

export async function run(args: string[], cli: Cli, signal?: AbortSignal): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '-h' || sub === '--help') {
    cli.stdout(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'verify' && sub !== 'tail') throw usage(`unknown command "audit ${sub}" (known: verify, tail)`);
  const p = parse<Values>(
    cli,
    rest,
    sub === 'verify'
      ? { 'key-file': { type: 'string' }, partial: { type: 'boolean' }, json: { type: 'boolean' } }
      : { lines: { type: 'string', short: 'n' }, follow: { type: 'boolean' }, json: { type: 'boolean' } },
    HELP,
  );
  if (!p) return 0;
  const where = await defaults(cli, p.values.config);
  if (sub === 'verify') {
    const files = p.positionals.length > 0 ? p.positionals : [where.file];
    for (const file of files)
      await fsp.access(file).catch((err: unknown) => {
        throw new WardenError(
          'AUDIT_IO',
          errnoCode(err) === 'ENOENT'
            ? `no audit log at ${file}; pass FILE, or set gateway.audit.file`
            : `cannot read the audit log ${file} (${errnoCode(err) ?? String(err)})`,
        );
      });
    const key = await readAuditKey(p.values['key-file'] ?? where.keyFile);
    const report = await verifyAudit(files, key, { partial: p.values.partial === true });
    cli.stdout(p.values.json ? json(report) : `${describeReport(report)}\n`);
    return report.ok ? 0 : 1;
  }
  if (p.positionals.length > 1) throw usage('audit tail takes one FILE; see --help');
  const file = p.positionals[0] ?? where.file;
  const n = p.values.lines === undefined ? 10 : Number(p.values.lines);
  if (!Number.isSafeInteger(n) || n < 0) throw usage('-n takes a whole number of lines');
  const show = (line: string) => cli.stdout(`${p.values.json ? safe(line) : pretty(line)}\n`);
  const { lines, size } = await readLastLines(file, n).catch((err: unknown) => {
    throw new WardenError('AUDIT_IO', `cannot read the audit log ${file} (${errnoCode(err) ?? String(err)})`);
  });
  if (size === 0 && !p.values.follow) {
    await fsp.stat(file).catch(() => {
      throw new WardenError('AUDIT_IO', `no audit log at ${file}; pass FILE, or set gateway.audit.file`);
    });
  }
  for (const line of lines) show(line);
  if (p.values.follow) {
    // Until interrupted; a caller (a test) may pass its own signal instead.
    const own = new AbortController();
    const stop = () => own.abort();
    if (!signal) {
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    }
    try {
      await follow(file, size, show, signal ?? own.signal);
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  }
  return 0;
}

/** The log and key paths from the config's gateway.audit, else the data directory's defaults. */
async function defaults(cli: Cli, config: string | undefined): Promise<{ file: string; keyFile: string }> {
  const home = dataHome(cli.env);
  const path = findConfig(config, cli.env);
  if (path !== undefined) {
    const { doc } = await loadConfig(path);
    const gateway = doc.gateway as Record<string, unknown> | undefined;
    if (gateway && typeof gateway === 'object' && gateway.audit !== undefined && gateway.audit !== null)
      return parseAudit(gateway.audit, home);
  }
  return { file: join(home, 'audit.log'), keyFile: join(home, 'audit.key') };
}

/**
 * Text from the log made safe for a terminal: control characters (ANSI escapes), line and
 * paragraph separators, bidi and zero-width characters as \uXXXX. The writer escapes them already;
 * this also holds for a file someone edited.
 */
function safe(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function pretty(line: string): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(line) as Record<string, unknown>;
    if (typeof r !== 'object' || r === null) throw new Error('not an object');
  } catch {
    return `? ${safe(line)}`;
  }
  const s = (v: unknown) => safe(typeof v === 'string' ? v : JSON.stringify(v));
  const target = r.tool ?? r.prompt ?? r.uri ?? r.server ?? r.method;
  const cells = [r.ts, r.event, r.client_id ?? '-', target ?? '-', r.outcome ?? '-'].map(s);
  if (typeof r.duration_ms === 'number') cells.push(`${r.duration_ms}ms`);
  if (r.reason !== undefined) cells.push(`(${s(r.reason)})`);
  if (r.event === 'audit_dropped') cells.push(`count=${s(r.count)}`);
  return cells.join('  ');
}

/**
 * Prints lines appended to `file` after byte `from`, polling, until `signal` aborts. A file
 * moved away (logrotate) is read to its end, then the new file from its start; a file cut
 * shorter (copytruncate) is read again from its start.
 */
export async function follow(
  file: string,
  from: number,
  show: (line: string) => void,
  signal: AbortSignal,
  pollMs = 200,
): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  let ino = -1;
  let pos = from;
  let rest = '';
  let decoder = new StringDecoder('utf8');
  const buf = Buffer.alloc(64 * 1024);
  const readToEnd = async () => {
    if (!fh) return;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return;
      pos += bytesRead;
      const parts = (rest + decoder.write(buf.subarray(0, bytesRead))).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) show(line);
    }
  };
  try {
    while (!signal.aborted) {
      const st = await fsp.stat(file).catch(() => undefined);
      if (st && st.ino !== ino) {
        await readToEnd();
        await fh?.close();
        fh = await fsp.open(file, 'r').catch(() => undefined);
        if (fh && ino !== -1) {
          pos = 0;
          rest = '';
          decoder = new StringDecoder('utf8');
        }
        ino = fh ? st.ino : -1;
      } else if (st && st.size < pos) {
        pos = 0;
        rest = '';
        decoder = new StringDecoder('utf8');
      }
      await readToEnd();
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    await fh?.close();
  }
}
