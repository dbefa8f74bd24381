// Ready: the batch of work the core hands its driver. The driver must handle it in this order
// (etcd-io/raft node.go, thesis §3.8), then call advance(ready):
//   1. persist snapshot (if any: it replaces the log and the state machine), then hardState and
//      entriesToPersist (fsync) — a vote or an acknowledgement sent before its
//      state is durable lets a restarted member vote twice or forget an entry it acknowledged;
//   2. send messagesToSend;
//   3. apply entriesToApply in order, and serve readStates once applied ≥ their index.

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
  readonly messagesToSend: readonly Message[];
  readonly entriesToApply: readonly LogEntry[];
  readonly readStates: readonly ReadState[];
  /** Present when role, leader or term changed since the last Ready. */
  readonly softState: SoftState | undefined;
}
