import { expect } from 'vitest';
import { isWardenError } from '../../src/errors.js';
import type { ServerConfig } from '../../src/servers/schema.js';

/** A local-process server config as the schema would give it (for gateway unit tests). */
export function processServer(
  name: string,
  command: string,
  args: string[],
  env: Record<string, string> = {},
): ServerConfig {
  return {
    name,
    kind: 'process',
    command,
    args,
    env,
    headers: {},
    network: false,
    disabled: false,
    eager: false,
    shared: false,
    needs: [],
  };
}

/**
 * That `parse` refuses with CONFIG_INVALID, its message starting with the config path `where`
 * (and, when given, never holding `secret`); answers the message.
 */
export async function expectConfigError(
  parse: () => unknown,
  where: string,
  secret?: string,
): Promise<string> {
  let err: unknown;
  try {
    await parse();
  } catch (e) {
    err = e;
  }
  expect(isWardenError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID at ${where}`).toBe(true);
  const message = (err as Error).message;
  expect(message.startsWith(`${where}:`), message).toBe(true);
  if (secret !== undefined) expect(message).not.toContain(secret);
  return message;
}
