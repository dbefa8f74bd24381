// MemoryStorage: the RaftStorage port held in memory, for the simulation and scenario tests. It
// holds exactly what the driver persisted, so a simulated crash (drop the RaftNode, keep this) loses
// precisely what a real crash loses: everything the node had not yet handed to persist().

import { assert } from '../assert.js';
import { asLogIndex, asTerm, noNode, type LogIndex, type Term } from '../ids.js';
import { entrySizeBytes, type HardState, type LogEntry } from '../raft/log-entry.js';
import type { RaftStorage } from '../raft/ports.js';

export class MemoryStorage implements RaftStorage {
  private hardState: HardState = { term: asTerm(0), votedFor: noNode, commitIndex: asLogIndex(0) };
  private log: LogEntry[] = [];
  private readonly snapshotIndex = asLogIndex(0);
  private readonly snapshotTerm = asTerm(0);

  initialHardState(): HardState {
    return this.hardState;
  }

  firstIndex(): LogIndex {
    return asLogIndex(this.snapshotIndex + 1);
  }

  lastIndex(): LogIndex {
    return asLogIndex(this.snapshotIndex + this.log.length);
  }

  term(index: LogIndex): Term | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    return this.log[index - this.snapshotIndex - 1]?.term;
  }

  entries(low: LogIndex, high: LogIndex, maxBytes: number): LogEntry[] {
    assert(low >= this.firstIndex() && high <= this.lastIndex() + 1, 'entries asked for are in storage');
    const result: LogEntry[] = [];
    let sizeBytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.log[index - this.snapshotIndex - 1];
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
      assert(first.index > this.snapshotIndex, 'never overwrite compacted entries');
      assert(first.index <= this.lastIndex() + 1, 'persisted entries leave no gap');
      this.log.length = first.index - this.snapshotIndex - 1; // drop the conflicting tail
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

  /** A copy of every persisted entry, for checkers. */
  allEntries(): readonly LogEntry[] {
    return this.log;
  }
}
