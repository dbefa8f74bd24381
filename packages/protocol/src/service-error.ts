// Typed errors with stable codes (fastify's createError, trpc's TRPCError). The server throws and
// serialises them; the client rebuilds the same class from the wire code, so `instanceof` and
// `.code` both work on either side.

import { isErrorCode, type ErrorCode } from './error-codes.js';

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  /** NOT_LEADER: the leader's client address, when known. */
  readonly leader?: string;
}

export class ServiceError<Code extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: Code,
    message: string,
    readonly leader?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toWire(): WireError {
    return this.leader === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, leader: this.leader };
  }
}

export class NotLeaderError extends ServiceError<'NOT_LEADER'> {
  constructor(message = 'this member is not the leader', leader?: string) {
    super('NOT_LEADER', message, leader);
  }
}
export class UnavailableError extends ServiceError<'UNAVAILABLE'> {
  constructor(message = 'no leader or no quorum right now') {
    super('UNAVAILABLE', message);
  }
}
export class TimeoutError extends ServiceError<'TIMEOUT'> {
  constructor(message = 'the request timed out') {
    super('TIMEOUT', message);
  }
}
export class InvalidArgumentError extends ServiceError<'INVALID_ARGUMENT'> {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
  }
}
export class UnauthenticatedError extends ServiceError<'UNAUTHENTICATED'> {
  constructor(message = 'a valid token is required') {
    super('UNAUTHENTICATED', message);
  }
}
export class PermissionDeniedError extends ServiceError<'PERMISSION_DENIED'> {
  constructor(message: string) {
    super('PERMISSION_DENIED', message);
  }
}
export class SessionExpiredError extends ServiceError<'SESSION_EXPIRED'> {
  constructor(message = 'the session has expired or was closed') {
    super('SESSION_EXPIRED', message);
  }
}
export class NotHolderError extends ServiceError<'NOT_HOLDER'> {
  constructor(message = 'the session does not hold this lock with this token') {
    super('NOT_HOLDER', message);
  }
}
export class AlreadyHeldError extends ServiceError<'ALREADY_HELD'> {
  constructor(message = 'the session already holds or waits for this lock') {
    super('ALREADY_HELD', message);
  }
}
export class LockHeldError extends ServiceError<'LOCK_HELD'> {
  constructor(message = 'the lock is held by another session') {
    super('LOCK_HELD', message);
  }
}
export class TooLargeError extends ServiceError<'TOO_LARGE'> {
  constructor(message: string) {
    super('TOO_LARGE', message);
  }
}
export class RateLimitedError extends ServiceError<'RATE_LIMITED'> {
  constructor(message: string) {
    super('RATE_LIMITED', message);
  }
}
export class InternalError extends ServiceError<'INTERNAL'> {
  constructor(message = 'internal error') {
    super('INTERNAL', message);
  }
}

const errorClasses: { readonly [Code in ErrorCode]: new (message: string, leader?: string) => ServiceError<Code> } = {
  NOT_LEADER: NotLeaderError,
  UNAVAILABLE: UnavailableError,
  TIMEOUT: TimeoutError,
  INVALID_ARGUMENT: InvalidArgumentError,
  UNAUTHENTICATED: UnauthenticatedError,
  PERMISSION_DENIED: PermissionDeniedError,
  SESSION_EXPIRED: SessionExpiredError,
  NOT_HOLDER: NotHolderError,
  ALREADY_HELD: AlreadyHeldError,
  LOCK_HELD: LockHeldError,
  TOO_LARGE: TooLargeError,
  RATE_LIMITED: RateLimitedError,
  INTERNAL: InternalError,
};

/** Rebuild the typed error from a wire error; an unknown code becomes INTERNAL, never a crash. */
export function serviceErrorFromWire(wire: unknown): ServiceError {
  const record = typeof wire === 'object' && wire !== null ? (wire as Record<string, unknown>) : {};
  const message = typeof record.message === 'string' ? record.message : 'malformed error from server';
  if (!isErrorCode(record.code)) return new InternalError(`${message} (unknown code ${String(record.code)})`);
  const leader = typeof record.leader === 'string' ? record.leader : undefined;
  return new errorClasses[record.code](message, leader);
}

export function isServiceError(value: unknown): value is ServiceError {
  return value instanceof ServiceError;
}
