// DedupeTable: the remembered result of every recent client request, keyed by request id, so a
// retried request returns its original result and is applied once (SPEC §3.4). Beside each result
// it keeps the request's fingerprint (request-fingerprint.ts), so a different request that reused
// the id is told apart from a retry. It is part of the replicated state: every member holds the same
// table, and snapshots carry it.
//
// Invariants (asserted):
//   entries are kept in the order of the index that recorded them (a Map's insertion order, and
//   the `order` queue beside it), so eviction of the oldest index first is deterministic on every
//   member
//   size never exceeds maxEntries after a record
//   a result is only ever replaced by `resolve`, and only for the entry recorded at the index the
//   caller names (a waiter's queuing index), never for a later reuse of the same request id
//   entries are immutable: resolve swaps in a new entry at the same place, so a snapshot that
//   copied the list of entries keeps seeing them as they were when it began
//
// Why a queue beside the Map: evicting by iterating `entries.keys()` from the front is O(deleted)
// per call, because a V8 Map keeps the deleted slots at its front until it rehashes; at the
// default bound of 100 000 that scan made applying 1M requests take minutes.

import { assert } from '../assert.js';
import type { CommandResult } from './lock-results.js';
import { isFingerprint } from './request-fingerprint.js';
import { ownedText } from './text-rules.js';

export interface DedupeEntry {
  readonly requestId: string;
  /** Index of the entry that first carried this request id. */
  readonly index: number;
  /**
   * The fingerprint of the entry that first carried the id (request-fingerprint.ts); undefined when
   * there is none: the entry was proposed by an older leader, or applied by an older member whose
   * snapshot this came from. Such an entry answers any reuse of its id with its result, as then.
   */
  readonly fingerprint: number | undefined;
  readonly result: CommandResult;
}

export class DedupeTable {
  private readonly entries = new Map<string, DedupeEntry>();
  /** Request ids in record (index) order; order[oldest] is the next one evicted. */
  private order: string[] = [];
  private oldest = 0;
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

  /** The whole remembered entry of a request id: its result and the fingerprint of its request. */
  entry(requestId: string): DedupeEntry | undefined {
    return this.entries.get(requestId);
  }

  /** Remembers the first result of requestId, evicting the oldest entries beyond the bound. */
  record(requestId: string, index: number, fingerprint: number | undefined, result: CommandResult): void {
    assert(!this.entries.has(requestId), 'a request id is recorded once: retries are answered by lookup');
    assert(fingerprint === undefined || isFingerprint(fingerprint), 'a request fingerprint is a 30-bit whole number');
    // Kept for up to maxEntries requests: a copy of the command's string (see ownedText).
    this.append({ requestId: ownedText(requestId), index, fingerprint, result });
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
    // Setting an existing key keeps its place in the Map's order, so eviction order is unchanged.
    this.entries.set(requestId, { ...stored, result });
    return true;
  }

  /**
   * The entries, oldest first: the order restore needs to rebuild the same eviction order. The
   * entries are immutable, so the returned list is the table as of this call whatever happens next.
   */
  serialize(): DedupeEntry[] {
    return Array.from(this.entries.values());
  }

  static restore(serialized: readonly DedupeEntry[], maxEntries: number): DedupeTable {
    const table = new DedupeTable(maxEntries);
    for (const entry of serialized) table.restoreEntry(entry.requestId, entry.index, entry.fingerprint, entry.result);
    table.finishRestore();
    return table;
  }

  /** Appends one entry of a snapshot (oldest first); finishRestore() applies the bound afterwards. */
  restoreEntry(requestId: string, index: number, fingerprint: number | undefined, result: CommandResult): void {
    assert(typeof requestId === 'string', 'a snapshot request id is a string');
    assert(!this.entries.has(requestId), 'a snapshot holds each request id once');
    assert(fingerprint === undefined || isFingerprint(fingerprint), 'a snapshot request fingerprint is a 30-bit whole number');
    this.append({ requestId, index, fingerprint, result: freezeResult(result) });
  }

  /** A member restarted with a smaller bound evicts now, exactly as record() would have. */
  finishRestore(): void {
    this.evictBeyond(this.maxEntries);
    assert(this.entries.size <= this.maxEntries, 'the dedupe table stays within its bound');
  }

  private append(entry: DedupeEntry): void {
    assert(Number.isSafeInteger(entry.index), 'a dedupe entry is recorded at an index');
    assert(entry.index > this.newestIndex, 'entries are recorded in increasing index order');
    this.entries.set(entry.requestId, entry);
    this.order.push(entry.requestId);
    this.newestIndex = entry.index;
  }

  private evictBeyond(maxEntries: number): void {
    while (this.entries.size > maxEntries) {
      const requestId = this.order[this.oldest];
      assert(requestId !== undefined, 'every entry is in the eviction queue');
      this.order[this.oldest] = '';
      this.oldest++;
      const removed = this.entries.delete(requestId);
      assert(removed, 'the eviction queue lists only entries of the table');
    }
    // Drop the evicted prefix once it is most of the queue: amortised O(1) per record.
    if (this.oldest >= 1024 && this.oldest * 2 >= this.order.length) {
      this.order = this.order.slice(this.oldest);
      this.oldest = 0;
    }
    assert(this.order.length - this.oldest === this.entries.size, 'the eviction queue holds exactly the entries');
  }
}

/** Snapshot results arrive as fresh decoded objects; freeze them like results made by apply. */
function freezeResult(result: CommandResult): CommandResult {
  assert(typeof result === 'object' && result !== null, 'a snapshot result is an object');
  if (!result.ok) return Object.freeze({ ok: false as const, code: result.code, message: result.message });
  assert(typeof result.value === 'object' && result.value !== null, 'a snapshot success carries a value');
  return Object.freeze({ ok: true as const, value: Object.freeze({ ...result.value }) });
}
