// Preloaded with `node --import ./bench/trace-loads.mjs ...`: records the URL of every module
// the process loads (ESM import, dynamic import() and require alike, via the synchronous
// module.registerHooks of Node >= 22.15) and, at exit, writes them one per line to the file
// named by $TRACE_LOADS_OUT. The hook only observes; it never changes what is loaded.
import { writeFileSync } from 'node:fs';
import { registerHooks } from 'node:module';

const loaded = new Set();
registerHooks({
  load(url, context, nextLoad) {
    loaded.add(url);
    return nextLoad(url, context);
  },
});
process.on('exit', () => {
  if (process.env.TRACE_LOADS_OUT) writeFileSync(process.env.TRACE_LOADS_OUT, [...loaded].join('\n') + '\n');
});
