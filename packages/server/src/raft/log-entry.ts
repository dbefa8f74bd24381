// Log entries and the hard state: the two things a member must have on disk before it speaks.

import type { LogIndex, NodeId, Term } from '../ids.js';
import type { ClusterConfig } from './cluster-config.js';

/**
 * One entry of the replicated log. `noop` is appended by every new leader so that it can commit an
 * entry of its own term, which is what lets it commit (and read) anything at all (Raft paper §5.4.2,
 * §8). `command` carries opaque bytes for the state machine above Raft. `config` is a membership
 * change (thesis §4): it takes effect on a member as soon as it is in its log, committed or not.
 */
export type LogEntry =
  | { readonly kind: 'noop'; readonly index: LogIndex; readonly term: Term }
  | { readonly kind: 'command'; readonly index: LogIndex; readonly term: Term; readonly data: Uint8Array }
  | { readonly kind: 'config'; readonly index: LogIndex; readonly term: Term; readonly config: ClusterConfig };

/** Fixed per-entry overhead counted toward byte limits, so empty entries still have a cost. */
export const entryOverheadBytes = 24;

export function entrySizeBytes(entry: LogEntry): number {
  switch (entry.kind) {
    case 'command':
      return entry.data.byteLength + entryOverheadBytes;
    case 'config':
      // An estimate is enough: it only bounds how much one append or apply batch carries.
      return entryOverheadBytes + entry.config.members.reduce((total, member) => total + member.id.length + member.address.length + 8, 0);
    case 'noop':
      return entryOverheadBytes;
  }
}

/**
 * What a snapshot stands for (Raft paper §7, thesis §5): the state machine after applying every entry
 * up to `index` (whose term is `term`), and the configuration in force at that index. The state
 * machine's bytes travel beside it, never through the core.
 */
export interface SnapshotMetadata {
  readonly index: LogIndex;
  readonly term: Term;
  readonly config: ClusterConfig;
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
