// WriteGroup: the persist() calls that land in one LMDB transaction, and so share one fsync (group
// commit). lmdb-js commits every write issued in one event-loop turn as one transaction on its write
// thread (eventTurnBatching), and hands all of them the same commit promise: that promise is the
// group's identity. A group is open from its first persist() until the turn ends.
//
// Invariants: a persist's operations are issued synchronously, so they are all in one group (one
// transaction: on disk whole or not at all); groups commit in the order they were opened.

import { assert } from '../assert.js';
import type { LogEntry } from '../raft/log-entry.js';

export class WriteGroup {
  private readonly writtenEntries: LogEntry[] = [];
  private persists = 0;

  constructor(
    /** lmdb-js's commit promise for the transaction this group's writes are in. */
    readonly committed: Promise<unknown>,
    /** performance.now() when the first write of the group was issued. */
    readonly startedAtMs: number,
  ) {}

  add(entries: readonly LogEntry[]): void {
    this.persists += 1;
    for (const entry of entries) this.writtenEntries.push(entry);
    assert(this.persists >= 1, 'a group counts the persists in it');
  }

  get entryCount(): number {
    return this.writtenEntries.length;
  }

  get persistCount(): number {
    return this.persists;
  }

  /** Every entry this group writes, for the cache of recently durable entries. */
  entries(): readonly LogEntry[] {
    return this.writtenEntries;
  }
}
