#!/usr/bin/env node
// raftlock: the binary. Runs the CLI on process.argv and exits with its code.

import { run } from './index.js';

// `raftlock watch | head -1`: a closed pipe ends the run quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

// --timeout counts from the process's start (performance.now() is 0 there), so exit 3 comes within it.
run(process.argv.slice(2), undefined, { startedAtMs: 0 }).then(
  (exitCode) => process.exit(exitCode),
  (error: unknown) => {
    process.stderr.write(`raftlock: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
