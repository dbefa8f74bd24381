// Raft paper §5.3 and Figure 7: when a leader comes to power, followers' logs may be missing entries,
// hold extra uncommitted entries, or both. The leader forces its log onto them by finding the last
// point where they agree (the AppendEntries consistency check) and overwriting everything after it.
// The conflicting-term hint (paper §5.3, last paragraphs; thesis §3.5) makes the search skip a whole
// term per rejection instead of one entry.

import { describe, expect, test } from 'vitest';
import { ScenarioCluster } from './scenario-cluster.js';

// Figure 7: the leader's log, at term 8 (it campaigns from term 7).
const leaderTerms = [1, 1, 1, 4, 4, 5, 5, 6, 6, 6];

// Followers (a)–(f) of Figure 7, with the term each was in when the figure was drawn.
const followers = {
  a: { terms: [1, 1, 1, 4, 4, 5, 5, 6, 6], currentTerm: 6 }, // missing one entry
  b: { terms: [1, 1, 1, 4], currentTerm: 4 }, // missing many entries
  c: { terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6], currentTerm: 6 }, // one extra uncommitted entry of term 6
  d: { terms: [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], currentTerm: 7 }, // extra entries of term 7
  e: { terms: [1, 1, 1, 4, 4, 4, 4], currentTerm: 4 }, // missing entries and extra term-4 entries
  f: { terms: [1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3], currentTerm: 3 }, // extra entries of terms 2 and 3
} as const;

type FollowerName = keyof typeof followers;
const followerNames = Object.keys(followers) as FollowerName[];

/** n1 is the leader, n2..n7 are followers a..f. */
function figure7Cluster(): { cluster: ScenarioCluster; idOf: (name: FollowerName) => string } {
  const cluster = new ScenarioCluster({ nodeCount: 7, seed: 7 });
  cluster.presetLog('n1', { terms: leaderTerms, currentTerm: 7, sharedHistory: true });
  const idOf = (name: FollowerName): string => `n${followerNames.indexOf(name) + 2}`;
  for (const name of followerNames) cluster.presetLog(idOf(name), { ...followers[name], sharedHistory: true });
  return { cluster, idOf };
}

/** The number of rejections the leader would need if it backed up one entry per rejection. */
function oneByOneRejections(followerTerms: readonly number[], leaderLog: readonly number[]): number {
  let prevLogIndex = leaderLog.length; // the new leader's first AppendEntries carries its no-op after its last entry
  let rejections = 0;
  while (prevLogIndex > 0 && followerTerms[prevLogIndex - 1] !== leaderLog[prevLogIndex - 1]) {
    rejections++;
    prevLogIndex--;
  }
  return rejections;
}

/** Distinct terms in the follower's entries past the last point it agrees with the leader. */
function distinctConflictingTerms(followerTerms: readonly number[], leaderLog: readonly number[]): number {
  let matched = 0;
  while (matched < followerTerms.length && followerTerms[matched] === leaderLog[matched]) matched++;
  return new Set(followerTerms.slice(matched)).size;
}

describe('Raft paper Figure 7: log repair', () => {
  test('the Figure 7 leader wins term 8 with the votes of the followers whose logs are not more up-to-date', () => {
    // Raft paper §5.4.1
    const { cluster, idOf } = figure7Cluster();
    cluster.campaign('n1');
    expect(cluster.leader()).toBe('n1');
    expect(cluster.node('n1').status().term).toBe(8);
    // (c) has a longer log with the same last term, (d) a higher last term: both refuse (§5.4.1).
    const refusals = cluster.sentOfType('RequestVoteResponse', (message) => !message.preVote && !message.voteGranted).map((message) => message.from);
    expect(new Set(refusals)).toEqual(new Set([idOf('c'), idOf('d')]));
  });

  test('followers (a)-(f) of Figure 7 are repaired to exactly the leader log once it is elected and proposes', () => {
    // Raft paper §5.3
    const { cluster } = figure7Cluster();
    cluster.campaign('n1');
    expect(cluster.leader()).toBe('n1');
    expect(cluster.propose('n1', 'after-election').accepted).toBe(true);
    cluster.tickAll(3);

    const expected = [...leaderTerms, 8, 8]; // the term-8 no-op and the proposal
    expect(cluster.logTerms('n1')).toEqual(expected);
    const leaderEntries = cluster.storages.get(cluster.ids[0]!)!.allEntries();
    for (const id of cluster.ids) {
      // Log Matching: same terms at every index and, entry by entry, the same contents.
      expect(cluster.logTerms(id), `log of ${id}`).toEqual(expected);
      expect(cluster.storages.get(id)!.allEntries()).toEqual(leaderEntries);
      expect(cluster.node(id).status().commitIndex, `commit index of ${id}`).toBe(12);
    }
    // Every member applied the same commands, the leader's (including its preset ones), in order.
    const leaderApplied = cluster.appliedTexts('n1');
    expect(leaderApplied.at(-1)).toBe('after-election');
    for (const id of cluster.ids) expect(cluster.appliedTexts(id)).toEqual(leaderApplied);
  });

  test('conflict-term backtracking needs about one rejected AppendEntries per conflicting term, not per entry', () => {
    // Raft paper §5.3
    const { cluster, idOf } = figure7Cluster();
    cluster.campaign('n1');
    expect(cluster.propose('n1', 'after-election').accepted).toBe(true);
    cluster.tickAll(3);

    const leaderLog = [...leaderTerms, 8];
    let totalRejections = 0;
    let totalOneByOne = 0;
    for (const name of followerNames) {
      const id = idOf(name);
      const rejections = cluster.sentOfType('AppendEntriesResponse', (message) => message.from === id && !message.success).length;
      const bound = distinctConflictingTerms(followers[name].terms, leaderLog) + 1;
      expect(rejections, `rejections from follower (${name})`).toBeLessThanOrEqual(bound);
      totalRejections += rejections;
      totalOneByOne += oneByOneRejections(followers[name].terms, leaderTerms);
    }
    // (a) 1, (b) 1, (c) 0, (d) 0, (e) 2, (f) 2 with the hint; 1 + 6 + 0 + 0 + 5 + 7 = 19 one by one.
    expect(totalRejections).toBeLessThanOrEqual(6);
    expect(totalOneByOne).toBe(19);
    // (f) holds eight conflicting entries of two terms: two round trips, not eight.
    expect(cluster.sentOfType('AppendEntriesResponse', (message) => message.from === idOf('f') && !message.success).length).toBeLessThanOrEqual(2);
    // (c) and (d) match at the leader's prevLogIndex: their extra entries are overwritten without a rejection.
    expect(cluster.sentOfType('AppendEntriesResponse', (message) => (message.from === idOf('c') || message.from === idOf('d')) && !message.success)).toEqual([]);
  });

  test('the rejection hint names the follower term at the rejected index and where that term starts', () => {
    // Raft paper §5.3
    const { cluster, idOf } = figure7Cluster();
    cluster.campaign('n1');
    const fromF = cluster.sentOfType('AppendEntriesResponse', (message) => message.from === idOf('f') && !message.success);
    // First probe: prevLogIndex 10, where (f) has term 3 starting at index 7; then prevLogIndex 6, term 2 from index 4.
    expect(fromF.map((message) => [message.matchIndex, message.conflictTerm, message.conflictIndex])).toEqual([
      [10, 3, 7],
      [6, 2, 4],
    ]);
    const fromB = cluster.sentOfType('AppendEntriesResponse', (message) => message.from === idOf('b') && !message.success);
    // (b) is too short to hold prevLogIndex 10: no term, and the index after its last entry.
    expect(fromB.map((message) => [message.matchIndex, message.conflictTerm, message.conflictIndex])).toEqual([[10, undefined, 5]]);
  });
});
