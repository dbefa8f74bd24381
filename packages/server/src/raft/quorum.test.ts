// Unit tests of the majority math (Raft paper §5.2 elections, §5.3 commitment).

import { describe, expect, test } from 'vitest';
import { asLogIndex } from '../ids.js';
import { majorityMatchIndex, majoritySize, voteOutcome } from './quorum.js';

describe('quorum (Raft paper §5.2, §5.3)', () => {
  test('a majority is more than half of the voters', () => {
    // Raft paper §5.2
    expect([1, 2, 3, 4, 5, 6, 7].map(majoritySize)).toEqual([1, 2, 2, 3, 3, 4, 4]);
  });

  test('the commit candidate is the highest index stored on a majority', () => {
    // Raft paper §5.3
    const indexes = (values: number[]) => values.map(asLogIndex);
    expect(majorityMatchIndex(indexes([5]))).toBe(5);
    expect(majorityMatchIndex(indexes([5, 3, 9]))).toBe(5);
    expect(majorityMatchIndex(indexes([1, 9, 9, 2, 3]))).toBe(3);
    expect(majorityMatchIndex(indexes([4, 4, 1, 1]))).toBe(1);
    expect(() => majorityMatchIndex([])).toThrow(RangeError);
  });

  test('an election is won with a majority of grants and lost once a majority is out of reach', () => {
    // Raft paper §5.2
    expect(voteOutcome(3, 2, 0)).toBe('won');
    expect(voteOutcome(3, 1, 1)).toBe('pending');
    expect(voteOutcome(3, 1, 2)).toBe('lost');
    expect(voteOutcome(5, 2, 2)).toBe('pending');
    expect(voteOutcome(5, 2, 3)).toBe('lost');
    expect(voteOutcome(4, 2, 2)).toBe('lost');
    expect(voteOutcome(1, 1, 0)).toBe('won');
  });
});
