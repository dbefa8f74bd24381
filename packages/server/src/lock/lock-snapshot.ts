// LockSnapshot: the whole replicated lock state as one plain object (msgpack-friendly), written
// by LockStateMachine.serialize() and read by LockStateMachine.restore().
//
// Invariants:
//   plain data only: strings, numbers, booleans, arrays and plain objects
//   every order that decides a later outcome is kept explicitly: sessions in creation order, each
//   session's held locks and waits in the order they were taken, waiters in FIFO order, dedupe
//   entries oldest first; so a restored member applies the next entries exactly like the others
//   `format` changes whenever the shape does; restore refuses formats it does not know

import type { LockKind } from './lock-commands.js';
import type { DedupeEntry } from './dedupe-table.js';

export const lockSnapshotFormat = 1;

export interface LockReference {
  readonly kind: LockKind;
  readonly name: string;
}

export interface SessionSnapshot {
  readonly sessionId: string;
  readonly ttlMs: number;
  readonly clientName: string;
  readonly createdIndex: number;
  readonly createdTimeMs: number;
  /** In grant order: the order a close or expiry releases them in. */
  readonly held: readonly LockReference[];
  /** In queuing order: the order a close or expiry removes them in. */
  readonly waits: readonly LockReference[];
}

export interface LockHolderSnapshot {
  readonly sessionId: string;
  readonly token: number;
  readonly sinceTimeMs: number;
  readonly metadata: string;
  readonly value: string;
}

export interface LockWaiterSnapshot {
  readonly sessionId: string;
  readonly requestId: string;
  readonly sinceIndex: number;
  readonly metadata: string;
  readonly value: string;
}

export interface LockRecordSnapshot {
  readonly kind: LockKind;
  readonly name: string;
  readonly holder: LockHolderSnapshot;
  readonly waiters: readonly LockWaiterSnapshot[];
}

export interface LockSnapshot {
  readonly format: typeof lockSnapshotFormat;
  readonly appliedIndex: number;
  /** The latest leader wall time seen in the log (display only). */
  readonly leaderTimeMs: number;
  readonly sessions: readonly SessionSnapshot[];
  /** Locks then elections, each in name order. */
  readonly locks: readonly LockRecordSnapshot[];
  readonly dedupe: readonly DedupeEntry[];
}
