// LockTable: the records of one lock kind ('lock' or 'election'), by name, with a sorted name
// index for prefix listings and for snapshots (which write records in name order, so a restore
// rebuilds the index by appending). It owns storage and lookup only; who may hold or wait is
// decided by the LockStateMachine.
//
// Invariants (asserted):
//   a record exists exactly while the lock has a holder: a released lock with waiters is handed to
//   the first waiter, and one with none is deleted (so memory follows live locks only)
//   every record's name is in the sorted index and every indexed name has a record
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

  constructor(readonly kind: LockKind) {}

  get size(): number {
    return this.records.size;
  }

  get(name: string): LockRecord | undefined {
    return this.records.get(name);
  }

  insert(record: LockRecord): void {
    assert(record.kind === this.kind, 'a record lives in the table of its kind');
    assert(!this.records.has(record.name), 'a lock has one record');
    this.records.set(record.name, record);
    const added = this.names.add(record);
    assert(added, 'the name index mirrors the records');
  }

  /** Inserts a record whose name sorts after every other: O(1), for restoring sorted snapshots. */
  insertLargest(record: LockRecord): void {
    assert(record.kind === this.kind, 'a record lives in the table of its kind');
    this.names.appendLargest(record); // asserts the name is larger, hence new
    this.records.set(record.name, record);
    assert(this.records.size === this.names.size, 'the name index mirrors the records');
  }

  delete(name: string): void {
    const record = this.records.get(name);
    assert(record !== undefined, 'only an existing record is deleted');
    assert(record.waiters === null, 'a record with waiters is handed on, never deleted');
    this.records.delete(name);
    const removed = this.names.delete(name);
    assert(removed === record, 'the name index mirrors the records');
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
    assert(this.names.size === this.records.size, 'the name index holds every record once');
    for (const [name, record] of this.records) {
      assert(record.name === name, 'a record is filed under its own name');
      assert(record.kind === this.kind, 'a record lives in the table of its kind');
      assert(this.names.find(name) === record, 'every record is in the name index');
    }
  }
}
