// MemoryStorage: the RaftStorage port held in memory, for the simulation and scenario tests. It
// holds exactly what the driver persisted, so a simulated crash (drop the RaftNode, keep this) loses
// precisely what a real crash loses: everything the node had not yet handed to persist().
//
// It keeps LmdbStorage's shape for snapshots: a snapshot (metadata plus the state machine's bytes,
// opaque here) and the log after a compaction point that may lie before the snapshot (the trailing
// window kept for slow followers).

import { assert } from '../assert.js';
import { asLogIndex, asTerm, noNode, type LogIndex, type Term } from '../ids.js';
import { emptyConfig, type ClusterConfig } from '../raft/cluster-config.js';
import { entrySizeBytes, type HardState, type LogEntry, type SnapshotMetadata } from '../raft/log-entry.js';
import type { RaftStorage } from '../raft/ports.js';

export interface StoredSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: asTerm(0), votedFor: noNode, commitIndex: asLogIndex(0) };
  private log: LogEntry[] = [];
  /** Index and term of the entry just before log[0]. */
  private offsetIndex = asLogIndex(0);
  private offsetTerm = asTerm(0);
  private snapshot: StoredSnapshot;

  /** `config`: the bootstrap configuration stamped at index 0 (empty: the node's options decide). */
  constructor(config: ClusterConfig = emptyConfig) {
    this.snapshot = { metadata: { index: asLogIndex(0), term: asTerm(0), config }, data: new Uint8Array() };
  }

  initialHardState(): HardState {
    return this.hardState;
  }

  snapshotMetadata(): SnapshotMetadata {
    return this.snapshot.metadata;
  }

  storedSnapshot(): StoredSnapshot {
    return this.snapshot;
  }

  firstIndex(): LogIndex {
    return asLogIndex(this.offsetIndex + 1);
  }

  lastIndex(): LogIndex {
    return asLogIndex(this.offsetIndex + this.log.length);
  }

  term(index: LogIndex): Term | undefined {
    if (index === this.offsetIndex) return this.offsetTerm;
    if (index < this.offsetIndex) return undefined;
    return this.log[index - this.offsetIndex - 1]?.term;
  }

  entries(low: LogIndex, high: LogIndex, maxBytes: number): LogEntry[] {
    assert(low >= this.firstIndex() && high <= this.lastIndex() + 1, 'entries asked for are in storage');
    const result: LogEntry[] = [];
    let sizeBytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.log[index - this.offsetIndex - 1];
      assert(entry !== undefined, 'storage is contiguous');
      sizeBytes += entrySizeBytes(entry);
      if (result.length > 0 && sizeBytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /** What a driver does with a Ready's hardState and entriesToPersist (one atomic, durable write). */
  persist(hardState: HardState | undefined, entries: readonly LogEntry[]): void {
    const first = entries[0];
    if (first) {
      assert(first.index > this.snapshot.metadata.index, 'never overwrite entries folded into the snapshot');
      assert(first.index <= this.lastIndex() + 1, 'persisted entries leave no gap');
      this.log.length = first.index - this.offsetIndex - 1; // drop the conflicting tail
      for (const entry of entries) {
        assert(entry.index === this.lastIndex() + 1, 'persisted entries are contiguous');
        this.log.push(entry);
      }
    }
    if (hardState) {
      assert(hardState.term >= this.hardState.term, 'the persisted term never decreases');
      this.hardState = hardState;
    }
  }

  /**
   * The driver's snapshot of its own applied state at metadata.index; entries before keepFrom are
   * dropped (keepFrom ≤ metadata.index + 1 keeps a trailing window).
   */
  compact(metadata: SnapshotMetadata, data: Uint8Array, keepFrom: LogIndex): void {
    assert(metadata.index > this.snapshot.metadata.index, 'snapshots move forward');
    assert(metadata.index <= this.hardState.commitIndex && metadata.index <= this.lastIndex(), 'only committed, persisted entries are snapshotted');
    assert(this.term(metadata.index) === metadata.term, 'the snapshot ends at an entry of the log');
    this.snapshot = { metadata, data };
    const dropThrough = Math.max(this.offsetIndex, Math.min(keepFrom - 1, metadata.index));
    const newOffsetTerm = this.term(asLogIndex(dropThrough));
    assert(newOffsetTerm !== undefined, 'the new first entry has a known predecessor');
    this.log = this.log.slice(dropThrough - this.offsetIndex);
    this.offsetIndex = asLogIndex(dropThrough);
    this.offsetTerm = newOffsetTerm;
  }

  /** A snapshot received from the leader replaces the whole log (Ready.snapshot). */
  installSnapshot(metadata: SnapshotMetadata, data: Uint8Array): void {
    assert(metadata.index > this.snapshot.metadata.index, 'an installed snapshot is newer than ours');
    this.snapshot = { metadata, data };
    this.log = [];
    this.offsetIndex = metadata.index;
    this.offsetTerm = metadata.term;
    if (this.hardState.commitIndex < metadata.index) this.hardState = { ...this.hardState, commitIndex: metadata.index };
  }

  /** A copy of every persisted entry, for checkers. */
  allEntries(): readonly LogEntry[] {
    return this.log;
  }
}
