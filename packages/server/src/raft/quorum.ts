// Majority math, pure functions (etcd-io/raft quorum/). Kept apart so joint configurations can
// replace them without touching the node.

import type { LogIndex } from '../ids.js';

export function majoritySize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The highest index that a majority of voters have matched (the commit candidate): the largest
 * value that at least a majority of the values reach. The leader asks on every acknowledgement, so
 * this counts in place (voters are a handful) instead of copying and sorting the list each time.
 */
export function majorityMatchIndex(matchIndexes: readonly LogIndex[]): LogIndex {
  if (matchIndexes.length === 0) throw new RangeError('majorityMatchIndex needs at least one voter');
  const needed = majoritySize(matchIndexes.length);
  let best = -1;
  for (let i = 0; i < matchIndexes.length; i++) {
    const candidate = matchIndexes[i]!;
    if (candidate <= best) continue;
    let reached = 0;
    for (let j = 0; j < matchIndexes.length; j++) if (matchIndexes[j]! >= candidate) reached++;
    if (reached >= needed) best = candidate;
  }
  // The smallest value is reached by every voter, so some candidate always qualifies.
  return best as LogIndex;
}

export type VoteOutcome = 'won' | 'lost' | 'pending';

export function voteOutcome(voterCount: number, granted: number, rejected: number): VoteOutcome {
  const needed = majoritySize(voterCount);
  if (granted >= needed) return 'won';
  if (rejected > voterCount - needed) return 'lost';
  return 'pending';
}
