// A child process that writes secrets through the BUILT file provider (dist/), for the crash and
// concurrency tests. Run `npm run build` first (`npm test` does).
//
//   node test/helpers/writer.mjs DIR SEED                 sets S0..S4 in turn, forever
//   node test/helpers/writer.mjs DIR SEED --plan=A,B,A    sets exactly that sequence, then exits 0
//   add --wait to print `ready` and start only once a line arrives on stdin (a common start)
//
// Each value is `NAME:SEED:COUNTER`. Before a set it prints `try NAME VALUE`; after the set
// resolves, `ack NAME VALUE VERSION CREATED UPDATED`. Lines go out with a synchronous write(2),
// so a SIGKILL loses none that were printed. Any failure prints `err CODE MESSAGE` on stderr and
// exits 1 (the test values are not secret).
import { Buffer } from 'node:buffer';
import { writeSync } from 'node:fs';
import file from '../../dist/providers/file.js';

const [dir, seed, ...flags] = process.argv.slice(2);
if (!dir || !seed) {
  writeSync(2, 'usage: writer.mjs DIR SEED [--plan=NAME,...] [--wait]\n');
  process.exit(2);
}
const planFlag = flags.find((f) => f.startsWith('--plan='));
const plan = planFlag ? planFlag.slice('--plan='.length).split(',') : undefined;
const wait = flags.includes('--wait');

function out(fd, line) {
  const buf = Buffer.from(line + '\n');
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      if (err.code !== 'EAGAIN') throw err;
    }
  }
}

const provider = file.create({}, { name: 'local', home: dir, env: {}, warn() {} });

async function main() {
  if (wait) {
    out(1, 'ready');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    process.stdin.pause();
  }
  const names = ['S0', 'S1', 'S2', 'S3', 'S4'];
  for (let counter = 0; plan === undefined || counter < plan.length; counter++) {
    const name = plan ? plan[counter] : names[counter % names.length];
    const value = `${name}:${seed}:${counter}`;
    out(1, `try ${name} ${value}`);
    const meta = await provider.set(name, value);
    out(1, `ack ${name} ${value} ${meta.version} ${meta.created} ${meta.updated}`);
  }
}

main().catch((err) => {
  out(2, `err ${err?.code ?? 'ERROR'} ${err?.message ?? String(err)}`);
  process.exit(1);
});
