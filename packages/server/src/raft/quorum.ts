// Majority math, pure functions (etcd-io/raft quorum/). Kept apart so joint configurations can
// replace them without touching the node.

import type { LogIndex } from '../ids.js';

export function majoritySize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/** The highest index that a majority of voters have matched (the commit candidate). */
export function majorityMatchIndex(matchIndexes: readonly LogIndex[]): LogIndex {
  const sortedDescending = [...matchIndexes].sort((left, right) => right - left);
  const value = sortedDescending[majoritySize(matchIndexes.length) - 1];
  if (value === undefined) throw new RangeError('majorityMatchIndex needs at least one voter');
  return value;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

export function voteOutcome(voterCount: number, granted: number, rejected: number): VoteOutcome {
  const needed = majoritySize(voterCount);
  if (granted >= needed) return 'won';
  if (rejected > voterCount - needed) return 'lost';
  return 'pending';
}
