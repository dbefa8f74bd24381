// SortedStringSet: a set of strings kept in sorted order, for prefix listings over up to millions
// of lock names without sorting on every read.
//
// It is a list of sorted chunks (the layout of Python's sortedcontainers): finding a string is a
// binary search over the chunks' first strings and then inside one chunk, and an insert or delete
// moves at most one chunk's worth of strings plus, rarely, the chunk list. With 1M names and
// chunks of 512 that is ~2k chunks: every operation touches a few thousand slots at most, where a
// single sorted array would move up to a million.
//
// Order is JavaScript string order (UTF-16 code units). For prefix queries any lexicographic order
// works, since all strings that share a prefix are contiguous in it.
//
// Invariants (asserted):
//   every chunk is non-empty, sorted, and holds at most maxChunkLength strings
//   the last string of a chunk is smaller than the first string of the next chunk
//   size is the sum of the chunks' lengths

import { assert } from '../assert.js';

export class SortedStringSet {
  private readonly chunks: string[][] = [];
  private count = 0;

  constructor(private readonly maxChunkLength = 512) {
    assert(Number.isSafeInteger(maxChunkLength), 'chunk length is an integer');
    assert(maxChunkLength >= 2, 'a chunk can be split in two');
  }

  get size(): number {
    return this.count;
  }

  has(value: string): boolean {
    const chunk = this.chunks[this.chunkIndexFor(value)];
    if (chunk === undefined) return false;
    return chunk[lowerBound(chunk, value)] === value;
  }

  /** Adds value; returns false when it was already there. */
  add(value: string): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([value]);
      this.count = 1;
      return true;
    }
    const chunkIndex = this.chunkIndexFor(value);
    const chunk = this.chunks[chunkIndex];
    assert(chunk !== undefined, 'a non-empty set always has a chunk for a value');
    const position = lowerBound(chunk, value);
    if (chunk[position] === value) return false;
    chunk.splice(position, 0, value);
    this.count++;
    if (chunk.length > this.maxChunkLength) {
      // Split in halves so both stay well under the limit and the next inserts move little.
      const upperHalf = chunk.splice(chunk.length >> 1);
      this.chunks.splice(chunkIndex + 1, 0, upperHalf);
    }
    return true;
  }

  /** Removes value; returns false when it was not there. */
  delete(value: string): boolean {
    const chunkIndex = this.chunkIndexFor(value);
    const chunk = this.chunks[chunkIndex];
    if (chunk === undefined) return false;
    const position = lowerBound(chunk, value);
    if (chunk[position] !== value) return false;
    chunk.splice(position, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(chunkIndex, 1);
    assert(this.count >= 0, 'a set never holds fewer than zero strings');
    return true;
  }

  /** The strings that start with prefix, in order; stops early when the caller stops iterating. */
  *withPrefix(prefix: string): Generator<string, void, undefined> {
    let chunkIndex = this.chunkIndexFor(prefix);
    let position = lowerBound(this.chunks[chunkIndex] ?? [], prefix);
    for (; chunkIndex < this.chunks.length; chunkIndex++, position = 0) {
      const chunk = this.chunks[chunkIndex] ?? [];
      for (; position < chunk.length; position++) {
        const value = chunk[position] ?? '';
        if (!value.startsWith(prefix)) return;
        yield value;
      }
    }
  }

  /** Every string, in order. */
  values(): Generator<string, void, undefined> {
    return this.withPrefix('');
  }

  /** O(size): for tests and invariant checks, not for the apply path. */
  checkInvariants(): void {
    let total = 0;
    let previous: string | undefined;
    for (const chunk of this.chunks) {
      assert(chunk.length > 0, 'chunks are never empty');
      assert(chunk.length <= this.maxChunkLength, 'chunks stay within their length limit');
      for (const value of chunk) {
        assert(previous === undefined || previous < value, 'strings are strictly increasing across chunks');
        previous = value;
      }
      total += chunk.length;
    }
    assert(total === this.count, 'size counts every string once');
  }

  /** The chunk whose range covers value: the last chunk starting at or below it (or the first). */
  private chunkIndexFor(value: string): number {
    let low = 0;
    let high = this.chunks.length - 1;
    if (high < 0) return 0;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      const first = this.chunks[middle]?.[0];
      assert(first !== undefined, 'chunks are never empty');
      if (first <= value) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

/** First position in a sorted array whose string is not below value. */
function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle] ?? '') < value) low = middle + 1;
    else high = middle;
  }
  return low;
}
