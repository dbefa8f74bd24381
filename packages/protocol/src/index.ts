// @raftlock/protocol: wire messages, codec and error codes shared by server and client.
// The client protocol (SPEC §5) lands with the raftlockd issue; this is the stable error-code set.

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
