import { WardenError } from '../errors.js';
import type { Cli } from './io.js';

export function run(_args: string[], _cli: Cli): Promise<number> {
  return Promise.reject(new WardenError('USAGE', 'audit: not built yet'));
}
