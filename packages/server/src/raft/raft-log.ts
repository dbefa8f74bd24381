// RaftLog: the member's view of the log, stable entries (in RaftStorage, on disk) followed by the
// unstable tail (accepted in memory, not yet known to be on disk). The unstable tail has two parts:
// entries already handed to the driver for persisting (their write is in flight) and entries not
// handed out yet (the next Ready's). A driver may take the next Ready before the previous one is
// durable (etcd-io/raft's offsetInProgress), so the core must neither hand an entry out twice nor
// count an entry as stable before the driver says it is.
//
// Invariants (asserted):
//   firstIndex - 1 ≤ appliedIndex ≤ commitIndex ≤ lastIndex
//   the unstable tail is contiguous and starts right after the stable entries it does not shadow
//   committed entries are never truncated (State Machine Safety rests on it)
//   a snapshot received from the leader and not yet on disk (the unstable snapshot) shadows the whole
//   stable log: until the driver has installed it, the log is that snapshot plus the unstable tail
//   unstableOffset - 1 ≤ inProgressThrough ≤ lastIndex: entries up to inProgressThrough were handed out
//   a batch handed out and then superseded (a truncation at or below its last entry, or a snapshot)
//   marks nothing stable when its write lands: a later write replaces its entries on disk, even when
//   the same (index, term) is back in the log meanwhile (etcd-io/raft's ABA case)

import { assert } from '../assert.js';
import { asLogIndex, asTerm, type LogIndex, type Term } from '../ids.js';
import { entrySizeBytes, type LogEntry, type SnapshotMetadata } from './log-entry.js';
import type { RaftStorage } from './ports.js';

export class RaftLog {
  /** Index of unstableEntries[0]; stable entries at or after it are shadowed (to be overwritten). */
  private unstableOffset: LogIndex;
  private unstableEntries: LogEntry[] = [];
  /** A snapshot from the leader that replaces the stable log once the driver has persisted it. */
  private unstableSnapshot: SnapshotMetadata | undefined;
  /** The unstable snapshot was handed to the driver (it is being installed). */
  private unstableSnapshotInProgress = false;
  /** The last unstable entry handed to the driver for persisting; later ones still have to be. */
  private inProgressThrough: LogIndex;
  /** Batches handed out (takeEntriesToPersist) whose stableTo has not come yet, oldest first. */
  private readonly batchesInFlight: { readonly lastIndex: LogIndex; superseded: boolean }[] = [];
  commitIndex: LogIndex;
  /** Highest index handed to the driver for applying. */
  appliedIndex: LogIndex;

  constructor(private readonly storage: RaftStorage, commitIndex: LogIndex) {
    this.unstableOffset = asLogIndex(storage.lastIndex() + 1);
    this.inProgressThrough = storage.lastIndex();
    const snapshotIndex = storage.snapshotMetadata().index;
    assert(snapshotIndex >= storage.firstIndex() - 1 && snapshotIndex <= storage.lastIndex(), 'the snapshot lies within the kept log');
    assert(commitIndex <= storage.lastIndex(), 'persisted commit index is within the persisted log');
    // The state machine starts from the snapshot; entries after it are applied again from the log.
    this.commitIndex = asLogIndex(Math.max(commitIndex, snapshotIndex));
    this.appliedIndex = snapshotIndex;
  }

  firstIndex(): LogIndex {
    return this.unstableSnapshot === undefined ? this.storage.firstIndex() : asLogIndex(this.unstableSnapshot.index + 1);
  }

  lastIndex(): LogIndex {
    const unstableCount = this.unstableEntries.length;
    if (unstableCount > 0) return asLogIndex(this.unstableOffset + unstableCount - 1);
    return this.unstableSnapshot === undefined ? this.storage.lastIndex() : this.unstableSnapshot.index;
  }

  /** The snapshot a follower that needs compacted entries is sent. */
  snapshotMetadata(): SnapshotMetadata {
    return this.unstableSnapshot ?? this.storage.snapshotMetadata();
  }

  /** Follower side: replace the log with the leader's snapshot (Raft paper §7, Figure 13 step 7). */
  restoreSnapshot(snapshot: SnapshotMetadata): void {
    assert(snapshot.index > this.commitIndex, 'a snapshot is only restored when it is ahead of the commit index');
    this.unstableSnapshot = snapshot;
    this.unstableSnapshotInProgress = false;
    this.unstableOffset = asLogIndex(snapshot.index + 1);
    this.unstableEntries = [];
    this.inProgressThrough = snapshot.index;
    for (const batch of this.batchesInFlight) batch.superseded = true;
    this.commitIndex = snapshot.index;
    // Handing the snapshot to the driver is what brings the state machine to its index.
    this.appliedIndex = snapshot.index;
  }

  /** A snapshot from the leader that is not on disk yet (handed out or not). */
  pendingSnapshot(): SnapshotMetadata | undefined {
    return this.unstableSnapshot;
  }

  /** The unstable snapshot, if it was not handed to the driver yet; it is handed out now. */
  takeSnapshotToInstall(): SnapshotMetadata | undefined {
    if (this.unstableSnapshot === undefined || this.unstableSnapshotInProgress) return undefined;
    this.unstableSnapshotInProgress = true;
    return this.unstableSnapshot;
  }

  hasSnapshotToInstall(): boolean {
    return this.unstableSnapshot !== undefined && !this.unstableSnapshotInProgress;
  }

  /** The driver installed snapshot; the storage now starts at it. */
  snapshotStable(snapshot: SnapshotMetadata): void {
    if (this.unstableSnapshot?.index !== snapshot.index || this.unstableSnapshot.term !== snapshot.term) return; // a newer one replaced it
    this.unstableSnapshot = undefined;
    this.unstableSnapshotInProgress = false;
    assert(this.storage.snapshotMetadata().index === snapshot.index, 'storage holds the snapshot the driver says it installed');
  }

  lastTerm(): Term {
    const lastTerm = this.term(this.lastIndex());
    assert(lastTerm !== undefined, 'the last entry always has a term');
    return lastTerm;
  }

  /** Last index that is on disk and not shadowed by the unstable tail. */
  stableLastIndex(): LogIndex {
    if (this.unstableSnapshot !== undefined) return this.unstableSnapshot.index;
    return asLogIndex(Math.min(this.storage.lastIndex(), this.unstableOffset - 1));
  }

  /** Term at index, or undefined when index is compacted away or beyond the log. */
  term(index: LogIndex): Term | undefined {
    if (index >= this.unstableOffset) {
      return this.unstableEntries[index - this.unstableOffset]?.term;
    }
    if (this.unstableSnapshot !== undefined) return index === this.unstableSnapshot.index ? this.unstableSnapshot.term : undefined;
    return this.storage.term(index);
  }

  matchTerm(index: LogIndex, term: Term): boolean {
    return this.term(index) === term;
  }

  /** Raft paper §5.4.1: is a log ending at (lastLogTerm, lastLogIndex) at least as up-to-date as ours? */
  isUpToDate(lastLogIndex: LogIndex, lastLogTerm: Term): boolean {
    const ourLastTerm = this.lastTerm();
    return lastLogTerm > ourLastTerm || (lastLogTerm === ourLastTerm && lastLogIndex >= this.lastIndex());
  }

  /** Entries [low, high) limited to maxBytes (at least one entry when the range is non-empty). */
  slice(low: LogIndex, high: LogIndex, maxBytes: number): LogEntry[] {
    assert(low >= this.firstIndex(), 'slice starts inside the log');
    assert(high <= this.lastIndex() + 1, 'slice ends inside the log');
    if (low >= high) return [];
    const result: LogEntry[] = [];
    let sizeBytes = 0;
    if (low < this.unstableOffset) {
      const stableHigh = asLogIndex(Math.min(high, this.unstableOffset));
      for (const entry of this.storage.entries(low, stableHigh, maxBytes)) {
        sizeBytes += entrySizeBytes(entry);
        result.push(entry);
      }
      if (result.length < stableHigh - low || sizeBytes >= maxBytes) return result;
    }
    const unstableLow = Math.max(low, this.unstableOffset);
    for (let index = unstableLow; index < high; index++) {
      const entry = this.unstableEntries[index - this.unstableOffset];
      assert(entry !== undefined, 'unstable entries are contiguous');
      sizeBytes += entrySizeBytes(entry);
      if (result.length > 0 && sizeBytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  /** Leader-side append of new entries at the end of the log. */
  append(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      assert(entry.index === this.lastIndex() + 1, 'appended entries extend the log contiguously');
      assert(entry.term >= this.lastTerm(), 'terms never decrease along the log');
      if (this.unstableEntries.length === 0) this.unstableOffset = entry.index;
      this.unstableEntries.push(entry);
    }
  }

  /**
   * Follower-side: entries that follow prevLogIndex in the leader's log. Only the suffix after the first
   * conflicting entry replaces ours; entries we already have are kept, so a stale or duplicated
   * AppendEntries never truncates a log that is longer than it (Raft paper Figure 2, receiver step 3).
   * Returns the index of the last entry the leader sent (the point our log is known to match to).
   */
  appendFromLeader(prevLogIndex: LogIndex, entries: readonly LogEntry[]): LogIndex {
    const lastNewIndex = asLogIndex(prevLogIndex + entries.length);
    const conflictPosition = entries.findIndex((entry) => !this.matchTerm(entry.index, entry.term));
    if (conflictPosition === -1) return lastNewIndex;
    const firstConflicting = entries[conflictPosition];
    assert(firstConflicting !== undefined, 'conflict position is inside the batch');
    assert(firstConflicting.index > this.commitIndex, 'a committed entry is never overwritten');
    this.truncateAndAppend(entries.slice(conflictPosition));
    return lastNewIndex;
  }

  private truncateAndAppend(entries: readonly LogEntry[]): void {
    const first = entries[0];
    assert(first !== undefined, 'truncateAndAppend gets at least one entry');
    assert(first.index <= this.lastIndex() + 1, 'no gap before appended entries');
    // Entries from here on that were handed out are superseded: the new ones must be handed out too.
    // (The write in flight still lands first, and the driver's next write replaces its tail.)
    if (first.index <= this.inProgressThrough) this.inProgressThrough = asLogIndex(first.index - 1);
    for (const batch of this.batchesInFlight) if (first.index <= batch.lastIndex) batch.superseded = true;
    if (first.index >= this.unstableOffset) {
      this.unstableEntries.length = first.index - this.unstableOffset;
    } else {
      // The new entries overwrite stable ones: the stable tail from here on is shadowed and the
      // driver's next persist replaces it.
      this.unstableOffset = first.index;
      this.unstableEntries = [];
    }
    for (const entry of entries) {
      assert(entry.index === this.unstableOffset + this.unstableEntries.length, 'unstable tail stays contiguous');
      this.unstableEntries.push(entry);
    }
  }

  /** Entries accepted but not yet on disk, handed out or not. */
  unstable(): readonly LogEntry[] {
    return this.unstableEntries;
  }

  /** Unstable entries not yet handed to the driver. */
  hasEntriesToPersist(): boolean {
    return this.inProgressThrough < this.lastIndex() && this.unstableEntries.length > 0;
  }

  /** Hand the unstable entries not handed out yet to the driver for persisting. */
  takeEntriesToPersist(): LogEntry[] {
    assert(this.inProgressThrough >= this.unstableOffset - 1, 'entries before the unstable tail are stable or handed out');
    const entries = this.unstableEntries.slice(this.inProgressThrough + 1 - this.unstableOffset);
    this.inProgressThrough = this.lastIndex();
    const last = entries.at(-1);
    if (last !== undefined) this.batchesInFlight.push({ lastIndex: last.index, superseded: false });
    return entries;
  }

  /**
   * The driver persisted the oldest batch handed out, up to (index, term): it leaves the unstable tail.
   * Called once per non-empty takeEntriesToPersist(), in the same order.
   */
  stableTo(index: LogIndex, term: Term): void {
    const batch = this.batchesInFlight.shift();
    assert(batch !== undefined, 'stableTo reports a batch handed out for persisting');
    // The tail may have been replaced while the driver was writing (a new leader's entries arrived);
    // then the write is stale and the replacement still has to be persisted. Comparing terms is not
    // enough: a third leader may have put the very same (index, term) back while the replacing
    // write is still in flight (or not handed out yet), and that write lands after this one.
    if (batch.superseded || index < this.unstableOffset || this.term(index) !== term) return;
    assert(index <= this.inProgressThrough, 'only entries handed out for persisting become stable');
    this.unstableEntries = this.unstableEntries.slice(index + 1 - this.unstableOffset);
    this.unstableOffset = asLogIndex(index + 1);
    assert(this.unstableSnapshot !== undefined || this.storage.lastIndex() >= index, 'storage holds what the driver says it persisted');
  }

  commitTo(index: LogIndex): boolean {
    if (index <= this.commitIndex) return false; // the commit index never decreases
    assert(index <= this.lastIndex(), 'commit index stays within the log');
    this.commitIndex = index;
    return true;
  }

  /** Committed entries that are on disk here and not yet handed out for applying. */
  entriesToApply(maxBytes: number): LogEntry[] {
    const high = Math.min(this.commitIndex, this.stableLastIndex()) + 1;
    const low = this.appliedIndex + 1;
    if (low >= high) return [];
    return this.slice(asLogIndex(low), asLogIndex(high), maxBytes);
  }

  appliedTo(index: LogIndex): void {
    assert(index > this.appliedIndex, 'applied index only moves forward');
    assert(index <= this.commitIndex, 'only committed entries are applied');
    this.appliedIndex = index;
  }

  /**
   * Fast backtracking hint for a rejected AppendEntries (thesis §5.3 "conflicting term" optimisation):
   * the first index of the term we hold at `index`, so the leader can skip the whole term.
   */
  firstIndexOfTermAt(index: LogIndex): LogIndex {
    const conflictTerm = this.term(index);
    assert(conflictTerm !== undefined, 'hint asked for an index we hold');
    // Terms never decrease along the log: binary search for the first index whose term is ≥ conflictTerm.
    return this.firstIndexWithTermAtLeast(conflictTerm, this.firstIndex(), index);
  }

  /** Leader side: the last index of `term` at or before `atOrBefore`, if we have any entry of that term. */
  lastIndexOfTerm(term: Term, atOrBefore: LogIndex): LogIndex | undefined {
    const high = asLogIndex(Math.min(atOrBefore, this.lastIndex()));
    if (high < this.firstIndex()) return undefined;
    // The first index whose term exceeds `term`, minus one, is the last index of `term` (if it is `term`).
    const firstAbove = this.firstIndexWithTermAtLeast(asTerm(term + 1), this.firstIndex(), asLogIndex(high + 1));
    const candidate = asLogIndex(firstAbove - 1);
    return candidate >= this.firstIndex() && this.term(candidate) === term ? candidate : undefined;
  }

  /** Smallest index in [low, high] whose term is ≥ term; high when none below it is. */
  private firstIndexWithTermAtLeast(term: Term, low: LogIndex, high: LogIndex): LogIndex {
    let lowIndex: number = low;
    let highIndex: number = high;
    while (lowIndex < highIndex) {
      const middle = Math.floor((lowIndex + highIndex) / 2);
      const middleTerm = this.term(asLogIndex(middle));
      assert(middleTerm !== undefined, 'every index in the searched range has a term');
      if (middleTerm >= term) highIndex = middle;
      else lowIndex = middle + 1;
    }
    return asLogIndex(lowIndex);
  }
}
