// Progress: what the leader knows of one follower (Raft paper Figure 2 nextIndex/matchIndex) plus the
// flow-control state of etcd-io/raft's tracker (design.md): a follower starts in `probe`, where one
// AppendEntries at a time looks for the point our logs match, and moves to `replicate` once it has
// matched, where appends are pipelined up to maxInflightAppends without waiting for replies. A
// follower that needs entries the leader has compacted away is sent a snapshot and waits in
// `snapshot` until it acknowledges it (or the attempt times out and it is probed again).

import { assert } from '../assert.js';
import { asLogIndex, type LogIndex } from '../ids.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  matchIndex: LogIndex = asLogIndex(0);
  nextIndex: LogIndex;
  state: ProgressState = 'probe';
  /** In probe: an append is outstanding; wait for its reply or the next heartbeat reply. */
  probeSent = false;
  /** Set by any reply from the follower; cleared by the leader's CheckQuorum sweep. */
  recentActive = false;
  /** The leader's tick count when it last heard from the follower (for membership-change checks). */
  lastHeardAtTick = 0;
  /** In snapshot: the index of the snapshot sent, and ticks spent waiting for it to be acknowledged. */
  pendingSnapshotIndex: LogIndex = asLogIndex(0);
  snapshotElapsedTicks = 0;
  /** The leader's commit index as of the last append sent to this follower. */
  commitSent: LogIndex = asLogIndex(0);
  /** Last index of every pipelined append not yet acknowledged, oldest first. */
  private readonly inflightLastIndexes: LogIndex[] = [];

  constructor(nextIndex: LogIndex, private readonly maxInflightAppends: number) {
    assert(maxInflightAppends >= 1, 'at least one append may be in flight');
    this.nextIndex = nextIndex;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflightLastIndexes.length >= this.maxInflightAppends;
      case 'snapshot':
        return true;
    }
  }

  inflightCount(): number {
    return this.inflightLastIndexes.length;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.probeSent = false;
    this.inflightLastIndexes.length = 0;
    this.nextIndex = asLogIndex(this.matchIndex + 1);
  }

  becomeProbeAt(nextIndex: LogIndex): void {
    this.becomeProbe();
    assert(nextIndex > this.matchIndex, 'probing never goes back over matched entries');
    this.nextIndex = nextIndex;
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.probeSent = false;
    this.inflightLastIndexes.length = 0;
    this.nextIndex = asLogIndex(this.matchIndex + 1);
  }

  /** A snapshot ending at snapshotIndex is on its way; nothing else is sent until it is acknowledged. */
  becomeSnapshot(snapshotIndex: LogIndex): void {
    assert(snapshotIndex > this.matchIndex, 'a snapshot is only sent to a follower behind it');
    this.state = 'snapshot';
    this.probeSent = false;
    this.inflightLastIndexes.length = 0;
    this.pendingSnapshotIndex = snapshotIndex;
    this.snapshotElapsedTicks = 0;
  }

  /** Record an append covering entries up to lastIndex. */
  sentAppend(lastIndex: LogIndex, entryCount: number): void {
    assert(this.state !== 'snapshot', 'no append is sent while a snapshot is outstanding');
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        assert(lastIndex >= this.nextIndex, 'pipelined appends move forward');
        this.nextIndex = asLogIndex(lastIndex + 1);
        this.inflightLastIndexes.push(lastIndex);
      }
    } else {
      this.probeSent = true;
    }
  }

  /** Replicate state, heartbeat reply while the pipeline is full: assume the oldest append was lost. */
  freeFirstInflight(): void {
    assert(this.state === 'replicate', 'only a pipeline has in-flight appends to free');
    this.inflightLastIndexes.shift();
  }

  /** A success reply: returns whether it told us something new. */
  acknowledge(matchIndex: LogIndex): boolean {
    if (matchIndex <= this.matchIndex) return false;
    this.matchIndex = matchIndex;
    if (this.nextIndex <= matchIndex) this.nextIndex = asLogIndex(matchIndex + 1);
    while ((this.inflightLastIndexes[0] ?? Infinity) <= matchIndex) this.inflightLastIndexes.shift();
    this.probeSent = false;
    return true;
  }
}
