// Signals the CLI traps while it waits or supervises a command, and the shell's exit-code
// convention for a process that a signal ended (128 + the signal's number).

import { constants } from 'node:os';

/** Ctrl-C, `kill`, and a closed terminal: each means "stop, cleanly". */
export const stopSignals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** Call handler on each stop signal until the returned function is called. */
export function trapSignals(handler: (signal: NodeJS.Signals) => void): () => void {
  const listeners = stopSignals.map((signal) => {
    const listener = () => handler(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
