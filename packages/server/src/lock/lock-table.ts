// LockTable: the records of one lock kind ('lock' or 'election'), by name, with a sorted name
// index for prefix listings. It owns storage and lookup only; who may hold or wait is decided by
// the LockStateMachine.
//
// Invariants (asserted):
//   a record exists exactly while the lock has a holder: a released lock with waiters is handed to
//   the first waiter, and one with none is deleted (so memory follows live locks only)
//   every record's name is in the sorted index and every indexed name has a record
//   a record's kind is its table's kind

import { assert } from '../assert.js';
import type { LockKind } from './lock-commands.js';
import { SortedStringSet } from './sorted-string-set.js';

export interface LockHolder {
  readonly sessionId: string;
  /** Fencing token: the index of the granting entry (SPEC §3.2). */
  readonly token: number;
  /** Leader wall time when granted, for display only. */
  readonly sinceTimeMs: number;
  readonly metadata: string;
  /** Elections: the leader's value, changed by Proclaim. '' for locks. */
  value: string;
}

export interface LockWaiter {
  readonly sessionId: string;
  /** The queued Acquire's request id: its dedupe entry is resolved when the wait ends. */
  readonly requestId: string;
  /** Index of the Acquire entry that queued it. */
  readonly sinceIndex: number;
  readonly metadata: string;
  readonly value: string;
}

export interface LockRecord {
  readonly kind: LockKind;
  readonly name: string;
  holder: LockHolder;
  /** FIFO: waiters[0] is granted next. */
  readonly waiters: LockWaiter[];
}

export const lockKinds: readonly LockKind[] = ['lock', 'election'];

export function isLockKind(value: unknown): value is LockKind {
  return value === 'lock' || value === 'election';
}

/** A session's reference to a lock. Names hold no control characters, so '\u0000' cannot clash. */
export function lockKey(kind: LockKind, name: string): string {
  return `${kind}\u0000${name}`;
}

export function parseLockKey(key: string): { kind: LockKind; name: string } {
  const separator = key.indexOf('\u0000');
  const kind = key.slice(0, separator);
  assert(separator > 0, 'a lock key holds a kind and a name');
  assert(isLockKind(kind), 'a lock key starts with a lock kind');
  return { kind, name: key.slice(separator + 1) };
}

export class LockTable {
  private readonly records = new Map<string, LockRecord>();
  private readonly names = new SortedStringSet();

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
    const added = this.names.add(record.name);
    assert(added, 'the name index mirrors the records');
  }

  delete(name: string): void {
    const record = this.records.get(name);
    assert(record !== undefined, 'only an existing record is deleted');
    assert(record.waiters.length === 0, 'a record with waiters is handed on, never deleted');
    this.records.delete(name);
    const removed = this.names.delete(name);
    assert(removed, 'the name index mirrors the records');
  }

  /** Records whose name starts with prefix, in name order. */
  *withPrefix(prefix: string): Generator<LockRecord, void, undefined> {
    for (const name of this.names.withPrefix(prefix)) {
      const record = this.records.get(name);
      assert(record !== undefined, 'every indexed name has a record');
      yield record;
    }
  }

  /** O(size): for tests, restore and simulation checkers. */
  checkInvariants(): void {
    this.names.checkInvariants();
    assert(this.names.size === this.records.size, 'the name index holds every record once');
    for (const [name, record] of this.records) {
      assert(record.name === name, 'a record is filed under its own name');
      assert(record.kind === this.kind, 'a record lives in the table of its kind');
      assert(this.names.has(name), 'every record is in the name index');
    }
  }
}
