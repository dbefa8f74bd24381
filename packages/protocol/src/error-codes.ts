// The stable error codes of the client protocol (SPEC §5). Codes cross the wire unchanged and are
// never renamed; new ones are only ever added. docs/errors.md lists each one, and a test keeps the
// two in step.

export const errorCodes = [
  'NOT_LEADER',
  'UNAVAILABLE',
  'TIMEOUT',
  'INVALID_ARGUMENT',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
  'SESSION_EXPIRED',
  'NOT_HOLDER',
  'ALREADY_HELD',
  'LOCK_HELD',
  'TOO_LARGE',
  'RATE_LIMITED',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof errorCodes)[number];

const errorCodeSet: ReadonlySet<string> = new Set(errorCodes);

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && errorCodeSet.has(value);
}

/** Whether a client may retry the same request (with the same id) and expect it to go through. */
export function isRetriable(code: ErrorCode): boolean {
  return code === 'NOT_LEADER' || code === 'UNAVAILABLE' || code === 'TIMEOUT' || code === 'RATE_LIMITED';
}
