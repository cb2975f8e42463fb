import { WardenError } from '../errors.js';

/**
 * Reads one line from the terminal. With `hidden`, nothing is echoed (the value never shows on
 * screen or in a scrollback); Ctrl-C cancels.
 */
export function promptTTY(question: string, hidden: boolean): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    let line = '';
    const wasRaw = stdin.isRaw;
    // Raw mode (no echo) before the question shows, so nothing typed early is echoed.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(line);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004')
          return done(new WardenError('CANCELLED', 'cancelled; nothing was changed'));
        if (ch === '\u007f' || ch === '\b') {
          line = [...line].slice(0, -1).join('');
          if (!hidden) process.stderr.write('\b \b');
        } else if (ch >= ' ') {
          line += ch;
          if (!hidden) process.stderr.write(ch);
        }
      }
    };
    stdin.on('data', onData);
  });
}
