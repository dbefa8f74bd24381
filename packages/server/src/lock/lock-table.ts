// LockTable: the records of one lock kind ('lock' or 'election'), by name, with a sorted name
// index for prefix listings and for snapshots (which write records in name order, so a restore
// rebuilds the index by appending). It owns storage and lookup only; who may hold or wait is
// decided by the LockStateMachine.
//
// The sorted index holds every record; a Map by name makes lookups O(1). A restore does not build
// the Map (a million Map.set calls were most of a restore's time): it leaves the table "filling",
// lookups fall back to a binary search of the index for names not in the Map yet, and
// fillLookups() adds records to the Map in name order, a bounded number per call, until it holds
// them all. The answers are the same either way; only their cost differs.
//
// Invariants (asserted):
//   a record exists exactly while the lock has a holder: a released lock with waiters is handed to
//   the first waiter, and one with none is deleted (so memory follows live locks only)
//   the sorted index holds every record once; the Map holds only records of the index, and all of
//   them once filling is over (and always every record inserted or named up to the fill position)
//   a record's kind is its table's kind

import { assert } from '../assert.js';
import type { LockKind } from './lock-commands.js';
import type { LockRecord } from './lock-records.js';
import { SortedNameIndex, type SortedNameView } from './sorted-name-index.js';

export const lockKinds: readonly LockKind[] = ['lock', 'election'];

export function isLockKind(value: unknown): value is LockKind {
  return value === 'lock' || value === 'election';
}

export class LockTable {
  private readonly records = new Map<string, LockRecord>();
  private readonly names = new SortedNameIndex<LockRecord>();
  /** While filling: the Map holds every record named up to `after` (nothing yet for null). */
  private filling: { after: string | null } | null = null;

  constructor(readonly kind: LockKind) {}

  get size(): number {
    return this.names.size;
  }

  get(name: string): LockRecord | undefined {
    const record = this.records.get(name);
    if (record !== undefined || this.filling === null) return record;
    return this.names.find(name);
  }

  insert(record: LockRecord): void {
    assert(record.kind === this.kind, 'a record lives in the table of its kind');
    // The index refuses a second record of a name (filling or not), so no Map lookup is needed.
    const added = this.names.add(record);
    assert(added, 'a lock has one record');
    this.records.set(record.name, record);
  }

  /**
   * Inserts a record whose name sorts after every other: O(1), for restoring sorted snapshots. The
   * table is then filling: its Map is built by fillLookups().
   */
  insertLargest(record: LockRecord): void {
    assert(record.kind === this.kind, 'a record lives in the table of its kind');
    assert(this.records.size === 0, 'a restored table fills its Map after the restore');
    this.names.appendLargest(record); // asserts the name is larger, hence new
    this.filling ??= { after: null };
  }

  delete(record: LockRecord): void {
    assert(record.waiters === null, 'a record with waiters is handed on, never deleted');
    const removed = this.names.delete(record.name);
    assert(removed === record, 'only a record of the table is deleted');
    const inMap = this.records.delete(record.name);
    assert(inMap || this.filling !== null, 'the Map holds every record once filled');
  }

  /** Adds up to maxRecords records to the name Map; true once the Map holds them all. */
  fillLookups(maxRecords: number): boolean {
    const filling = this.filling;
    if (filling === null) return true;
    assert(maxRecords >= 1, 'a fill adds at least one record');
    const records = this.names.itemsAfter(filling.after, maxRecords);
    for (const record of records) this.records.set(record.name, record);
    const last = records[records.length - 1];
    if (last !== undefined) filling.after = last.name;
    if (records.length === maxRecords) return false;
    this.filling = null;
    assert(this.records.size === this.names.size, 'a filled Map holds every record');
    return true;
  }

  /** Records whose name starts with prefix, in name order. */
  withPrefix(prefix: string): Generator<LockRecord, void, undefined> {
    return this.names.withPrefix(prefix);
  }

  /** The records in name order as they are now, until closeView(), whatever changes (a snapshot's walk). */
  openView(): SortedNameView<LockRecord> {
    return this.names.openView();
  }

  closeView(): void {
    this.names.closeView();
  }

  /** O(size log size): for tests and simulation checkers. */
  checkInvariants(): void {
    this.names.checkInvariants();
    if (this.filling === null) assert(this.names.size === this.records.size, 'the name Map holds every record once');
    else assert(this.records.size <= this.names.size, 'a filling Map holds only records of the index');
    for (const record of this.names.values()) {
      assert(this.get(record.name) === record, 'every record of the index is found by its name');
    }
    for (const [name, record] of this.records) {
      assert(record.name === name, 'a record is filed under its own name');
      assert(record.kind === this.kind, 'a record lives in the table of its kind');
      assert(this.names.find(name) === record, 'every record is in the name index');
    }
  }
}
