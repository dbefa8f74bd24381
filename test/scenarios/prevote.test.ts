// Thesis §9.6 (PreVote): before a member bumps its term it asks whether it could win. A member that
// is partitioned away keeps timing out, but no majority answers its PreVote, so its term stays put
// and, when the partition heals, it cannot depose the healthy leader with an inflated term.

import { describe, expect, test } from 'vitest';
import { ScenarioCluster } from './scenario-cluster.js';

const electionTimeoutTicks = 10;

function clusterWithLeader(preVote: boolean): ScenarioCluster {
  const cluster = new ScenarioCluster({ nodeCount: 3, seed: 96, preVote, electionTimeoutTicks });
  cluster.campaign('n1');
  expect(cluster.leader()).toBe('n1');
  expect(cluster.propose('n1', 'before-partition').accepted).toBe(true);
  cluster.tickAll(2);
  return cluster;
}

describe('PreVote (thesis §9.6)', () => {
  test('a partitioned member keeps timing out but never raises its term', () => {
    // Raft thesis (Ongaro 2014) §9.6
    const cluster = clusterWithLeader(true);
    const term = cluster.node('n1').status().term;
    cluster.isolate('n3');
    const sentBefore = cluster.sent.length;
    // Many election timeouts: the randomized timeout is below 2 × electionTimeoutTicks.
    cluster.tickAll(electionTimeoutTicks * 10);

    const probes = cluster.sent.slice(sentBefore).filter((message) => message.type === 'RequestVote' && message.from === 'n3');
    expect(probes.length).toBeGreaterThanOrEqual(2 * 4); // it did time out, several times (two peers each)
    expect(probes.every((message) => message.type === 'RequestVote' && message.preVote)).toBe(true);
    expect(cluster.node('n3').status().term).toBe(term);
    expect(cluster.storages.get(cluster.ids[2]!)?.initialHardState().term).toBe(term);
    // The majority side never noticed.
    expect(cluster.leader()).toBe('n1');
    expect(cluster.node('n1').status().term).toBe(term);
  });

  test('on heal the rejoining member does not depose the healthy leader, whose term is unchanged', () => {
    // Raft thesis (Ongaro 2014) §9.6
    const cluster = clusterWithLeader(true);
    const term = cluster.node('n1').status().term;
    cluster.isolate('n3');
    cluster.tickAll(electionTimeoutTicks * 10);
    expect(cluster.propose('n1', 'during-partition').accepted).toBe(true);
    cluster.tickAll(2);

    cluster.heal();
    cluster.tickAll(electionTimeoutTicks * 3);
    expect(cluster.leader()).toBe('n1');
    for (const id of cluster.ids) expect(cluster.node(id).status().term, `term of ${id}`).toBe(term);
    expect(cluster.node('n3').status().role).toBe('follower');
    expect(cluster.node('n3').status().leaderId).toBe('n1');
    // No real (non-PreVote) election was held, and the rejoined member caught up.
    const realVotes = cluster.sentOfType('RequestVote', (message) => !message.preVote);
    expect(realVotes.every((message) => message.term === term)).toBe(true);
    expect(cluster.appliedTexts('n3')).toEqual(['before-partition', 'during-partition']);
  });

  test('without PreVote the same partition inflates the term and the rejoining member deposes the leader', () => {
    // Raft thesis (Ongaro 2014) §9.6: the contrast case, the same partition without PreVote
    const cluster = clusterWithLeader(false);
    const term = cluster.node('n1').status().term;
    cluster.isolate('n3');
    cluster.tickAll(electionTimeoutTicks * 10);
    expect(cluster.node('n3').status().term).toBeGreaterThan(term + 2);

    cluster.heal();
    cluster.tickAll(1);
    // n1's heartbeat draws a reply carrying n3's higher term: n1 steps down.
    expect(cluster.node('n1').status().term).toBeGreaterThan(term);
    expect(cluster.node('n1').status().role).not.toBe('leader');
  });
});
