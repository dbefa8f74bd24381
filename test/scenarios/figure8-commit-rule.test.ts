// Raft paper §5.4.2 and Figure 8: a leader cannot conclude that an entry from an older term is
// committed once it is stored on a majority. Such an entry can still be overwritten by a future
// leader (Figure 8 (d)). Only entries of the leader's current term are committed by counting
// replicas; older entries are committed indirectly, by the Log Matching Property (Figure 8 (e)).
//
// Members S1..S5 are n1..n5. Each test replays the figure from the state of (b) onwards:
//   S1 [1,2]  S2 [1]  S3 [1]  S4 [1]  S5 [1,3]
// (S1 led term 2 and wrote index 2; S5 led term 3 and wrote a different index 2.) S2 starts without
// the term-2 entry here and receives it from S1 in (c), which gives the same logs as the figure's (c).
//
// One entry per AppendEntries, so S1 can hand S2 and S3 the term-2 entry without its term-4 entry.
// PreVote and CheckQuorum are off: the figure is about the commit rule of classic Raft, and the
// leader lease they bring would only keep S5 from campaigning while the others hear from S1.

import { describe, expect, test } from 'vitest';
import { asNodeId, type LogEntry, type Message } from '@raftlock/server/testing';
import { ScenarioCluster } from './scenario-cluster.js';

const appliedOf = (cluster: ScenarioCluster, id: string): readonly LogEntry[] => cluster.applied.get(asNodeId(id)) ?? [];

function figure8Cluster(): ScenarioCluster {
  const cluster = new ScenarioCluster({ nodeCount: 5, seed: 8, preVote: false, checkQuorum: false, limits: { maxEntriesPerAppend: 1 } });
  cluster.presetLog('n1', { terms: [1, 2], currentTerm: 3, sharedHistory: true });
  for (const id of ['n2', 'n3', 'n4']) cluster.presetLog(id, { terms: [1], currentTerm: 3, sharedHistory: true });
  cluster.presetLog('n5', { terms: [1, 3], currentTerm: 3, sharedHistory: true });
  return cluster;
}

/**
 * Loses exactly the AppendEntries that would put an entry of `term` on their recipient (those whose
 * consistency check would pass); the rejected probes still get through, so the leader backs up.
 */
const wouldStoreTerm = (cluster: ScenarioCluster, term: number) => (message: Message) =>
  message.type === 'AppendEntries' &&
  message.entries.some((entry) => entry.term === term) &&
  cluster.nodes.get(message.to)?.termAt(message.prevLogIndex) === message.prevLogTerm;

/**
 * Figure 8 (c): S5 is down; S1 wins term 4 (votes of S2, S3, S4), and replicates the term-2 entry to
 * S2 and S3, a majority with itself, but its own term-4 entry (the no-op) reaches nobody yet.
 */
function replayUpToC(cluster: ScenarioCluster): void {
  cluster.crash('n5');
  cluster.dropWhere(wouldStoreTerm(cluster, 4));
  cluster.dropWhere((message) => message.type === 'AppendEntries' && message.to === 'n4');
  cluster.campaign('n1');
  expect(cluster.leader()).toBe('n1');
  expect(cluster.node('n1').status().term).toBe(4);
  expect(cluster.logTerms('n1')).toEqual([1, 2, 4]);
  expect(cluster.logTerms('n2')).toEqual([1, 2]);
  expect(cluster.logTerms('n3')).toEqual([1, 2]);
  expect(cluster.logTerms('n4')).toEqual([1]);
  // The leader knows S2 and S3 hold index 2: the term-2 entry is on a majority (S1, S2, S3).
  const progress = cluster.node('n1').status().progress;
  expect(progress.get(asNodeId('n2'))?.matchIndex).toBe(2);
  expect(progress.get(asNodeId('n3'))?.matchIndex).toBe(2);
}

/** Every index applied by two members holds the same entry on both (State Machine Safety, §5.4.3). */
function expectStateMachineSafety(appliedByMember: readonly (readonly LogEntry[])[]): void {
  const byIndex = new Map<number, LogEntry>();
  for (const applied of appliedByMember) {
    for (const entry of applied) {
      const seen = byIndex.get(entry.index);
      if (seen) expect(entry, `entry applied at index ${entry.index}`).toEqual(seen);
      else byIndex.set(entry.index, entry);
    }
  }
}

describe('Raft paper Figure 8: commit only current-term entries by counting replicas', () => {
  test('a term-4 leader does not commit a term-2 entry stored on a majority until an entry of its own term is replicated', () => {
    // Raft paper §5.4.2
    const cluster = figure8Cluster();
    replayUpToC(cluster);
    const leader = cluster.node('n1');
    // Stored on S1, S2, S3, but from term 2: not committed by counting replicas.
    expect(leader.status().commitIndex).toBe(0);
    expect(cluster.appliedTexts('n1')).toEqual([]);
    for (const id of ['n2', 'n3']) expect(cluster.node(id).status().commitIndex).toBe(0);

    // Figure 8 (e): the term-4 entry reaches S2 and S3 too. Committing it commits index 2 with it.
    cluster.heal();
    cluster.tick('n1');
    expect(cluster.logTerms('n2')).toEqual([1, 2, 4]);
    expect(leader.status().commitIndex).toBe(3);
    expect(cluster.appliedTexts('n1')).toEqual(['preset:1:1', 'preset:2:2']);
  });

  test('the commit index advances exactly when the first current-term entry reaches a majority, never before', () => {
    // Raft paper §5.4.2
    const cluster = figure8Cluster();
    replayUpToC(cluster);
    const leader = cluster.node('n1');
    // Let the term-4 entry through to S2 only: S1 and S2 hold it, not a majority yet.
    cluster.heal();
    cluster.dropWhere((message) => message.type === 'AppendEntries' && (message.to === 'n3' || message.to === 'n4'));
    cluster.tick('n1');
    expect(cluster.logTerms('n2')).toEqual([1, 2, 4]);
    expect(leader.status().commitIndex).toBe(0);
    // Now S3: three of five hold the term-4 entry.
    cluster.heal();
    cluster.dropWhere((message) => message.type === 'AppendEntries' && message.to === 'n4');
    cluster.tick('n1');
    expect(cluster.logTerms('n3')).toEqual([1, 2, 4]);
    expect(leader.status().commitIndex).toBe(3);
  });

  test('Figure 8 (d): S5 can overwrite the term-2 entry only because it was never committed', () => {
    // Raft paper §5.4.2
    const cluster = figure8Cluster();
    replayUpToC(cluster);
    // The state S1 leaves behind when it crashes: it never committed (so never applied) index 2.
    expect(cluster.storages.get(asNodeId('n1'))?.initialHardState().commitIndex).toBe(0);
    const appliedByS1 = [...appliedOf(cluster, 'n1')];
    cluster.crash('n1');
    cluster.heal();

    // S5 restarts; its last entry (term 3) is more up-to-date than S2/S3/S4's, so it can win (votes of S2, S3, S4).
    cluster.restart('n5');
    for (let attempt = 0; attempt < 5 && cluster.leader() !== 'n5'; attempt++) cluster.campaign('n5');
    expect(cluster.leader()).toBe('n5');
    expect(cluster.node('n5').status().term).toBe(5);
    cluster.tick('n5', 3);

    // Figure 8 (d): the term-2 entry at index 2 is replaced by S5's term-3 entry on S2 and S3.
    for (const id of ['n2', 'n3', 'n4', 'n5']) expect(cluster.logTerms(id), `log of ${id}`).toEqual([1, 3, 5]);
    expect(cluster.node('n5').status().commitIndex).toBe(3);
    // No member ever applied a different entry at the same index: S1 had not applied the term-2 entry.
    expectStateMachineSafety([appliedByS1, ...['n2', 'n3', 'n4', 'n5'].map((id) => appliedOf(cluster, id))]);
    expect(cluster.appliedTexts('n2')).toEqual(['preset:1:1', 'preset:2:3']);
  });

  test('Figure 8 (e): once S1 commits an entry of term 4, S5 can no longer be elected and index 2 survives', () => {
    // Raft paper §5.4.2, §5.4.3
    const cluster = figure8Cluster();
    replayUpToC(cluster);
    cluster.heal();
    cluster.tick('n1');
    expect(cluster.node('n1').status().commitIndex).toBe(3);
    cluster.crash('n1');

    cluster.restart('n5');
    for (let attempt = 0; attempt < 5; attempt++) cluster.campaign('n5');
    expect(cluster.node('n5').status().role).not.toBe('leader');
    // S2, S3 (and S4, which got the term-4 entry after the heal) hold a more up-to-date log than S5 (§5.4.1).
    const grantedToS5 = cluster.sentOfType('RequestVoteResponse', (message) => message.to === 'n5' && message.voteGranted && !message.preVote);
    expect(grantedToS5).toEqual([]);
    for (const id of ['n2', 'n3']) expect(cluster.logTerms(id)).toEqual([1, 2, 4]);

    // A member holding the committed entries wins instead and keeps index 2.
    for (let attempt = 0; attempt < 5 && cluster.leader() !== 'n2'; attempt++) cluster.campaign('n2');
    expect(cluster.leader()).toBe('n2');
    cluster.tick('n2', 3);
    for (const id of ['n2', 'n3', 'n4', 'n5']) expect(cluster.logTerms(id).slice(0, 3), `log of ${id}`).toEqual([1, 2, 4]);
    expect(cluster.appliedTexts('n5').slice(0, 2)).toEqual(['preset:1:1', 'preset:2:2']);
  });
});
