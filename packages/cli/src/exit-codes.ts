// Exit codes (SPEC §7) and the one-line reason that goes with every failure.
//
//   0 success
//   1 the operation failed (the cluster answered: not the holder, permission denied, not supported…)
//   2 usage error (unknown flag or command, missing argument, malformed value)
//   3 the cluster is unavailable: no member reachable, no leader / no quorum, or no answer within --timeout
//
// `lock run` and `election run` otherwise exit with their command's code, so any number may come out
// of them; the codes here are the CLI's own.

export const exitCodes = { success: 0, failed: 1, usage: 2, unavailable: 3 } as const;
export type ExitCode = (typeof exitCodes)[keyof typeof exitCodes];

/** A failure the CLI reports as one line on stderr, exiting with exitCode. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(oneLine(message));
    this.name = 'CliError';
  }
}

export function usageError(message: string): CliError {
  return new CliError(exitCodes.usage, message);
}

/** SDK error codes (SPEC §5) that mean "the cluster could not be reached or could not answer". */
const unavailableCodes: ReadonlySet<string> = new Set(['UNAVAILABLE', 'NOT_LEADER', 'TIMEOUT']);

/** The service error code of an SDK error, without loading the SDK to ask instanceof. */
export function serviceCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^[A-Z_]+$/.test(code) ? code : undefined;
}

export function exitCodeFor(error: unknown): number {
  if (error instanceof CliError) return error.exitCode;
  const code = serviceCodeOf(error);
  if (code !== undefined && unavailableCodes.has(code)) return exitCodes.unavailable;
  return exitCodes.failed;
}

/** The line printed after "raftlock: " for an error. */
export function describeError(error: unknown): string {
  if (error instanceof CliError) return error.message;
  const code = serviceCodeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && unavailableCodes.has(code)) return oneLine(`cluster unavailable: ${message}`);
  if (code === 'PERMISSION_DENIED' || code === 'UNAUTHENTICATED') return oneLine(`${message} (${code}; check --token)`);
  return oneLine(code === undefined ? message : `${message} (${code})`);
}

/** Several lines (yargs, stack-less causes) folded into one. */
export function oneLine(message: string): string {
  return message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .join(' ');
}
