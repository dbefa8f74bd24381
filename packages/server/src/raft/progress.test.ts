// Unit tests of Progress, the leader's per-follower flow control (etcd-io/raft tracker; Raft paper
// §5.3 nextIndex/matchIndex): one append at a time while probing, a bounded pipeline once matched.

import { describe, expect, test } from 'vitest';
import { asLogIndex } from '../ids.js';
import { AssertionError } from '../assert.js';
import { Progress } from './progress.js';

describe('Progress (flow control, Raft paper §5.3)', () => {
  test('a follower in probe state gets one append at a time', () => {
    // Raft paper §5.3 nextIndex/matchIndex; flow control as in etcd-io/raft (probe/replicate, bounded inflight)
    const progress = new Progress(asLogIndex(5), 4);
    expect(progress.state).toBe('probe');
    expect(progress.isPaused()).toBe(false);
    progress.sentAppend(asLogIndex(7), 3);
    expect(progress.isPaused()).toBe(true);
    // Probing does not move nextIndex: the reply tells us where we stand.
    expect(progress.nextIndex).toBe(5);
    expect(progress.acknowledge(asLogIndex(7))).toBe(true);
    expect(progress.isPaused()).toBe(false);
    expect(progress.nextIndex).toBe(8);
  });

  test('in replicate state at most maxInflightAppends appends are outstanding', () => {
    // Raft paper §5.3 nextIndex/matchIndex; flow control as in etcd-io/raft (probe/replicate, bounded inflight)
    const progress = new Progress(asLogIndex(1), 2);
    progress.becomeReplicate();
    progress.sentAppend(asLogIndex(2), 2);
    expect(progress.isPaused()).toBe(false);
    progress.sentAppend(asLogIndex(4), 2);
    expect(progress.isPaused()).toBe(true);
    expect(progress.inflightCount()).toBe(2);
    expect(progress.nextIndex).toBe(5);
    // Acknowledging the first frees exactly one slot; acknowledging past both frees both.
    progress.acknowledge(asLogIndex(2));
    expect(progress.inflightCount()).toBe(1);
    expect(progress.isPaused()).toBe(false);
    progress.acknowledge(asLogIndex(4));
    expect(progress.inflightCount()).toBe(0);
  });

  test('an empty append in replicate state takes no pipeline slot', () => {
    // Raft paper §5.3 nextIndex/matchIndex; flow control as in etcd-io/raft (probe/replicate, bounded inflight)
    const progress = new Progress(asLogIndex(1), 1);
    progress.becomeReplicate();
    progress.sentAppend(asLogIndex(0), 0);
    expect(progress.isPaused()).toBe(false);
  });

  test('a stale acknowledgement tells nothing new and never moves matchIndex back', () => {
    // Raft paper §5.3
    const progress = new Progress(asLogIndex(1), 2);
    expect(progress.acknowledge(asLogIndex(5))).toBe(true);
    expect(progress.acknowledge(asLogIndex(3))).toBe(false);
    expect(progress.matchIndex).toBe(5);
  });

  test('probing never goes back over matched entries', () => {
    // Raft paper §5.3
    const progress = new Progress(asLogIndex(1), 2);
    progress.acknowledge(asLogIndex(5));
    expect(() => progress.becomeProbeAt(asLogIndex(5))).toThrow(AssertionError);
    progress.becomeProbeAt(asLogIndex(6));
    expect(progress).toMatchObject({ state: 'probe', nextIndex: 6, probeSent: false });
  });

  test('freeing the first in-flight append unpauses a full pipeline', () => {
    // Raft paper §5.3 nextIndex/matchIndex; flow control as in etcd-io/raft (probe/replicate, bounded inflight)
    const progress = new Progress(asLogIndex(1), 1);
    progress.becomeReplicate();
    progress.sentAppend(asLogIndex(3), 3);
    expect(progress.isPaused()).toBe(true);
    progress.freeFirstInflight();
    expect(progress.isPaused()).toBe(false);
  });
});
