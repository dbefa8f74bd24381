// Ready: the batch of work the core hands its driver (etcd-io/raft node.go, thesis §3.8, §10.2.1).
// The driver handles one Ready at a time, in this order:
//   1. install snapshot (if any: it replaces the log and the state machine) and make it durable
//      before anything else of this Ready;
//   2. start persisting hardState and entriesToPersist — after every earlier Ready's write, in order;
//   3. send messagesToSendNow at once: a leader's appends and heartbeats go out while its own write is
//      in flight (thesis §10.2.1; the leader counts itself toward commit only once persisted);
//   4. apply entriesToApply in order (they are committed and already on this member's disk), and
//      serve readStates once applied ≥ their index;
//   5. advance(ready) — the next Ready may be taken now, while the write is still in flight;
//   6. once the write is durable: persisted(ready), then send messagesToSend. A vote or an
//      acknowledgement sent before the state it vouches for is durable lets a restarted member vote
//      twice or forget an entry it acknowledged.
// A synchronous driver may simply persist, call persisted(ready), send both lists, apply, advance.

import type { LogIndex, NodeId, Term } from '../ids.js';
import type { HardState, LogEntry, SnapshotMetadata } from './log-entry.js';
import type { Message } from './messages.js';

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Volatile state the driver reports (metrics, redirects); never persisted. */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly term: Term;
}

/** A ReadIndex request confirmed by a heartbeat quorum: serve it once applied ≥ index. */
export interface ReadState {
  readonly requestContext: string;
  readonly index: LogIndex;
}

export interface Ready {
  /**
   * A snapshot received from the leader to install: make it durable (its staged bytes become this
   * member's snapshot, the log before it is dropped) and restore the state machine from it before
   * applying entriesToApply.
   */
  readonly snapshot: SnapshotMetadata | undefined;
  /** Present when it changed since the last Ready; persist before sending anything. */
  readonly hardState: HardState | undefined;
  readonly entriesToPersist: readonly LogEntry[];
  /** Send only once this Ready (and every earlier one) is durable. */
  readonly messagesToSend: readonly Message[];
  /** May be sent at once, before this Ready's write is durable (a leader's messages of a durable term). */
  readonly messagesToSendNow: readonly Message[];
  readonly entriesToApply: readonly LogEntry[];
  readonly readStates: readonly ReadState[];
  /** Present when role, leader or term changed since the last Ready. */
  readonly softState: SoftState | undefined;
}
