// What every command handler gets: the global options (SPEC §7), the Output for them, and the run's
// io. Handlers never throw into yargs: `action()` records the outcome here, so that yargs' fail
// handler only ever sees usage errors (exit 2) and never a failed operation.

import type { Arguments } from 'yargs';
import { parseDuration } from './duration.js';
import { usageError } from './exit-codes.js';
import { Output, type CliIo } from './output.js';

export interface GlobalOptions {
  readonly endpoints: readonly string[];
  readonly token: string | undefined;
  readonly json: boolean;
  /** Connect, and finish a one-shot command, within this. */
  readonly timeoutMs: number;
  /** performance.now() by which a one-shot command must have finished: the run's start + timeoutMs. */
  readonly deadlineMs: number;
}

export interface CommandRun {
  readonly globals: GlobalOptions;
  readonly output: Output;
  readonly io: CliIo;
}

export class CliContext {
  /** The exit code of the command that ran, or the error it failed with. */
  outcome: { readonly exitCode: number } | { readonly error: unknown } | undefined;

  constructor(
    readonly io: CliIo,
    /** performance.now() when the run started; --timeout counts from here. */
    readonly startedAtMs: number,
  ) {}
}

export const defaultEndpoints = '127.0.0.1:7070';
export const defaultTimeout = '5s';

export function globalOptionsOf(argv: Arguments, startedAtMs: number): GlobalOptions {
  const endpoints = String(argv['endpoints'] ?? defaultEndpoints)
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint.length > 0);
  if (endpoints.length === 0) throw usageError('--endpoints: give at least one host:port');
  const token = argv['token'] === undefined || argv['token'] === '' ? undefined : String(argv['token']);
  // yargs has already coerced --timeout (durationOption); a string here is the default.
  const timeout = argv['timeout'] ?? defaultTimeout;
  const timeoutMs = typeof timeout === 'number' ? timeout : parseDuration(String(timeout), '--timeout');
  if (timeoutMs <= 0) throw usageError('--timeout must be more than 0');
  return { endpoints, token, json: argv['json'] === true, timeoutMs, deadlineMs: startedAtMs + timeoutMs };
}

/** Wrap a command handler: its exit code or its error becomes the run's outcome. */
export function action<Args>(context: CliContext, handler: (argv: Args & Arguments, run: CommandRun) => Promise<number | void>): (argv: Arguments) => Promise<void> {
  return async (argv) => {
    try {
      const globals = globalOptionsOf(argv, context.startedAtMs);
      const run: CommandRun = { globals, output: new Output(context.io, { json: globals.json }), io: context.io };
      const exitCode = await handler(argv as Args & Arguments, run);
      context.outcome = { exitCode: exitCode ?? 0 };
    } catch (error) {
      context.outcome = { error };
    }
  };
}

/** A yargs coerce function for a duration flag: "5s" → 5000, or a usage error naming the flag. */
export function durationOption(flag: string): (value: unknown) => number | undefined {
  return (value) => (value === undefined ? undefined : parseDuration(String(value), flag));
}
