// WriteGroup: the persist() calls that share one LMDB transaction, and so one fsync (group commit).
// A group is open from its first persist() until LMDB runs its transaction callback; every persist
// made meanwhile (at least the rest of that event-loop turn, longer while the previous group is
// still syncing) joins it. Invariants: operations are written in the order they were persisted, so
// the transaction leaves the disk exactly as MemoryStorage.persist would have left memory; each
// operation was validated and encoded before it was added, so writing it cannot fail on bad input.

import { assert } from '../assert.js';
import type { LogIndex } from '../ids.js';
import type { LogEntry } from '../raft/log-entry.js';
import { metaKeys } from './meta-record.js';
import type { Environment } from './open-environment.js';

/** One persist() call, ready to write. */
export interface PersistOperation {
  readonly entries: readonly LogEntry[];
  readonly encodedEntries: readonly Uint8Array[];
  readonly encodedHardState: Uint8Array | undefined;
  /** Stale tail beyond the new last index, [removeFrom, removeThrough]; empty when removeFrom > removeThrough. */
  readonly removeFrom: LogIndex;
  readonly removeThrough: LogIndex;
}

export class WriteGroup {
  private readonly operations: PersistOperation[] = [];
  private entryCountTotal = 0;
  private written = false;

  add(operation: PersistOperation): void {
    assert(!this.written, 'a group takes no persists once its transaction ran');
    assert(operation.entries.length === operation.encodedEntries.length, 'every entry is encoded');
    this.operations.push(operation);
    this.entryCountTotal += operation.entries.length;
  }

  get entryCount(): number {
    return this.entryCountTotal;
  }

  get persistCount(): number {
    return this.operations.length;
  }

  /** Every entry this group writes, for dropping them from the unflushed view once durable. */
  *entries(): Generator<LogEntry> {
    for (const operation of this.operations) yield* operation.entries;
  }

  /** Runs inside the LMDB write transaction: puts and removes apply immediately, in order. */
  writeTo(environment: Environment): void {
    assert(!this.written, 'a group is written once');
    assert(this.operations.length > 0, 'a group exists only for a persist');
    this.written = true;
    for (const operation of this.operations) {
      operation.entries.forEach((entry, position) => {
        const encoded = operation.encodedEntries[position];
        assert(encoded !== undefined, 'every entry has its encoding');
        void environment.log.put(entry.index, encoded);
      });
      // Put before remove is safe inside one transaction: nothing in between is visible to anyone.
      for (let index = operation.removeFrom; index <= operation.removeThrough; index++) {
        void environment.log.remove(index);
      }
      if (operation.encodedHardState !== undefined) {
        void environment.meta.put(metaKeys.hardState, operation.encodedHardState);
      }
    }
  }
}
