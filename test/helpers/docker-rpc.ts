import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { afterAll } from 'vitest';

export interface RpcAnswer {
  jsonrpc: '2.0';
  id: number;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/**
 * A minimal newline-delimited JSON-RPC client over a pair of streams (a container's attached
 * stdio): `call` sends a request and resolves with the answer carrying its id.
 */
export function rpcClient(stdin: Writable, stdout: Readable) {
  let nextId = 1;
  const waiting = new Map<number, (a: RpcAnswer) => void>();
  const lines: string[] = [];
  createInterface({ input: stdout, crlfDelay: Infinity }).on('line', (line) => {
    lines.push(line); // a line that is not JSON-RPC stays here for the test to find
    let msg: RpcAnswer;
    try {
      msg = JSON.parse(line) as RpcAnswer;
    } catch {
      return;
    }
    waiting.get(msg.id)?.(msg);
    waiting.delete(msg.id);
  });
  return {
    /** Every line read from stdout so far. */
    lines,
    notify(method: string, params?: unknown): void {
      stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method, params })}\n`);
    },
    call(method: string, params?: unknown, timeoutMs = 15_000): Promise<RpcAnswer> {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`no answer to ${method} (id ${id}) within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, (a) => {
          clearTimeout(timer);
          resolve(a);
        });
        stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
      });
    },
  };
}

/**
 * A private 0700 directory on a tmpfs ($XDG_RUNTIME_DIR, else /dev/shm), removed after the file's
 * tests: where a secret file waits to be bind-mounted into a container, never touching a disk.
 */
export function privateTmpfsDir(prefix = 'mcpw-secrets-'): string {
  for (const base of [process.env.XDG_RUNTIME_DIR, '/dev/shm']) {
    if (!base) continue;
    const type = spawnSync('stat', ['-f', '-c', '%T', base], { encoding: 'utf8', timeout: 5_000 });
    if (type.status !== 0 || type.stdout.trim() !== 'tmpfs') continue;
    const dir = mkdtempSync(join(base, prefix));
    chmodSync(dir, 0o700);
    if ((statSync(dir).mode & 0o777) !== 0o700) throw new Error(`${dir} is not 0700`);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }
  throw new Error('no tmpfs found for secret files: neither $XDG_RUNTIME_DIR nor /dev/shm is a tmpfs');
}
