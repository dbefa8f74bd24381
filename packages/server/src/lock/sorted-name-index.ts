// SortedNameIndex: items with unique names (lock records), kept in name order, for prefix listings
// over up to millions of locks without sorting on every read, and for snapshots, which walk the
// records in name order and hand them back in that order so a restore builds the index by appending.
//
// It is a list of sorted chunks (the layout of Python's sortedcontainers): finding a name is a
// binary search over the chunks' first names and then inside one chunk, and an insert or delete
// moves at most one chunk's worth of items plus, rarely, the chunk list. With 1M names and chunks
// of 512 that is ~2k chunks: every operation touches a few thousand slots at most, where a single
// sorted array would move up to a million. It holds the items themselves, not their names, so a
// walk reads records without a lookup per name.
//
// Order is JavaScript string order (UTF-16 code units). For prefix queries any lexicographic order
// works, since all strings that share a prefix are contiguous in it.
//
// Invariants (asserted):
//   every chunk is non-empty, sorted by name, and holds at most maxChunkLength items
//   the last name of a chunk is smaller than the first name of the next chunk (names are unique)
//   size is the sum of the chunks' lengths
//   while a view is open, no chunk the view holds is ever changed: a change to such a chunk first
//   replaces it with a copy (copy-on-write per chunk), so the view stays the index as it was

import { assert } from '../assert.js';

export interface Named {
  readonly name: string;
}

/** The index as it was when the view was opened, however it changed since (see openView). */
export interface SortedNameView<Item extends Named> {
  readonly chunks: readonly (readonly Item[])[];
  readonly size: number;
}

export class SortedNameIndex<Item extends Named> {
  private readonly chunks: Item[][] = [];
  private count = 0;
  /** Chunks an open view still shares with the index; null when no view is open. */
  private shared: Set<Item[]> | null = null;

  constructor(private readonly maxChunkLength = 512) {
    assert(Number.isSafeInteger(maxChunkLength), 'chunk length is an integer');
    assert(maxChunkLength >= 2, 'a chunk can be split in two');
  }

  get size(): number {
    return this.count;
  }

  /** The item named name, or undefined. */
  find(name: string): Item | undefined {
    const chunk = this.chunks[this.chunkIndexFor(name)];
    if (chunk === undefined) return undefined;
    const item = chunk[lowerBound(chunk, name)];
    return item?.name === name ? item : undefined;
  }

  /** Adds item; returns false (and changes nothing) when an item of that name is there. */
  add(item: Item): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push([item]);
      this.count = 1;
      return true;
    }
    const chunkIndex = this.chunkIndexFor(item.name);
    const found = this.chunks[chunkIndex];
    assert(found !== undefined, 'a non-empty index always has a chunk for a name');
    const position = lowerBound(found, item.name);
    if (found[position]?.name === item.name) return false;
    const chunk = this.writableChunk(chunkIndex, found);
    chunk.splice(position, 0, item);
    this.count++;
    if (chunk.length > this.maxChunkLength) {
      // Split in halves so both stay well under the limit and the next inserts move little.
      const upperHalf = chunk.splice(chunk.length >> 1);
      this.chunks.splice(chunkIndex + 1, 0, upperHalf);
    }
    return true;
  }

  /** Removes the item named name; returns it, or undefined when there was none. */
  delete(name: string): Item | undefined {
    const chunkIndex = this.chunkIndexFor(name);
    const found = this.chunks[chunkIndex];
    if (found === undefined) return undefined;
    const position = lowerBound(found, name);
    const item = found[position];
    if (item?.name !== name) return undefined;
    const chunk = this.writableChunk(chunkIndex, found);
    chunk.splice(position, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(chunkIndex, 1);
    assert(this.count >= 0, 'an index never holds fewer than zero items');
    return item;
  }

  /**
   * Adds an item named after every item in the index: O(1), for rebuilding from sorted input.
   * Chunks are filled to half their limit, so the inserts that follow split them rarely.
   */
  appendLargest(item: Item): void {
    const last = this.chunks[this.chunks.length - 1];
    const largest = last?.[last.length - 1];
    assert(largest === undefined || largest.name < item.name, 'appended names strictly increase');
    if (last === undefined || last.length >= this.maxChunkLength >> 1) {
      this.chunks.push([item]);
    } else {
      // A view shares the last chunk only if opened between appends: copy it like any change.
      this.writableChunk(this.chunks.length - 1, last).push(item);
    }
    this.count++;
  }

  /**
   * A view of the index as it is now that stays valid, unchanged, while the index changes, until
   * closeView(). Opening costs O(chunks), not O(size): the chunks are shared and copied only when
   * the index changes one of them (at most once each per view).
   */
  openView(): SortedNameView<Item> {
    assert(this.shared === null, 'an index has at most one open view');
    this.shared = new Set(this.chunks);
    return { chunks: this.chunks.slice(), size: this.count };
  }

  closeView(): void {
    assert(this.shared !== null, 'only an open view is closed');
    this.shared = null;
  }

  /** The items whose name starts with prefix, in order; stops early when the caller stops iterating. */
  *withPrefix(prefix: string): Generator<Item, void, undefined> {
    let chunkIndex = this.chunkIndexFor(prefix);
    let position = lowerBound(this.chunks[chunkIndex] ?? [], prefix);
    for (; chunkIndex < this.chunks.length; chunkIndex++, position = 0) {
      const chunk = this.chunks[chunkIndex] ?? [];
      for (; position < chunk.length; position++) {
        const item = chunk[position];
        assert(item !== undefined, 'chunks are dense');
        if (!item.name.startsWith(prefix)) return;
        yield item;
      }
    }
  }

  /**
   * Up to maxItems items named after `after` (from the first for null), in name order. An array, not
   * a generator: a restored table fills its lookups from here, a slice at a time over up to millions.
   */
  itemsAfter(after: string | null, maxItems: number): Item[] {
    const items: Item[] = [];
    let chunkIndex = after === null ? 0 : this.chunkIndexFor(after);
    let position = after === null ? 0 : lowerBound(this.chunks[chunkIndex] ?? [], after);
    for (; chunkIndex < this.chunks.length && items.length < maxItems; chunkIndex++, position = 0) {
      const chunk = this.chunks[chunkIndex] ?? [];
      if (position < chunk.length && chunk[position]?.name === after) position++;
      const end = Math.min(chunk.length, position + maxItems - items.length);
      for (; position < end; position++) {
        const item = chunk[position];
        assert(item !== undefined, 'chunks are dense');
        items.push(item);
      }
    }
    return items;
  }

  /** Every item, in name order. */
  values(): Generator<Item, void, undefined> {
    return this.withPrefix('');
  }

  /** O(size): for tests and invariant checks, not for the apply path. */
  checkInvariants(): void {
    let total = 0;
    let previous: string | undefined;
    for (const chunk of this.chunks) {
      assert(chunk.length > 0, 'chunks are never empty');
      assert(chunk.length <= this.maxChunkLength, 'chunks stay within their length limit');
      for (const item of chunk) {
        assert(previous === undefined || previous < item.name, 'names are strictly increasing across chunks');
        previous = item.name;
      }
      total += chunk.length;
    }
    assert(total === this.count, 'size counts every item once');
  }

  /** The chunk at chunkIndex, first replaced by a copy when an open view shares it. */
  private writableChunk(chunkIndex: number, chunk: Item[]): Item[] {
    assert(this.chunks[chunkIndex] === chunk, 'the chunk is the one at its index');
    if (this.shared === null || !this.shared.delete(chunk)) return chunk;
    const copy = chunk.slice();
    this.chunks[chunkIndex] = copy;
    return copy;
  }

  /** The chunk whose range covers name: the last chunk starting at or below it (or the first). */
  private chunkIndexFor(name: string): number {
    let low = 0;
    let high = this.chunks.length - 1;
    if (high < 0) return 0;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      const first = this.chunks[middle]?.[0];
      assert(first !== undefined, 'chunks are never empty');
      if (first.name <= name) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}

/** First position in a chunk whose name is not below name. */
function lowerBound(sorted: readonly Named[], name: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((sorted[middle]?.name ?? '') < name) low = middle + 1;
    else high = middle;
  }
  return low;
}
