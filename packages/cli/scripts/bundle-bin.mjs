// Builds the `raftlock` binary, dist/main.js, as one ES module (esbuild), after tsc has built the
// library (dist/index.js and its types) and checked the types.
//
// Why a bundle: startup (issue 5 wants `raftlock --help` and `raftlock status` under 300 ms). On the
// reference machine Node itself takes ~100 ms; resolving and compiling the ~90 modules of yargs, ws,
// msgpackr and the SDK one file at a time cost another ~40 ms (--help) to ~90 ms (status), and
// yargs' `string-width` ~75 ms more (see src/string-width.ts, which replaces it here). Commands still
// load the SDK lazily: esbuild keeps each dynamic import() as a deferred module in the bundle.
//
// Node's own modules stay external; `require` is provided for the CommonJS code inside (ws).

import { chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const packageRoot = fileURLToPath(new URL('..', import.meta.url));
const outfile = `${packageRoot}dist/main.js`;

await build({
  entryPoints: [`${packageRoot}src/main.ts`],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  alias: { 'string-width': `${packageRoot}src/string-width.ts` },
  banner: { js: "import { createRequire as __raftlockCreateRequire } from 'node:module'; const require = __raftlockCreateRequire(import.meta.url);" },
});
await chmod(outfile, 0o755);
