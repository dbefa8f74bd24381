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
  (exitCode) => exitAfterFlush(exitCode),
  (error: unknown) => {
    process.stderr.write(`raftlock: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    exitAfterFlush(1);
  },
);

/**
 * Exit once stdout and stderr have taken everything written to them. A pipe holds 64 KiB: the rest
 * of a larger `locks --json` is still queued in the process when the command returns, and an
 * immediate process.exit() would cut the document there. (The run may leave handles open, so it
 * still ends with process.exit.)
 */
function exitAfterFlush(exitCode: number): void {
  let pending = 2;
  const flushed = () => {
    pending -= 1;
    if (pending === 0) process.exit(exitCode);
  };
  // A write's callback runs once it and every write before it are handed to the OS (or failed).
  process.stdout.write('', flushed);
  process.stderr.write('', flushed);
}
