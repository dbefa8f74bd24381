// Log entries and the hard state: the two things a member must have on disk before it speaks.

import type { LogIndex, NodeId, Term } from '../ids.js';

/**
 * One entry of the replicated log. `noop` is appended by every new leader so that it can commit an
 * entry of its own term, which is what lets it commit (and read) anything at all (Raft paper §5.4.2,
 * §8). `command` carries opaque bytes for the state machine above Raft.
 */
export type LogEntry =
  | { readonly kind: 'noop'; readonly index: LogIndex; readonly term: Term }
  | { readonly kind: 'command'; readonly index: LogIndex; readonly term: Term; readonly data: Uint8Array };

/** Fixed per-entry overhead counted toward byte limits, so empty entries still have a cost. */
export const entryOverheadBytes = 24;

export function entrySizeBytes(entry: LogEntry): number {
  return entry.kind === 'command' ? entry.data.byteLength + entryOverheadBytes : entryOverheadBytes;
}

/**
 * What must survive a crash (Raft paper Figure 2, "Persistent state on all servers"), plus the
 * commit index, which is not required for safety but lets a restarted member apply without waiting
 * to hear from a leader.
 */
export interface HardState {
  readonly term: Term;
  readonly votedFor: NodeId;
  readonly commitIndex: LogIndex;
}

export function hardStatesEqual(left: HardState, right: HardState): boolean {
  return left.term === right.term && left.votedFor === right.votedFor && left.commitIndex === right.commitIndex;
}
