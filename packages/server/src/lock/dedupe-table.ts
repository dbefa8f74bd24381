// DedupeTable: the remembered result of every recent client request, keyed by request id, so a
// retried request returns its original result and is applied once (SPEC §3.4). It is part of the
// replicated state: every member holds the same table, and snapshots carry it.
//
// Invariants (asserted):
//   entries are kept in the order of the index that recorded them (a Map's insertion order), so
//   eviction of the oldest index first is deterministic on every member
//   size never exceeds maxEntries after a record
//   a result is only ever replaced by `resolve`, and only for the entry recorded at the index the
//   caller names (a waiter's queuing index), never for a later reuse of the same request id

import { assert } from '../assert.js';
import type { CommandResult } from './lock-results.js';

export interface DedupeEntry {
  readonly requestId: string;
  /** Index of the entry that first carried this request id. */
  readonly index: number;
  readonly result: CommandResult;
}

interface StoredResult {
  readonly index: number;
  result: CommandResult;
}

export class DedupeTable {
  private readonly entries = new Map<string, StoredResult>();
  private newestIndex = 0;

  constructor(private readonly maxEntries: number) {
    assert(Number.isSafeInteger(maxEntries), 'the dedupe bound is an integer');
    assert(maxEntries >= 1, 'the dedupe table holds at least one entry');
  }

  get size(): number {
    return this.entries.size;
  }

  lookup(requestId: string): CommandResult | undefined {
    return this.entries.get(requestId)?.result;
  }

  /** Remembers the first result of requestId, evicting the oldest entries beyond the bound. */
  record(requestId: string, index: number, result: CommandResult): void {
    assert(!this.entries.has(requestId), 'a request id is recorded once: retries are answered by lookup');
    assert(index > this.newestIndex, 'entries are recorded in increasing index order');
    this.entries.set(requestId, { index, result });
    this.newestIndex = index;
    this.evictBeyond(this.maxEntries);
    assert(this.entries.size <= this.maxEntries, 'the dedupe table stays within its bound');
  }

  /**
   * Replaces the result recorded at index for requestId (a queued waiter's result becomes its final
   * outcome). Does nothing when that entry was evicted or the id now belongs to a later request.
   */
  resolve(requestId: string, index: number, result: CommandResult): boolean {
    const stored = this.entries.get(requestId);
    if (stored === undefined || stored.index !== index) return false;
    const remembered = stored.result;
    assert(remembered.ok, 'only a successful (queued) result is ever resolved');
    assert('state' in remembered.value, 'only an Acquire result is ever resolved');
    assert(remembered.value.state === 'queued', 'only a queued result is ever resolved');
    stored.result = result;
    return true;
  }

  /** Oldest first: the order restore needs to rebuild the same eviction order. */
  serialize(): DedupeEntry[] {
    const serialized: DedupeEntry[] = [];
    for (const [requestId, stored] of this.entries) {
      serialized.push({ requestId, index: stored.index, result: stored.result });
    }
    return serialized;
  }

  static restore(serialized: readonly DedupeEntry[], maxEntries: number): DedupeTable {
    const table = new DedupeTable(maxEntries);
    for (const entry of serialized) {
      assert(!table.entries.has(entry.requestId), 'a snapshot holds each request id once');
      assert(entry.index > table.newestIndex, 'a snapshot lists entries in increasing index order');
      table.entries.set(entry.requestId, { index: entry.index, result: freezeResult(entry.result) });
      table.newestIndex = entry.index;
    }
    // A member restarted with a smaller bound evicts now, exactly as record() would have.
    table.evictBeyond(maxEntries);
    return table;
  }

  private evictBeyond(maxEntries: number): void {
    for (const requestId of this.entries.keys()) {
      if (this.entries.size <= maxEntries) break;
      this.entries.delete(requestId);
    }
  }
}

/** Snapshot results arrive as fresh decoded objects; freeze them like results made by apply. */
function freezeResult(result: CommandResult): CommandResult {
  if (!result.ok) return Object.freeze({ ok: false as const, code: result.code, message: result.message });
  return Object.freeze({ ok: true as const, value: Object.freeze({ ...result.value }) });
}
