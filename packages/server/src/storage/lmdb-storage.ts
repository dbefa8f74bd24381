// LmdbStorage: the durable RaftStorage. It owns a member's log, hard state and snapshot boundary
// in one LMDB environment under --data-dir, and is the only writer of that environment.
//
// Reads are synchronous and come from an in-memory view: the term of every index (so term() is
// O(1)), the hard state, and the entries handed to persist() that are not yet durable ("unflushed").
// Older entries are decoded from LMDB on demand. Writes are group commits: persist() updates the
// view at once (the core may read its own writes right away, as with MemoryStorage) and joins the
// open WriteGroup; LMDB runs one transaction, with one fsync, per group.
//
// Invariants:
//   - persist() keeps MemoryStorage.persist's rules (asserted): no gap, contiguous entries, the
//     conflicting tail from entries[0].index replaced, the hard state term never decreasing;
//   - persist()'s promise resolves only once its group is committed and fsynced (see
//     open-environment.ts for why overlappingSync must be off); groups commit in order, so a resolved
//     persist also means every earlier persist is durable;
//   - each group is one child transaction: it lands on disk whole or not at all;
//   - every index in [firstIndex, lastIndex] is either unflushed or on disk with the term the view
//     holds (checked on every read: the pair of the checks made before the write);
//   - after a failed write the storage is failed: its view is ahead of its disk, so every later
//     persist() rejects and the member must stop (Raft then fails over; restarting re-reads the disk).

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../assert.js';
import { asLogIndex, asTerm, noNode, type LogIndex, type Term } from '../ids.js';
import { entrySizeBytes, type HardState, type LogEntry } from '../raft/log-entry.js';
import type { RaftStorage } from '../raft/ports.js';
import { decodeLogEntry, encodeLogEntry } from './log-record.js';
import { decodeHardState, decodeSnapshotBoundary, encodeHardState, metaKeys, type SnapshotBoundary } from './meta-record.js';
import { openEnvironment, type Environment } from './open-environment.js';
import type { StorageIdentity } from './storage-identity.js';
import { WriteGroup, type PersistOperation } from './write-group.js';

export { DataDirError } from './data-dir-error.js';
export type { StorageIdentity } from './storage-identity.js';

export interface LmdbStorageOptions {
  readonly dataDir: string;
  readonly identity: StorageIdentity;
  /**
   * Called once per durable transaction with how long LMDB took from starting it to having it on
   * disk (commit + fsync), and how many entries it wrote (for an fsync latency histogram). Must not
   * throw: an exception would reject the persist() calls of a transaction that is in fact durable.
   */
  readonly onPersist?: (durationMs: number, entryCount: number) => void;
}

export interface LmdbStorageStats {
  /** Durable transactions (fsyncs) completed. */
  readonly transactions: number;
  /** persist() calls that wrote something and are durable. */
  readonly persists: number;
  readonly entriesWritten: number;
}

interface OpenGroup {
  readonly group: WriteGroup;
  readonly durable: Promise<void>;
}

interface PersistedState {
  readonly hardState: HardState | undefined;
  readonly snapshot: SnapshotBoundary;
  readonly terms: Term[];
}

const initialHardState: HardState = { term: asTerm(0), votedFor: noNode, commitIndex: asLogIndex(0) };
const dataFileName = 'data.mdb';

export class LmdbStorage implements RaftStorage {
  /** Opens (creating if needed) the data dir; throws DataDirError if it is not this member's. */
  static open(options: LmdbStorageOptions): LmdbStorage {
    const environment = openEnvironment(options.dataDir, options.identity);
    try {
      return new LmdbStorage(options, environment, loadPersistedState(environment));
    } catch (error) {
      // Best effort: the failed load is what the caller needs to see, not a failure to close after it.
      environment.root.close().catch(() => undefined);
      throw error;
    }
  }

  readonly identity: StorageIdentity;
  private readonly dataDir: string;
  private readonly environment: Environment;
  private readonly onPersist: ((durationMs: number, entryCount: number) => void) | undefined;
  private readonly snapshot: SnapshotBoundary;
  private hardState: HardState;
  private hardStatePersisted: boolean;
  /** terms[i] is the term of index snapshot.index + 1 + i. */
  private readonly terms: Term[];
  /** Entries handed to persist() whose group is not durable yet, by index. */
  private readonly unflushed = new Map<number, LogEntry>();
  private openGroup: OpenGroup | undefined;
  /** Settles once every write issued so far is durable (or has failed). */
  private lastWrite: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private transactionCount = 0;
  private persistCount = 0;
  private entriesWrittenCount = 0;

  private constructor(options: LmdbStorageOptions, environment: Environment, state: PersistedState) {
    this.identity = { clusterId: options.identity.clusterId, nodeId: options.identity.nodeId };
    this.dataDir = options.dataDir;
    this.environment = environment;
    this.onPersist = options.onPersist;
    this.snapshot = state.snapshot;
    this.hardState = state.hardState ?? initialHardState;
    this.hardStatePersisted = state.hardState !== undefined;
    this.terms = state.terms;
  }

  /** A fresh member: no hard state and no entries persisted yet. */
  isEmpty(): boolean {
    return !this.hardStatePersisted && this.terms.length === 0 && this.snapshot.index === 0;
  }

  initialHardState(): HardState {
    return this.hardState;
  }

  firstIndex(): LogIndex {
    return asLogIndex(this.snapshot.index + 1);
  }

  lastIndex(): LogIndex {
    return asLogIndex(this.snapshot.index + this.terms.length);
  }

  term(index: LogIndex): Term | undefined {
    if (index === this.snapshot.index) return this.snapshot.term;
    if (index < this.snapshot.index) return undefined;
    return this.terms[index - this.snapshot.index - 1];
  }

  entries(low: LogIndex, high: LogIndex, maxBytes: number): LogEntry[] {
    assert(this.closing === undefined, 'entries() is not called after close()');
    assert(low >= this.firstIndex(), 'entries asked for are not compacted');
    assert(high <= this.lastIndex() + 1, 'entries asked for exist');
    const result: LogEntry[] = [];
    let sizeBytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.unflushed.get(index) ?? this.readEntry(asLogIndex(index));
      sizeBytes += entrySizeBytes(entry);
      if (result.length > 0 && sizeBytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /**
   * Makes hardState and entries durable, in one atomic write shared with every other persist() of
   * the same group. The view reflects them on return; the promise resolves once they are fsynced.
   */
  persist(hardState: HardState | undefined, entries: readonly LogEntry[]): Promise<void> {
    assert(this.closing === undefined, 'persist() is not called after close()');
    if (this.failure !== undefined) return Promise.reject(this.failure);
    // Nothing to write: resolve when everything persisted before is durable, as a write would.
    if (hardState === undefined && entries.length === 0) return this.lastWrite;
    const operation = this.prepare(hardState, entries);
    this.applyToView(hardState, entries);
    const openGroup = this.openGroup ?? this.startGroup();
    openGroup.group.add(operation);
    return openGroup.durable;
  }

  stats(): LmdbStorageStats {
    return { transactions: this.transactionCount, persists: this.persistCount, entriesWritten: this.entriesWrittenCount };
  }

  /** Size of the environment's data file on disk, in bytes (for metrics and benchmarks). */
  sizeBytes(): number {
    return statSync(join(this.dataDir, dataFileName), { throwIfNoEntry: false })?.size ?? 0;
  }

  /** Waits for every issued write to settle, then closes the environment. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.closeEnvironment();
    return this.closing;
  }

  /** Validates and encodes before anything changes, so a rejected persist leaves no trace. */
  private prepare(hardState: HardState | undefined, entries: readonly LogEntry[]): PersistOperation {
    const previousLastIndex = this.lastIndex();
    const first = entries[0];
    if (first !== undefined) {
      assert(first.index > this.snapshot.index, 'never overwrite compacted entries');
      assert(first.index <= previousLastIndex + 1, 'persisted entries leave no gap');
      let previousTerm = this.term(asLogIndex(first.index - 1));
      assert(previousTerm !== undefined, 'the entry before the first persisted one is known');
      for (const [position, entry] of entries.entries()) {
        assert(entry.index === first.index + position, 'persisted entries are contiguous');
        assert(entry.term >= previousTerm, 'terms never decrease along the log');
        previousTerm = entry.term;
      }
    }
    if (hardState !== undefined) {
      assert(hardState.term >= this.hardState.term, 'the persisted term never decreases');
    }
    const newLastIndex = first === undefined ? previousLastIndex : first.index + entries.length - 1;
    return {
      entries: [...entries],
      encodedEntries: entries.map(encodeLogEntry),
      encodedHardState: hardState === undefined ? undefined : encodeHardState(hardState),
      removeFrom: asLogIndex(newLastIndex + 1),
      removeThrough: previousLastIndex,
    };
  }

  private applyToView(hardState: HardState | undefined, entries: readonly LogEntry[]): void {
    const first = entries[0];
    if (first !== undefined) {
      // Drop the conflicting tail from the view, then append (MemoryStorage.persist).
      for (let index = first.index; index <= this.lastIndex(); index++) this.unflushed.delete(index);
      this.terms.length = first.index - this.snapshot.index - 1;
      for (const entry of entries) {
        this.terms.push(entry.term);
        this.unflushed.set(entry.index, entry);
      }
      assert(this.lastIndex() === first.index + entries.length - 1, 'the view ends at the last persisted entry');
    }
    if (hardState !== undefined) {
      this.hardState = hardState;
      this.hardStatePersisted = true;
    }
  }

  private startGroup(): OpenGroup {
    const group = new WriteGroup();
    let startedAtMs = 0;
    // A child transaction, so that an exception part-way through aborts this group's writes
    // instead of committing half of them (lmdb-js commits the enclosing batch regardless).
    const committed = this.environment.root.childTransaction(() => {
      assert(this.openGroup?.group === group, 'LMDB runs the open group');
      this.openGroup = undefined; // every later persist() starts the next group
      startedAtMs = performance.now();
      group.writeTo(this.environment);
    });
    const durable = committed.then(
      () => this.finishGroup(group, performance.now() - startedAtMs),
      (error: unknown) => this.failGroup(error),
    );
    const openGroup: OpenGroup = { group, durable };
    this.openGroup = openGroup;
    this.lastWrite = durable;
    return openGroup;
  }

  private finishGroup(group: WriteGroup, durationMs: number): void {
    // Make sure reads see this commit before its entries stop being served from memory.
    this.environment.root.resetReadTxn();
    for (const entry of group.entries()) {
      // Only if no later persist replaced it: then the disk now holds exactly this entry.
      if (this.unflushed.get(entry.index) === entry) this.unflushed.delete(entry.index);
    }
    this.transactionCount += 1;
    this.persistCount += group.persistCount;
    this.entriesWrittenCount += group.entryCount;
    this.onPersist?.(durationMs, group.entryCount);
  }

  private failGroup(error: unknown): never {
    this.failure ??= new Error(`storage write to ${this.dataDir} failed; this member must stop`, { cause: error });
    throw this.failure;
  }

  private readEntry(index: LogIndex): LogEntry {
    const bytes = this.environment.log.get(index);
    assert(bytes !== undefined, 'every index in the log is unflushed or on disk');
    const entry = decodeLogEntry(index, bytes);
    assert(entry.term === this.term(index), 'the disk and the view agree on the term');
    return entry;
  }

  private async closeEnvironment(): Promise<void> {
    // Writes already issued finish first; a failure among them was delivered to its persist().
    await this.lastWrite.catch(() => undefined);
    await this.environment.root.close();
  }
}

function loadPersistedState(environment: Environment): PersistedState {
  const { log, meta } = environment;
  const snapshotBytes = meta.get(metaKeys.snapshot);
  assert(snapshotBytes !== undefined, 'the snapshot boundary is stamped with the identity');
  const snapshot = decodeSnapshotBoundary(snapshotBytes);
  const hardStateBytes = meta.get(metaKeys.hardState);
  const hardState = hardStateBytes === undefined ? undefined : decodeHardState(hardStateBytes);
  const terms: Term[] = [];
  let previousTerm = snapshot.term;
  // Bounded by the log on disk; compaction (a later issue) keeps that bounded.
  for (const { key, value } of log.getRange()) {
    assert(key === snapshot.index + 1 + terms.length, 'the log on disk is contiguous from the snapshot boundary');
    const entry = decodeLogEntry(asLogIndex(key), value);
    assert(entry.term >= previousTerm, 'terms never decrease along the log on disk');
    previousTerm = entry.term;
    terms.push(entry.term);
  }
  return { hardState, snapshot, terms };
}
