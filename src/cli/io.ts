import { WardenError } from '../errors.js';

/** What a command needs from its surroundings; tests and the entry point supply it. */
export interface Cli {
  env: NodeJS.ProcessEnv;
  stdout(text: string): void;
  /** Warnings and progress; never a value. */
  stderr(text: string): void;
  stdinIsTTY: boolean;
  readStdin(): Promise<Buffer>;
  /** A line typed on the terminal; `hidden` echoes nothing. */
  prompt(question: string, hidden: boolean): Promise<string>;
}

export function usage(message: string): WardenError {
  return new WardenError('USAGE', message);
}

/** Colour only on a terminal and never with NO_COLOR set (https://no-color.org). */
export function paint(cli: Cli, code: string, text: string): string {
  if (cli.env.NO_COLOR !== undefined && cli.env.NO_COLOR !== '') return text;
  if (!process.stdout.isTTY) return text;
  return `\x1b[${code}m${text}\x1b[0m`;
}

/** A plain text table with a header row and two spaces between columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
