// What applying one command answers: the result the leader sends back to the client, and the one
// the dedupe table remembers for a retry of the same request id (SPEC §3.4).
//
// Invariants:
//   results are plain data (msgpack-friendly) and are frozen once made, because the same object is
//   both returned to the caller and kept in the replicated dedupe table
//   an error result carries a stable ErrorCode (SPEC §5) and a message that depends only on the
//   command and the state, never on the member that applied it

import type { ErrorCode } from '@raftlock/protocol';
import type { LockEvent } from './lock-events.js';
import type { LockKind } from './lock-commands.js';

export interface OpenSessionValue {
  readonly sessionId: string;
  readonly ttlMs: number;
  readonly createdIndex: number;
}

export interface CloseSessionValue {
  readonly closed: true;
}

export interface ExpireSessionValue {
  readonly expired: boolean;
}

export interface AcquiredValue {
  readonly state: 'acquired';
  readonly kind: LockKind;
  readonly name: string;
  /** The fencing token: the log index of the entry that granted the lock (SPEC §3.2). */
  readonly token: number;
  readonly sessionId: string;
}

export interface QueuedValue {
  readonly state: 'queued';
  readonly kind: LockKind;
  readonly name: string;
  /** 1-based place in the lock's FIFO queue when the waiter joined it. */
  readonly position: number;
}

export type AcquireValue = AcquiredValue | QueuedValue;

export interface CancelWaitValue {
  readonly cancelled: boolean;
}

export interface ReleaseValue {
  readonly released: true;
}

export interface ForceReleaseValue {
  readonly released: boolean;
  readonly previousSessionId?: string;
}

export interface ProclaimValue {
  readonly proclaimed: true;
}

/** The success value of each command type, for callers that know what they proposed. */
export interface ResultValueByType {
  readonly OpenSession: OpenSessionValue;
  readonly CloseSession: CloseSessionValue;
  readonly ExpireSession: ExpireSessionValue;
  readonly Acquire: AcquireValue;
  readonly CancelWait: CancelWaitValue;
  readonly Release: ReleaseValue;
  readonly ForceRelease: ForceReleaseValue;
  readonly Proclaim: ProclaimValue;
}

export type ResultValue = ResultValueByType[keyof ResultValueByType];

export interface CommandFailure {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

export type CommandResult<Value extends ResultValue = ResultValue> = { readonly ok: true; readonly value: Value } | CommandFailure;

export interface ApplyOutcome {
  /** undefined only for Noop; every other command answers, ExpireSession included. */
  readonly result: CommandResult | undefined;
  /** Watch events caused by this entry, in the order they happened; [] for a deduplicated retry. */
  readonly events: LockEvent[];
}

export function success<Value extends ResultValue>(value: Value): CommandResult<Value> {
  return Object.freeze({ ok: true as const, value: Object.freeze(value) });
}

export function failure(code: ErrorCode, message: string): CommandFailure {
  return Object.freeze({ ok: false as const, code, message });
}

/** A request that reused the id of a different one (the dedupe table tells them apart). */
export function reusedRequestIdFailure(requestId: string): CommandFailure {
  return failure('INVALID_ARGUMENT', `request id ${JSON.stringify(requestId)} was already used by a different request; every request needs its own id (only a retry of the same request may reuse it)`);
}
