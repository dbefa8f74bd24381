// The messages members exchange. One discriminated union, dispatched by an exhaustive switch in
// RaftNode.step, so a new message type fails to compile until every role handles it.

import type { LogIndex, NodeId, Term } from '../ids.js';
import type { LogEntry, SnapshotMetadata } from './log-entry.js';

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term, except a PreVote request, which carries the term it would campaign in. */
  readonly term: Term;
}

/** Raft paper §5.2; with preVote set it is the thesis §9.6 PreVote probe, which changes no state. */
export interface RequestVote extends Envelope {
  readonly type: 'RequestVote';
  readonly preVote: boolean;
  /** Set when campaigning on TimeoutNow: voters skip their leader-lease check (thesis §3.10). */
  readonly leadershipTransfer: boolean;
  readonly lastLogIndex: LogIndex;
  readonly lastLogTerm: Term;
}

export interface RequestVoteResponse extends Envelope {
  readonly type: 'RequestVoteResponse';
  readonly preVote: boolean;
  readonly voteGranted: boolean;
}

/** Raft paper §5.3. */
export interface AppendEntries extends Envelope {
  readonly type: 'AppendEntries';
  readonly prevLogIndex: LogIndex;
  readonly prevLogTerm: Term;
  readonly entries: readonly LogEntry[];
  readonly leaderCommit: LogIndex;
}

export interface AppendEntriesResponse extends Envelope {
  readonly type: 'AppendEntriesResponse';
  readonly success: boolean;
  /** On success: the follower's log matches the leader's up to here. On failure: the prevLogIndex rejected. */
  readonly matchIndex: LogIndex;
  /** On failure: the term the follower has at the rejected index, if it has one (fast backtracking). */
  readonly conflictTerm: Term | undefined;
  /** On failure: the first index of conflictTerm in the follower's log, or its lastIndex + 1. */
  readonly conflictIndex: LogIndex;
}

/**
 * Leader liveness and commit propagation without entries. `round` lets the leader confirm it is still
 * leader for ReadIndex: a read is safe once a majority acknowledged a round sent after it arrived.
 * leaderCommit is capped at the follower's known matchIndex, so it never points past a matching log.
 */
export interface Heartbeat extends Envelope {
  readonly type: 'Heartbeat';
  readonly leaderCommit: LogIndex;
  readonly round: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'HeartbeatResponse';
  readonly round: number;
}

/** Leadership transfer (thesis §3.10): the target campaigns at once, skipping PreVote. */
export interface TimeoutNow extends Envelope {
  readonly type: 'TimeoutNow';
  /**
   * The leader's last index when it sent this. The target only campaigns while its log ends exactly
   * there and it still follows the sender: a TimeoutNow that arrives after the transfer was abandoned
   * (and the leader moved on) must not depose a healthy leader.
   */
  readonly lastLogIndex: LogIndex;
}

/**
 * Raft paper §7: the leader no longer has the entries a follower needs (they were compacted into a
 * snapshot), so it sends the snapshot instead. Only the metadata passes through the core; the
 * transport streams the state machine's bytes in chunks beside it and hands this message to the
 * follower's core once all of them are staged. The follower answers with an AppendEntriesResponse.
 */
export interface InstallSnapshot extends Envelope {
  readonly type: 'InstallSnapshot';
  readonly snapshot: SnapshotMetadata;
}

export type Message =
  | RequestVote
  | RequestVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | TimeoutNow
  | InstallSnapshot;

export type MessageType = Message['type'];
