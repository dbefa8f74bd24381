// Thesis §6.2 (CheckQuorum and the leader lease): a leader that stops hearing from a majority for an
// election timeout steps down, so a partitioned leader does not linger; and a follower that hears
// from a live leader ignores vote requests (thesis §4.2.3, §9.6), so a member that merely lost contact
// cannot depose it.

import { describe, expect, test } from 'vitest';
import { asLogIndex, asTerm, type Message, type NodeId } from '@raftlock/server/testing';
import { ScenarioCluster } from './scenario-cluster.js';

const electionTimeoutTicks = 10;

function fiveWithLeader(): ScenarioCluster {
  const cluster = new ScenarioCluster({ nodeCount: 5, seed: 62, electionTimeoutTicks });
  cluster.campaign('n1');
  expect(cluster.leader()).toBe('n1');
  cluster.tickAll(2);
  return cluster;
}

function requestVote(cluster: ScenarioCluster, from: string, to: string, options: { readonly leadershipTransfer: boolean }): Message {
  const candidate = cluster.node(from).status();
  return {
    type: 'RequestVote',
    from: from as NodeId,
    to: to as NodeId,
    term: asTerm(candidate.term + 1),
    preVote: false,
    leadershipTransfer: options.leadershipTransfer,
    lastLogIndex: asLogIndex(candidate.lastIndex),
    lastLogTerm: asTerm(cluster.node(from).termAt(candidate.lastIndex) ?? 0),
  };
}

describe('CheckQuorum (thesis §6.2)', () => {
  test('a leader cut off from the majority steps down to follower within about an election timeout', () => {
    // Raft thesis (Ongaro 2014) §6.2
    const cluster = fiveWithLeader();
    const term = cluster.node('n1').status().term;
    // n1 keeps n2; n3, n4, n5 are the majority side.
    for (const other of ['n3', 'n4', 'n5']) cluster.cut('n1', other);

    let ticks = 0;
    while (cluster.node('n1').status().role === 'leader' && ticks < 5 * electionTimeoutTicks) {
      cluster.tick('n1');
      ticks++;
    }
    expect(cluster.node('n1').status().role).toBe('follower');
    // The check runs once per election timeout and needs a full timeout of silence, so it takes
    // more than one timeout and at most two.
    expect(ticks).toBeGreaterThan(electionTimeoutTicks - 1);
    expect(ticks).toBeLessThanOrEqual(2 * electionTimeoutTicks);
    // Stepping down does not change the term or the vote: it is not an election.
    expect(cluster.node('n1').status().term).toBe(term);
    expect(cluster.node('n1').propose(new Uint8Array([1])).accepted).toBe(false);
  });

  test('the majority side of the partition elects a new leader in a higher term', () => {
    // Raft thesis (Ongaro 2014) §6.2
    const cluster = fiveWithLeader();
    const term = cluster.node('n1').status().term;
    for (const other of ['n3', 'n4', 'n5']) cluster.cut('n1', other);
    for (const other of ['n3', 'n4', 'n5']) cluster.cut('n2', other);

    cluster.tickAll(4 * electionTimeoutTicks);
    const newLeader = cluster.leader();
    expect(['n3', 'n4', 'n5']).toContain(newLeader);
    expect(cluster.node(newLeader ?? 'n3').status().term).toBeGreaterThan(term);
    expect(cluster.node('n1').status().role).not.toBe('leader');
    expect(cluster.propose(newLeader ?? 'n3', 'majority-side').accepted).toBe(true);
    cluster.tickAll(2);
    for (const id of ['n3', 'n4', 'n5']) expect(cluster.appliedTexts(id)).toContain('majority-side');

    cluster.heal();
    cluster.tickAll(3);
    for (const id of cluster.ids) expect(cluster.appliedTexts(id)).toContain('majority-side');
  });

  test('a leader that still hears from a majority stays leader however long it runs', () => {
    // Raft thesis (Ongaro 2014) §6.2
    const cluster = fiveWithLeader();
    cluster.cut('n1', 'n4');
    cluster.cut('n1', 'n5');
    const term = cluster.node('n1').status().term;
    // n4 and n5 are not ticked: they would otherwise campaign (PreVote) and be ignored anyway.
    for (let count = 0; count < 6 * electionTimeoutTicks; count++) {
      for (const id of ['n1', 'n2', 'n3']) cluster.node(id).tick();
      cluster.stabilize();
    }
    expect(cluster.leader()).toBe('n1');
    expect(cluster.node('n1').status().term).toBe(term);
  });
});

describe('leader lease (thesis §6.2, §4.2.3)', () => {
  test('a follower that hears from a live leader ignores a RequestVote of a higher term', () => {
    // Raft thesis (Ongaro 2014) §6.2
    const cluster = fiveWithLeader();
    const before = cluster.node('n2').status();
    const sentBefore = cluster.sent.length;
    cluster.deliver(requestVote(cluster, 'n3', 'n2', { leadershipTransfer: false }));

    const after = cluster.node('n2').status();
    expect(after.term).toBe(before.term);
    expect(after.votedFor).toBe(before.votedFor);
    expect(after.leaderId).toBe('n1');
    // Ignored outright: no vote, not even a refusal that would carry a term.
    expect(cluster.sent.slice(sentBefore).filter((message) => message.from === 'n2')).toEqual([]);
    expect(cluster.leader()).toBe('n1');
  });

  test('a live leader also ignores a RequestVote of a higher term', () => {
    // Raft thesis (Ongaro 2014) §6.2
    const cluster = fiveWithLeader();
    const term = cluster.node('n1').status().term;
    cluster.deliver(requestVote(cluster, 'n3', 'n1', { leadershipTransfer: false }));
    expect(cluster.leader()).toBe('n1');
    expect(cluster.node('n1').status().term).toBe(term);
  });

  test('a follower grants a leadership-transfer RequestVote even inside the lease', () => {
    // Raft thesis (Ongaro 2014) §3.10
    const cluster = fiveWithLeader();
    const term = cluster.node('n2').status().term;
    cluster.deliver(requestVote(cluster, 'n3', 'n2', { leadershipTransfer: true }));
    const granted = cluster.sentOfType('RequestVoteResponse', (message) => message.from === 'n2' && message.to === 'n3');
    expect(granted.map((message) => [message.term, message.voteGranted])).toEqual([[term + 1, true]]);
    expect(cluster.node('n2').status().votedFor).toBe('n3');
  });

  test('once the lease has expired without word from the leader, the follower votes again', () => {
    // Raft thesis (Ongaro 2014) §6.2
    const cluster = fiveWithLeader();
    cluster.isolate('n1');
    const term = cluster.node('n2').status().term;
    // Tick n2 past the election timeout but not into its own candidacy (its timeout is at least as long).
    for (let count = 0; count < electionTimeoutTicks; count++) cluster.node('n2').tick();
    cluster.stabilize();
    // (With this seed n2's randomized timeout is longer than electionTimeoutTicks, so it is still a follower.)
    expect(cluster.node('n2').status().role).toBe('follower');
    cluster.deliver(requestVote(cluster, 'n3', 'n2', { leadershipTransfer: false }));
    expect(cluster.node('n2').status().term).toBe(term + 1);
    expect(cluster.node('n2').status().votedFor).toBe('n3');
  });
});
