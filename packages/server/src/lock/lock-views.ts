// Read-only views of the replicated state, returned by the state machine's queries. They are
// fresh plain objects on every call, so a caller can keep or send them without aliasing the state.

import type { LockKind } from './lock-commands.js';

export interface HolderView {
  readonly sessionId: string;
  readonly clientName: string;
  readonly token: number;
  /** Index of the granting entry; equal to `token`, kept for readers that think in indexes. */
  readonly sinceIndex: number;
  /** The leader's wall time at (or just before) the granting entry: display only, never decisions. */
  readonly sinceTimeMs: number;
  readonly metadata: string;
  readonly value: string;
}

export interface WaiterView {
  readonly sessionId: string;
  readonly clientName: string;
  readonly requestId: string;
  readonly sinceIndex: number;
}

export interface LockInfo {
  readonly kind: LockKind;
  readonly name: string;
  /** Always present today: a lock with no holder and no waiters does not exist. */
  readonly holder?: HolderView;
  /** FIFO order: the first waiter is granted next. */
  readonly waiters: WaiterView[];
}

export interface SessionInfo {
  readonly sessionId: string;
  readonly ttlMs: number;
  readonly clientName: string;
  readonly createdIndex: number;
  readonly createdTimeMs: number;
  readonly heldLocks: number;
  readonly waits: number;
}

export interface LockStats {
  readonly sessions: number;
  /** Locks of kind 'lock' that have a holder. */
  readonly locksHeld: number;
  /** Waiters across all locks and elections. */
  readonly waiters: number;
  /** Elections that have a leader. */
  readonly elections: number;
}
