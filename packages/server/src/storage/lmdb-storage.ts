// LmdbStorage: the durable RaftStorage. It owns a member's log, hard state and snapshot in one LMDB
// environment under --data-dir, and is the only writer of that environment.
//
// Reads are synchronous and come from an in-memory view: the term of every index (so term() is
// O(1)), the hard state, and the entries handed to persist() that are not yet durable or were made
// durable recently ("cached": the driver applies them right after they land, and reading them back
// from LMDB would decode every one again). Older entries are decoded from LMDB on demand. Writes are
// group commits: persist() updates the view at once (the core may read its own writes right away, as
// with MemoryStorage) and issues its puts and removes, which lmdb-js gathers with every other write
// of the event-loop turn into one transaction on its write thread — one commit, one fsync, and no
// round trip through the (busy) main thread while the transaction is open. A hard state that only moves the commit index is not worth an fsync of its own (etcd-io/raft
// MustSync): it updates the view and is written with the next group, or on close.
//
// Invariants:
//   - persist() keeps MemoryStorage.persist's rules (asserted): no gap, contiguous entries, the
//     conflicting tail from entries[0].index replaced, the hard state term never decreasing;
//   - persist()'s promise resolves only once its group is committed and fsynced (see
//     open-environment.ts for why overlappingSync must be off); groups commit in order, so a resolved
//     persist also means every earlier persist is durable;
//   - a persist's writes are issued in one turn, so they are in one transaction: on disk whole or
//     not at all; every check that could throw runs before the first write is issued, since lmdb-js
//     would commit a batch that an exception left half-issued;
//   - every index in [firstIndex, lastIndex] is either cached or on disk with the term the view
//     holds (checked on every read: the pair of the checks made before the write); an entry not yet
//     durable is never evicted from the cache;
//   - the commit index on disk never exceeds the last index on disk: a hard state is written with,
//     or after, every entry up to its commit index;
//   - after a failed write the storage is failed: its view is ahead of its disk, so every later
//     persist() rejects and the member must stop (Raft then fails over; restarting re-reads the disk);
//   - a snapshot, its metadata, and the log compaction that goes with it are one transaction: a crash
//     leaves the old snapshot and log or the new ones, never a mix; the log start never passes the
//     snapshot index, and only committed, applied entries are ever compacted.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { assert } from '../assert.js';
import { asLogIndex, asTerm, noNode, type LogIndex, type Term } from '../ids.js';
import { entrySizeBytes, type HardState, type LogEntry } from '../raft/log-entry.js';
import { emptyConfig, type ClusterConfig } from '../raft/cluster-config.js';
import type { SnapshotMetadata } from '../raft/log-entry.js';
import type { RaftStorage } from '../raft/ports.js';
import { decodeLogEntry, encodeLogEntry } from './log-record.js';
import {
  decodeHardState,
  decodeLogStart,
  decodeSnapshotRecord,
  encodeHardState,
  encodeLogStart,
  encodeSnapshotRecord,
  metaKeys,
  type LogStart,
  type SnapshotRecord,
} from './meta-record.js';
import { openEnvironment, type Environment } from './open-environment.js';
import { joiningClusterId, type ExpectedIdentity, type StorageIdentity } from './storage-identity.js';
import { encodeIdentity } from './meta-record.js';
import { WriteGroup } from './write-group.js';

export { DataDirError } from './data-dir-error.js';
export type { StorageIdentity } from './storage-identity.js';

export interface LmdbStorageOptions {
  readonly dataDir: string;
  /** clusterId undefined: accept the data dir's (restart without --peers), or stamp "joining" on a fresh one. */
  readonly identity: ExpectedIdentity;
  /** The configuration a fresh data dir is stamped with (empty for a member that joins). */
  readonly bootstrapConfig?: ClusterConfig;
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

/** One persist() call, validated and encoded, ready to write. */
interface PersistOperation {
  readonly entries: readonly LogEntry[];
  readonly encodedEntries: readonly Uint8Array[];
  /** Stale tail beyond the new last index, [removeFrom, removeThrough]; empty when removeFrom > removeThrough. */
  readonly removeFrom: LogIndex;
  readonly removeThrough: LogIndex;
}

interface PersistedState {
  readonly hardState: HardState | undefined;
  readonly snapshot: SnapshotRecord;
  readonly logStart: LogStart;
  readonly terms: Term[];
  readonly configEntries: Map<number, LogEntry>;
}

/** Snapshot bytes are stored (and streamed to followers) in chunks of this size. */
export const snapshotChunkBytes = 1024 * 1024;

const initialHardState: HardState = { term: asTerm(0), votedFor: noNode, commitIndex: asLogIndex(0) };
/** Durable entries kept in memory after they land (the driver applies them moments later). */
const cachedDurableEntriesMax = 4096;

/** Same term and vote, commit index moved: nothing a restart needs for safety. */
function onlyCommitIndexMoved(previous: HardState, next: HardState): boolean {
  return previous.term === next.term && previous.votedFor === next.votedFor && next.commitIndex !== previous.commitIndex;
}
const dataFileName = 'data.mdb';

export class LmdbStorage implements RaftStorage {
  /** Opens (creating if needed) the data dir; throws DataDirError if it is not this member's. */
  static open(options: LmdbStorageOptions): LmdbStorage {
    const environment = openEnvironment(options.dataDir, options.identity, options.bootstrapConfig ?? emptyConfig);
    try {
      return new LmdbStorage(options, environment, loadPersistedState(environment));
    } catch (error) {
      // Best effort: the failed load is what the caller needs to see, not a failure to close after it.
      environment.root.close().catch(() => undefined);
      throw error;
    }
  }

  identity: StorageIdentity;
  private readonly dataDir: string;
  private readonly environment: Environment;
  private readonly onPersist: ((durationMs: number, entryCount: number) => void) | undefined;
  private snapshot: SnapshotRecord;
  private logStart: LogStart;
  private hardState: HardState;
  private hardStatePersisted: boolean;
  /** terms[i] is the term of index logStart.index + 1 + i. */
  private terms: Term[];
  /** The config entries in the log, by index (few: one per membership change since the log start). */
  private readonly configByIndex: Map<number, LogEntry>;
  /** Entries handed to persist() whose group is not durable yet, and recently durable ones, by index. */
  private readonly cached = new Map<number, LogEntry>();
  /** Durable entries still cached, oldest first; evicted beyond cachedDurableEntriesMax. */
  private cachedDurable: LogEntry[] = [];
  /** The view's hard state moved (commit index only) since it was last handed to a write. */
  private hardStateUnwritten = false;
  private openGroup: OpenGroup | undefined;
  /** Settles once every write issued so far is durable (or has failed). */
  private lastWrite: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;
  private transactionCount = 0;
  private persistCount = 0;
  private entriesWrittenCount = 0;

  private constructor(options: LmdbStorageOptions, environment: Environment, state: PersistedState) {
    this.identity = environment.identity;
    this.dataDir = options.dataDir;
    this.environment = environment;
    this.onPersist = options.onPersist;
    this.snapshot = state.snapshot;
    this.logStart = state.logStart;
    this.hardState = state.hardState ?? initialHardState;
    this.hardStatePersisted = state.hardState !== undefined;
    this.terms = state.terms;
    this.configByIndex = state.configEntries;
  }

  configEntries(): readonly LogEntry[] {
    return [...this.configByIndex.values()].sort((left, right) => left.index - right.index);
  }

  /** A fresh member: no hard state and no entries persisted yet. */
  isEmpty(): boolean {
    return !this.hardStatePersisted && this.terms.length === 0 && this.snapshot.index === 0;
  }

  initialHardState(): HardState {
    return this.hardState;
  }

  snapshotMetadata(): SnapshotMetadata {
    return { index: this.snapshot.index, term: this.snapshot.term, config: this.snapshot.config };
  }

  /** A joining member learned its cluster's id: stamp it (synchronously durable) so a restart keeps it. */
  adoptClusterId(clusterId: string): void {
    assert(this.identity.clusterId === joiningClusterId, 'only a joining member adopts a cluster id');
    const identity: StorageIdentity = { clusterId, nodeId: this.identity.nodeId };
    this.environment.root.transactionSync(() => {
      void this.environment.meta.put(metaKeys.identity, encodeIdentity(identity));
    });
    this.identity = identity;
  }

  /** Number of chunks the stored snapshot's bytes take (at least 1 for reading, even when empty). */
  snapshotChunkCount(): number {
    return Math.max(1, this.snapshot.chunkCount);
  }

  /** Size of the stored snapshot's bytes. */
  snapshotSizeBytes(): number {
    return this.snapshot.totalBytes;
  }

  /** The stored snapshot's bytes, whole (restart, backups). */
  readSnapshot(): { readonly metadata: SnapshotMetadata; readonly data: Uint8Array } {
    const data = new Uint8Array(this.snapshot.totalBytes);
    let offset = 0;
    for (let chunk = 0; chunk < this.snapshot.chunkCount; chunk++) {
      const bytes = this.environment.snapshot.get(chunk);
      assert(bytes !== undefined, 'every chunk of the stored snapshot is present');
      data.set(bytes, offset);
      offset += bytes.byteLength;
    }
    assert(offset === this.snapshot.totalBytes, 'the stored snapshot has the size its record says');
    return { metadata: this.snapshotMetadata(), data };
  }

  /** One chunk of the stored snapshot, for streaming it to a follower without holding it all. */
  readSnapshotChunk(chunk: number): { readonly metadata: SnapshotMetadata; readonly totalBytes: number; readonly chunkCount: number; readonly data: Uint8Array } {
    assert(chunk >= 0 && chunk < Math.max(1, this.snapshot.chunkCount), 'the chunk asked for exists');
    const data = this.snapshot.chunkCount === 0 ? new Uint8Array() : this.environment.snapshot.get(chunk);
    assert(data !== undefined, 'every chunk of the stored snapshot is present');
    return { metadata: this.snapshotMetadata(), totalBytes: this.snapshot.totalBytes, chunkCount: this.snapshot.chunkCount, data: new Uint8Array(data) };
  }

  firstIndex(): LogIndex {
    return asLogIndex(this.logStart.index + 1);
  }

  lastIndex(): LogIndex {
    return asLogIndex(this.logStart.index + this.terms.length);
  }

  term(index: LogIndex): Term | undefined {
    if (index === this.logStart.index) return this.logStart.term;
    if (index < this.logStart.index) return undefined;
    return this.terms[index - this.logStart.index - 1];
  }

  /**
   * Take a snapshot of this member's own applied state (log compaction, paper §7): data is the state
   * machine at metadata.index; entries before keepFrom are deleted (keepFrom ≤ metadata.index + 1
   * keeps a trailing window for followers that are only a little behind). Resolves once durable.
   */
  compact(metadata: SnapshotMetadata, data: Uint8Array, keepFrom: LogIndex): Promise<void> {
    assert(this.closing === undefined, 'compact() is not called after close()');
    if (this.failure !== undefined) return Promise.reject(this.failure);
    assert(metadata.index > this.snapshot.index, 'snapshots move forward');
    assert(metadata.index <= this.hardState.commitIndex, 'only committed entries are snapshotted');
    assert(this.term(metadata.index) === metadata.term, 'the snapshot ends at an entry of the log');
    const dropThrough = asLogIndex(Math.max(this.logStart.index, Math.min(keepFrom - 1, metadata.index)));
    const dropFrom = this.logStart.index + 1;
    const newStartTerm = this.term(dropThrough);
    assert(newStartTerm !== undefined, 'the new log start is a known entry');
    const record = this.snapshotRecordFor(metadata, data);
    const logStart: LogStart = { index: dropThrough, term: newStartTerm };
    // The view changes only once the transaction is durable: until then the old snapshot's chunks
    // are what a reader finds on disk, and the entries to drop are still there to be read.
    return this.writeSnapshot(record, data, logStart, () => {
      for (let index = dropFrom; index <= dropThrough; index++) void this.environment.log.remove(index);
    }).then(() => {
      assert(this.logStart.index <= dropThrough, 'compactions do not overlap');
      this.terms = this.terms.slice(dropThrough - this.logStart.index);
      this.logStart = logStart;
      this.snapshot = record;
      for (const index of this.configByIndex.keys()) if (index <= dropThrough) this.configByIndex.delete(index);
    });
  }

  /**
   * Replace everything with a snapshot received from the leader (Ready.snapshot): the log is emptied
   * and starts after it, and the commit index is at least its index. Resolves once durable.
   */
  installSnapshot(metadata: SnapshotMetadata, data: Uint8Array): Promise<void> {
    assert(this.closing === undefined, 'installSnapshot() is not called after close()');
    if (this.failure !== undefined) return Promise.reject(this.failure);
    assert(metadata.index > this.snapshot.index, 'an installed snapshot is newer than ours');
    const record = this.snapshotRecordFor(metadata, data);
    const logStart: LogStart = { index: metadata.index, term: metadata.term };
    const oldFirst = this.firstIndex();
    const oldLast = this.lastIndex();
    this.cached.clear();
    this.cachedDurable = [];
    this.configByIndex.clear();
    this.terms = [];
    this.logStart = logStart;
    this.snapshot = record;
    if (this.hardState.commitIndex < metadata.index) this.hardState = { ...this.hardState, commitIndex: metadata.index };
    this.hardStatePersisted = true;
    this.hardStateUnwritten = false;
    const hardStateBytes = encodeHardState(this.hardState);
    return this.writeSnapshot(record, data, logStart, () => {
      for (let index = oldFirst; index <= oldLast; index++) void this.environment.log.remove(index);
      void this.environment.meta.put(metaKeys.hardState, hardStateBytes);
    });
  }

  private snapshotRecordFor(metadata: SnapshotMetadata, data: Uint8Array): SnapshotRecord {
    return {
      index: metadata.index,
      term: metadata.term,
      config: metadata.config,
      totalBytes: data.byteLength,
      chunkCount: Math.ceil(data.byteLength / snapshotChunkBytes),
    };
  }

  /** One transaction: the new snapshot's chunks and record, the log start, and whatever `more` writes. */
  private writeSnapshot(record: SnapshotRecord, data: Uint8Array, logStart: LogStart, more: () => void): Promise<void> {
    const { snapshot, meta } = this.environment;
    const startedAtMs = performance.now();
    const written = this.environment.root.transaction(() => {
      for (const key of snapshot.getKeys()) void snapshot.remove(key);
      for (let chunk = 0; chunk < record.chunkCount; chunk++) {
        void snapshot.put(chunk, data.subarray(chunk * snapshotChunkBytes, Math.min(data.byteLength, (chunk + 1) * snapshotChunkBytes)));
      }
      void meta.put(metaKeys.snapshot, encodeSnapshotRecord(record));
      void meta.put(metaKeys.logStart, encodeLogStart(logStart));
      more();
    });
    const durable = written.then(
      () => {
        this.environment.root.resetReadTxn();
        this.onPersist?.(performance.now() - startedAtMs, 0);
      },
      (error: unknown) => this.failGroup(error),
    );
    const previous = this.lastWrite;
    this.lastWrite = Promise.all([previous.catch(() => undefined), durable]).then(() => undefined);
    return durable;
  }

  entries(low: LogIndex, high: LogIndex, maxBytes: number): LogEntry[] {
    assert(this.closing === undefined, 'entries() is not called after close()');
    assert(low >= this.firstIndex(), 'entries asked for are not compacted');
    assert(high <= this.lastIndex() + 1, 'entries asked for exist');
    const result: LogEntry[] = [];
    let sizeBytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.cached.get(index) ?? this.readEntry(asLogIndex(index));
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
    if (entries.length === 0 && hardState !== undefined && onlyCommitIndexMoved(this.hardState, hardState)) {
      this.hardState = hardState;
      this.hardStateUnwritten = true;
      return this.lastWrite;
    }
    const operation = this.prepare(hardState, entries);
    this.applyToView(hardState, entries);
    return this.write(operation);
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
      assert(first.index > this.snapshot.index, 'never overwrite entries folded into the snapshot');
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
      removeFrom: asLogIndex(newLastIndex + 1),
      removeThrough: previousLastIndex,
    };
  }

  private applyToView(hardState: HardState | undefined, entries: readonly LogEntry[]): void {
    const first = entries[0];
    if (first !== undefined) {
      // Drop the conflicting tail from the view, then append (MemoryStorage.persist).
      for (let index = first.index; index <= this.lastIndex(); index++) this.cached.delete(index);
      this.terms.length = first.index - this.logStart.index - 1;
      for (const index of this.configByIndex.keys()) if (index >= first.index) this.configByIndex.delete(index);
      for (const entry of entries) {
        this.terms.push(entry.term);
        this.cached.set(entry.index, entry);
        if (entry.kind === 'config') this.configByIndex.set(entry.index, entry);
      }
      assert(this.lastIndex() === first.index + entries.length - 1, 'the view ends at the last persisted entry');
    }
    if (hardState !== undefined) {
      this.hardState = hardState;
      this.hardStatePersisted = true;
      this.hardStateUnwritten = true; // write() writes it
    }
  }

  /**
   * Issue one persist's writes (same turn: same transaction) and resolve once lmdb-js reports their
   * transaction committed and fsynced. Never called inside an LMDB transaction callback: there
   * lmdb-js writes into the open transaction and resolves at once, before any commit.
   */
  private write(operation: PersistOperation): Promise<void> {
    const { log, meta } = this.environment;
    const startedAtMs = performance.now();
    // Checks first: nothing may throw once the first write of this persist is issued.
    assert(operation.encodedEntries.length === operation.entries.length, 'every entry has its encoding');
    const hardStateBytes = this.hardStateUnwritten ? encodeHardState(this.hardState) : undefined;
    assert(hardStateBytes === undefined || this.hardState.commitIndex <= this.lastIndex(), 'a written commit index is within the log written with or before it');
    let committed: Promise<unknown> | undefined;
    for (let index = operation.removeFrom; index <= operation.removeThrough; index++) committed = log.remove(index);
    for (let position = 0; position < operation.entries.length; position++) {
      committed = log.put((operation.entries[position] as LogEntry).index, operation.encodedEntries[position] as Uint8Array);
    }
    if (hardStateBytes !== undefined) {
      this.hardStateUnwritten = false;
      committed = meta.put(metaKeys.hardState, hardStateBytes);
    }
    assert(committed !== undefined, 'a persist with something to write issued a write');
    const open = this.openGroup;
    if (open !== undefined && open.group.committed === committed) {
      open.group.add(operation.entries);
      return open.durable;
    }
    const group = new WriteGroup(committed, startedAtMs);
    group.add(operation.entries);
    const durable = committed.then(
      () => this.finishGroup(group, performance.now() - group.startedAtMs),
      (error: unknown) => this.failGroup(error),
    );
    this.openGroup = { group, durable };
    this.lastWrite = durable;
    return durable;
  }

  private finishGroup(group: WriteGroup, durationMs: number): void {
    if (this.openGroup?.group === group) this.openGroup = undefined;
    // Make sure reads see this commit before its entries may leave the cache.
    this.environment.root.resetReadTxn();
    for (const entry of group.entries()) this.cachedDurable.push(entry);
    if (this.cachedDurable.length > 2 * cachedDurableEntriesMax) {
      const evicted = this.cachedDurable.length - cachedDurableEntriesMax;
      for (let position = 0; position < evicted; position++) {
        const entry = this.cachedDurable[position];
        assert(entry !== undefined, 'evicted entries exist');
        // Only if no later persist replaced it: then the disk holds exactly this entry.
        if (this.cached.get(entry.index) === entry) this.cached.delete(entry.index);
      }
      this.cachedDurable = this.cachedDurable.slice(evicted);
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
    assert(bytes !== undefined, 'every index in the log is cached or on disk');
    const entry = decodeLogEntry(index, bytes);
    assert(entry.term === this.term(index), 'the disk and the view agree on the term');
    return entry;
  }

  private async closeEnvironment(): Promise<void> {
    // Writes already issued finish first; a failure among them was delivered to its persist().
    await this.lastWrite.catch(() => undefined);
    // A commit index not written yet saves re-applying (and re-learning) it after a restart.
    if (this.hardStateUnwritten && this.failure === undefined) await this.environment.root.transaction(() => this.writeUnwrittenHardState()).catch(() => undefined);
    await this.environment.root.close();
  }

  /** Inside a write transaction: the view's hard state, if it moved since it was last written. */
  private writeUnwrittenHardState(): void {
    if (!this.hardStateUnwritten) return;
    this.hardStateUnwritten = false;
    assert(this.hardState.commitIndex <= this.lastIndex(), 'a written commit index is within the log written with or before it');
    void this.environment.meta.put(metaKeys.hardState, encodeHardState(this.hardState));
  }
}

function loadPersistedState(environment: Environment): PersistedState {
  const { log, meta } = environment;
  const snapshotBytes = meta.get(metaKeys.snapshot);
  assert(snapshotBytes !== undefined, 'the snapshot record is stamped with the identity');
  const snapshot = decodeSnapshotRecord(snapshotBytes);
  const logStartBytes = meta.get(metaKeys.logStart);
  const logStart = logStartBytes === undefined ? { index: snapshot.index, term: snapshot.term } : decodeLogStart(logStartBytes);
  assert(logStart.index <= snapshot.index, 'the log starts at or before the snapshot');
  const hardStateBytes = meta.get(metaKeys.hardState);
  const hardState = hardStateBytes === undefined ? undefined : decodeHardState(hardStateBytes);
  const terms: Term[] = [];
  const configEntries = new Map<number, LogEntry>();
  let previousTerm = logStart.term;
  // Bounded by the log on disk, which compaction keeps bounded.
  for (const { key, value } of log.getRange()) {
    assert(key === logStart.index + 1 + terms.length, 'the log on disk is contiguous from the log start');
    const entry = decodeLogEntry(asLogIndex(key), value);
    assert(entry.term >= previousTerm, 'terms never decrease along the log on disk');
    previousTerm = entry.term;
    terms.push(entry.term);
    if (entry.kind === 'config') configEntries.set(entry.index, entry);
  }
  assert(logStart.index + terms.length >= snapshot.index, 'the log reaches the snapshot');
  return { hardState, snapshot, logStart, terms, configEntries };
}
