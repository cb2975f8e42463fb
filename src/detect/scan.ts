import { promises as fsp } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseClientJson, serversOf, type ClientServer } from '../clients.js';
import { readUserFile } from '../fsutil.js';
import { dotenvParse } from '../store/dotenv-edit.js';
import { detect, detectArgs, urlPassword, type Finding } from './secrets.js';

/** A plaintext secret found in a file: where, why, and a masked hint, never the value. */
export interface ScanFinding extends Finding {
  file: string;
  /** `mcpServers.github.env.GITHUB_TOKEN`, or `line 3: API_KEY` in a .env file. */
  where: string;
}

export interface FileNote {
  file: string;
  note: string;
}

export interface ScanResult {
  findings: ScanFinding[];
  notes: FileNote[];
}

/** Secrets in the servers of a client config: env values, headers, arguments and URLs. */
export function scanServers(file: string, key: string, servers: Record<string, ClientServer>): ScanFinding[] {
  const out: ScanFinding[] = [];
  for (const [name, s] of Object.entries(servers)) {
    const at = `${key}.${name}`;
    for (const [k, v] of Object.entries(s.env ?? {})) {
      const f = typeof v === 'string' ? detect(k, v) : undefined;
      if (f) out.push({ file, where: `${at}.env.${k}`, ...f });
    }
    for (const [k, v] of Object.entries(s.headers ?? {})) {
      const f = typeof v === 'string' ? detect(k, v) : undefined;
      if (f) out.push({ file, where: `${at}.headers.${k}`, ...f });
    }
    if (Array.isArray(s.args)) {
      for (const f of detectArgs(s.args.filter((a): a is string => typeof a === 'string'))) {
        out.push({
          file,
          where: `${at}.args[${f.index}]`,
          reason: f.reason,
          masked: f.masked,
          ...(f.shape && { shape: f.shape }),
        });
      }
    }
    if (typeof s.url === 'string') {
      try {
        const u = new URL(s.url);
        const pw = urlPassword(s.url);
        if (pw) out.push({ file, where: `${at}.url`, ...pw });
        for (const [p, v] of u.searchParams) {
          const f = detect(p, v);
          if (f) out.push({ file, where: `${at}.url?${p}`, ...f });
        }
      } catch {
        // not a URL: nothing to look at
      }
    }
  }
  return out;
}

function lineOf(text: string, key: string): number {
  const lines = text.split(/\r?\n/);
  let last = 0;
  lines.forEach((l, i) => {
    if (new RegExp(`^\\s*(?:export\\s+)?${key.replace(/[.-]/g, '\\$&')}\\s*[=:]`).test(l)) last = i + 1;
  });
  return last;
}

/** Whether git tracks the file (a secret committed is a secret published). */
async function gitTracked(file: string): Promise<boolean> {
  const { execFileSync } = await import('node:child_process');
  try {
    execFileSync('git', ['ls-files', '--error-unmatch', basename(file)], {
      cwd: dirname(file),
      stdio: 'ignore',
      timeout: 5000,
    });
    return true;
  } catch {
    return false;
  }
}

export async function scanFile(file: string): Promise<ScanResult> {
  const text = (await readUserFile(file)).toString('utf8');
  const mode = (await fsp.stat(file)).mode;
  const findings: ScanFinding[] = [];
  const isJson = /\.json$/i.test(file) || /^\s*\{/.test(text);
  if (isJson) {
    const doc = parseClientJson(file, text);
    const found = serversOf(doc);
    if (found) findings.push(...scanServers(file, found.key, found.servers));
  } else {
    for (const [k, v] of Object.entries(dotenvParse(text))) {
      const f = detect(k, v);
      if (f) findings.push({ file, where: `line ${lineOf(text, k)}: ${k}`, ...f });
    }
  }
  const notes: FileNote[] = [];
  if (findings.length > 0) {
    if (process.platform !== 'win32' && mode & 0o004)
      notes.push({ file, note: 'readable by every user on this machine' });
    else if (process.platform !== 'win32' && mode & 0o040)
      notes.push({ file, note: 'readable by its group' });
    if (await gitTracked(file))
      notes.push({ file, note: 'tracked by git: the secrets are in the repository history' });
  }
  return { findings, notes };
}
