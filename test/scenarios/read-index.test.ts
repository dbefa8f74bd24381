// Thesis §6.4 (ReadIndex): a linearizable read without writing to the log. The leader records its
// commit index as the read index, confirms it is still leader with a round of heartbeats that a
// majority acknowledges, and only then releases the read (a ReadState) to be served once applied up
// to that index. A brand-new leader first commits an entry of its own term (its no-op, §8), since
// until then it does not know which entries are committed.

import { describe, expect, test } from 'vitest';
import { asNodeId, type Message } from '@raftlock/server/testing';
import { ScenarioCluster } from './scenario-cluster.js';

const electionTimeoutTicks = 10;

function withLeader(nodeCount: number, seed: number): ScenarioCluster {
  const cluster = new ScenarioCluster({ nodeCount, seed, electionTimeoutTicks });
  cluster.campaign('n1');
  expect(cluster.leader()).toBe('n1');
  for (const text of ['w1', 'w2']) expect(cluster.propose('n1', text).accepted).toBe(true);
  cluster.tickAll(2);
  return cluster;
}

const readStatesOf = (cluster: ScenarioCluster, id: string) => cluster.readStates.get(asNodeId(id)) ?? [];
const maxCommitIndex = (cluster: ScenarioCluster): number =>
  Math.max(...cluster.ids.map((id) => cluster.nodes.get(id)?.status().commitIndex ?? 0));

describe('ReadIndex (thesis §6.4)', () => {
  test('a leader releases a ReadState only after a majority acknowledges a heartbeat sent after the read', () => {
    // Raft thesis (Ongaro 2014) §6.4
    const cluster = withLeader(5, 64);
    const committedBefore = maxCommitIndex(cluster);
    // Only n2 answers heartbeats: with the leader that is 2 of 5.
    const held = new Set(['n3', 'n4', 'n5']);
    cluster.dropWhere((message) => message.type === 'HeartbeatResponse' && held.has(message.from));

    const sentBefore = cluster.sent.length;
    expect(cluster.readIndex('n1', 'read-1')).toEqual({ accepted: true });
    const heartbeats = cluster.sent.slice(sentBefore).filter((message) => message.type === 'Heartbeat');
    expect(heartbeats.length).toBe(4); // the confirmation round, to every follower
    expect(readStatesOf(cluster, 'n1')).toEqual([]);

    // A third acknowledgement (n3) makes a majority: the read is released.
    held.delete('n3');
    cluster.tick('n1');
    expect(readStatesOf(cluster, 'n1')).toEqual([{ requestContext: 'read-1', index: committedBefore }]);
    expect(readStatesOf(cluster, 'n1')[0]?.index).toBeGreaterThanOrEqual(committedBefore);
  });

  test('an acknowledgement of a heartbeat sent before the read does not confirm it', () => {
    // Raft thesis (Ongaro 2014) §6.4
    const cluster = withLeader(3, 65);
    // The next heartbeat round goes out (tick), but its replies are held back.
    const delayed: Message[] = [];
    cluster.dropWhere((message) => {
      if (message.type !== 'HeartbeatResponse') return false;
      delayed.push(message);
      return true;
    });
    cluster.tick('n1');
    expect(delayed.length).toBe(2);
    cluster.heal();
    // Now all heartbeat replies are dropped; the read arrives, and then the old replies are delivered.
    cluster.dropWhere((message) => message.type === 'HeartbeatResponse');
    expect(cluster.readIndex('n1', 'read-late')).toEqual({ accepted: true });
    for (const message of delayed) cluster.deliver(message);
    expect(readStatesOf(cluster, 'n1')).toEqual([]);
    cluster.heal();
    cluster.tick('n1');
    expect(readStatesOf(cluster, 'n1').map((state) => state.requestContext)).toEqual(['read-late']);
  });

  test('a leader partitioned away from the majority never releases a ReadState', () => {
    // Raft thesis (Ongaro 2014) §6.4
    const cluster = withLeader(5, 66);
    for (const other of ['n3', 'n4', 'n5']) cluster.cut('n1', other);
    // It still believes it leads: the read is accepted but cannot be confirmed.
    expect(cluster.readIndex('n1', 'stale-read')).toEqual({ accepted: true });
    cluster.tickAll(4 * electionTimeoutTicks);

    const newLeader = cluster.leader();
    expect(newLeader).toBeDefined();
    expect(newLeader).not.toBe('n1');
    expect(cluster.propose(newLeader ?? 'n3', 'newer-write').accepted).toBe(true);
    cluster.tickAll(2);
    expect(readStatesOf(cluster, 'n1')).toEqual([]);
    // Once it knows it is no longer leader it refuses reads outright.
    expect(cluster.node('n1').status().role).not.toBe('leader');
    expect(cluster.readIndex('n1', 'another').accepted).toBe(false);
    expect(readStatesOf(cluster, 'n1')).toEqual([]);
  });

  test('a read arriving before the new leader committed its no-op is held until then, with an index past it', () => {
    // Raft thesis (Ongaro 2014) §6.4
    const cluster = withLeader(3, 67);
    const committedBefore = maxCommitIndex(cluster);
    // Hand leadership to n2, but lose everything n2 appends, so its no-op stays uncommitted.
    cluster.dropWhere((message) => message.type === 'AppendEntries' && message.from === 'n2');
    expect(cluster.transferLeadership('n1', 'n2')).toEqual({ accepted: true });
    expect(cluster.leader()).toBe('n2');
    const leader = cluster.node('n2');
    const noopIndex = leader.status().lastIndex;
    expect(leader.status().commitIndex).toBeLessThan(noopIndex);

    expect(cluster.readIndex('n2', 'early-read')).toEqual({ accepted: true });
    // Heartbeats flow and are acknowledged by everyone, yet the read is held: the no-op is not committed.
    cluster.tick('n2', 3);
    expect(cluster.sentOfType('HeartbeatResponse', (message) => message.to === 'n2').length).toBeGreaterThanOrEqual(2);
    expect(readStatesOf(cluster, 'n2')).toEqual([]);

    cluster.heal();
    cluster.tick('n2', 1);
    expect(leader.status().commitIndex).toBeGreaterThanOrEqual(noopIndex);
    const states = readStatesOf(cluster, 'n2');
    expect(states.map((state) => state.requestContext)).toEqual(['early-read']);
    expect(states[0]?.index).toBeGreaterThanOrEqual(noopIndex);
    expect(states[0]?.index).toBeGreaterThanOrEqual(committedBefore);
  });

  test('every ReadState index is at least every index committed anywhere before the read was asked', () => {
    // Raft thesis (Ongaro 2014) §6.4
    const cluster = withLeader(3, 68);
    for (let round = 0; round < 6; round++) {
      expect(cluster.propose('n1', `committed-${round}`).accepted).toBe(true);
      if (round % 2 === 1) {
        // A write still in flight when the read arrives: it is not committed, so it need not be covered.
        cluster.dropWhere((message) => message.type === 'AppendEntriesResponse');
        expect(cluster.propose('n1', `in-flight-${round}`).accepted).toBe(true);
      }
      const committedBefore = maxCommitIndex(cluster);
      expect(cluster.readIndex('n1', `read-${round}`)).toEqual({ accepted: true });
      cluster.tick('n1');
      const state = readStatesOf(cluster, 'n1').find((candidate) => candidate.requestContext === `read-${round}`);
      expect(state, `read-${round} released`).toBeDefined();
      expect(state?.index).toBeGreaterThanOrEqual(committedBefore);
      expect(state?.index).toBeLessThanOrEqual(cluster.node('n1').status().commitIndex);
      cluster.heal();
      cluster.tickAll(1);
    }
    expect(readStatesOf(cluster, 'n1').map((state) => state.requestContext)).toEqual([0, 1, 2, 3, 4, 5].map((round) => `read-${round}`));
  });
});
