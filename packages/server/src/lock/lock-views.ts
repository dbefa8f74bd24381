// Read-only views of the replicated state, returned by the state machine's queries. They are
// fresh plain objects on every call, so a caller can keep or send them without aliasing the state.

import type { HolderInfo, SessionInfo as ProtocolSessionInfo } from '@raftlock/protocol';
import type { LockKind } from './lock-commands.js';

/**
 * The holder as clients see it (the protocol's HolderInfo): `token` is the index of the granting
 * entry, `sinceTimeMs` the leader's wall time at (or just before) it — display only, never decisions.
 */
export type HolderView = HolderInfo;

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

/** A session as clients see it (the protocol's SessionInfo). */
export type SessionInfo = ProtocolSessionInfo;

export interface LockStats {
  readonly sessions: number;
  /** Locks of kind 'lock' that have a holder. */
  readonly locksHeld: number;
  /** Waiters across all locks and elections. */
  readonly waiters: number;
  /** Elections that have a leader. */
  readonly elections: number;
}
