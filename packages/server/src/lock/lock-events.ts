// Watch events: what changed in the lock space, one record per change, in log order (SPEC §4
// "Watches"). The server fans them out to watchers of a prefix and uses the request id on waiter
// events to complete the client request that is waiting for that outcome.
//
// Invariants:
//   events of one entry carry that entry's index; across entries indexes never decrease
//   'acquired' always carries the grant's token, which equals its index
//   a waiter's outcome ('acquired' after queuing, 'cancelled', 'expired' of a wait) carries the
//   waiter's request id; the final result for that id is also in the dedupe table

import type { LockKind } from './lock-commands.js';

export type LockEventType = 'acquired' | 'released' | 'expired' | 'queued' | 'cancelled' | 'value';

export interface LockEvent {
  readonly index: number;
  /**
   * acquired: a session now holds the lock (granted at once or promoted from the queue)
   * released: the holder released it (Release, CloseSession or admin ForceRelease)
   * expired: the holder or a waiter lost it because its session expired (ExpireSession)
   * queued: a session joined the lock's wait queue
   * cancelled: a waiter left the queue (CancelWait, or its session was closed)
   * value: an election's value, sent when an election gets a new leader and on every proclaim
   */
  readonly type: LockEventType;
  readonly kind: LockKind;
  readonly name: string;
  readonly sessionId: string;
  /** The holder's fencing token (acquired, released/expired of a holder, value). */
  readonly token?: number;
  /** The waiter's request id (acquired, queued, cancelled, expired of a wait). */
  readonly requestId?: string;
  /** Elections: the holder's or candidate's value. */
  readonly value?: string;
  /** Locks: the holder's or waiter's owner metadata (acquired, queued). */
  readonly metadata?: string;
}
