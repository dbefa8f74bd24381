// Thesis §3.10 (leadership transfer): the leader stops accepting client requests, brings the target
// up to date, and sends it TimeoutNow; the target campaigns at once (skipping PreVote and the lease)
// and wins, because its log is as up-to-date as the old leader's. A transfer that does not complete
// within an election timeout is abandoned so the cluster does not stay unavailable.

import { describe, expect, test } from 'vitest';
import { asNodeId } from '@raftlock/server/testing';
import { ScenarioCluster } from './scenario-cluster.js';

const electionTimeoutTicks = 10;

function threeWithLeader(): ScenarioCluster {
  const cluster = new ScenarioCluster({ nodeCount: 3, seed: 310, electionTimeoutTicks });
  cluster.campaign('n1');
  expect(cluster.leader()).toBe('n1');
  expect(cluster.propose('n1', 'first').accepted).toBe(true);
  cluster.tickAll(2);
  return cluster;
}

describe('leadership transfer (thesis §3.10)', () => {
  test('a transfer to an up-to-date follower makes it leader at once through TimeoutNow', () => {
    // Raft thesis (Ongaro 2014) §3.10
    const cluster = threeWithLeader();
    const term = cluster.node('n1').status().term;
    const sentBefore = cluster.sent.length;
    expect(cluster.transferLeadership('n1', 'n2')).toEqual({ accepted: true });

    // No tick needed: TimeoutNow, one vote round, done.
    expect(cluster.leader()).toBe('n2');
    expect(cluster.node('n2').status().term).toBe(term + 1);
    expect(cluster.node('n1').status().role).toBe('follower');
    expect(cluster.node('n1').status().leaderId).toBe('n2');
    const after = cluster.sent.slice(sentBefore);
    expect(after[0]).toMatchObject({ type: 'TimeoutNow', from: 'n1', to: 'n2', term });
    // The target campaigned directly (no PreVote) and flagged its RequestVote as a transfer.
    const votes = after.filter((message) => message.type === 'RequestVote');
    expect(votes.length).toBeGreaterThan(0);
    expect(votes.every((message) => message.type === 'RequestVote' && !message.preVote && message.leadershipTransfer)).toBe(true);
    // The new leader serves writes; the old one redirects.
    expect(cluster.propose('n2', 'second').accepted).toBe(true);
    expect(cluster.propose('n1', 'refused')).toEqual({ accepted: false, reason: 'NotLeader', leaderId: 'n2' });
    cluster.tickAll(2);
    for (const id of cluster.ids) expect(cluster.appliedTexts(id)).toEqual(['first', 'second']);
  });

  test('a transfer to a lagging follower first catches it up, then sends TimeoutNow', () => {
    // Raft thesis (Ongaro 2014) §3.10
    const cluster = threeWithLeader();
    cluster.cut('n1', 'n3');
    for (const text of ['a', 'b', 'c']) expect(cluster.propose('n1', text).accepted).toBe(true);
    cluster.tickAll(1);
    const leaderLast = cluster.node('n1').status().lastIndex;
    expect(cluster.node('n3').status().lastIndex).toBeLessThan(leaderLast);

    const sentBefore = cluster.sent.length;
    cluster.heal();
    expect(cluster.transferLeadership('n1', 'n3')).toEqual({ accepted: true });
    cluster.tick('n1', 2); // a heartbeat reply if the first append was not enough

    expect(cluster.leader()).toBe('n3');
    const after = cluster.sent.slice(sentBefore);
    const timeoutNowAt = after.findIndex((message) => message.type === 'TimeoutNow');
    expect(timeoutNowAt).toBeGreaterThanOrEqual(0);
    // Before TimeoutNow went out, n3 had acknowledged the leader's whole log.
    const caughtUpAt = after.findIndex(
      (message) => message.type === 'AppendEntriesResponse' && message.from === 'n3' && message.success && message.matchIndex === leaderLast,
    );
    expect(caughtUpAt).toBeGreaterThanOrEqual(0);
    expect(caughtUpAt).toBeLessThan(timeoutNowAt);
    expect(cluster.logTerms('n3').slice(0, leaderLast)).toEqual(cluster.logTerms('n1').slice(0, leaderLast));
    expect(cluster.propose('n3', 'd').accepted).toBe(true);
    cluster.tickAll(2);
    for (const id of cluster.ids) expect(cluster.appliedTexts(id)).toEqual(['first', 'a', 'b', 'c', 'd']);
  });

  test('the leader refuses proposals during a transfer and after it as a follower', () => {
    // Raft thesis (Ongaro 2014) §3.10
    const cluster = threeWithLeader();
    cluster.cut('n1', 'n3');
    expect(cluster.propose('n1', 'lagging').accepted).toBe(true);
    expect(cluster.transferLeadership('n1', 'n3')).toEqual({ accepted: true });
    // n3 cannot catch up while cut off: the transfer is in progress.
    expect(cluster.node('n1').status().leadTransferee).toBe('n3');
    expect(cluster.propose('n1', 'during')).toEqual({ accepted: false, reason: 'LeadershipTransferInProgress', leaderId: 'n1' });
    cluster.tick('n1', 3);
    expect(cluster.propose('n1', 'during')).toEqual({ accepted: false, reason: 'LeadershipTransferInProgress', leaderId: 'n1' });

    cluster.heal();
    cluster.tick('n1', 1);
    expect(cluster.leader()).toBe('n3');
    expect(cluster.propose('n1', 'after')).toEqual({ accepted: false, reason: 'NotLeader', leaderId: 'n3' });
    cluster.tickAll(2);
    for (const id of cluster.ids) expect(cluster.appliedTexts(id)).toEqual(['first', 'lagging']);
  });

  test('a transfer that cannot complete within an election timeout is abandoned and proposals are accepted again', () => {
    // Raft thesis (Ongaro 2014) §3.10
    const cluster = threeWithLeader();
    const term = cluster.node('n1').status().term;
    cluster.isolate('n3');
    expect(cluster.propose('n1', 'lagging').accepted).toBe(true);
    expect(cluster.transferLeadership('n1', 'n3')).toEqual({ accepted: true });

    // n2 keeps answering, so CheckQuorum keeps n1 leader; n3 never catches up.
    let ticks = 0;
    while (cluster.node('n1').status().leadTransferee !== '' && ticks < 3 * electionTimeoutTicks) {
      expect(cluster.propose('n1', 'refused').accepted).toBe(false);
      cluster.node('n1').tick();
      cluster.node('n2').tick();
      cluster.stabilize();
      ticks++;
    }
    expect(ticks).toBeLessThanOrEqual(electionTimeoutTicks);
    expect(cluster.leader()).toBe('n1');
    expect(cluster.node('n1').status().term).toBe(term);
    const result = cluster.propose('n1', 'accepted-again');
    expect(result.accepted).toBe(true);
    cluster.tick('n1', 2);
    expect(cluster.appliedTexts('n2')).toEqual(['first', 'lagging', 'accepted-again']);
    // No TimeoutNow was ever sent: n3 was never caught up.
    expect(cluster.sentOfType('TimeoutNow')).toEqual([]);
  });

  test('transferring to itself or to a non-member is a no-op, and a follower refuses to transfer', () => {
    // Raft thesis (Ongaro 2014) §3.10
    const cluster = threeWithLeader();
    expect(cluster.transferLeadership('n1', 'n1')).toEqual({ accepted: true });
    expect(cluster.transferLeadership('n1', 'n9')).toEqual({ accepted: true });
    expect(cluster.node('n1').status().leadTransferee).toBe('');
    expect(cluster.propose('n1', 'still-leader').accepted).toBe(true);
    expect(cluster.node('n2').transferLeadership(asNodeId('n3'))).toEqual({ accepted: false, reason: 'NotLeader', leaderId: 'n1' });
  });
});
