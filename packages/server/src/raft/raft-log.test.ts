// Unit tests of RaftLog: the follower-side log rules of Raft paper Figure 2 (AppendEntries receiver
// rules 2-5), the up-to-date comparison of §5.4.1, and the stable/unstable split the driver relies on.

import { describe, expect, test } from 'vitest';
import { asLogIndex, asTerm, noNode } from '../ids.js';
import { AssertionError } from '../assert.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { entryOverheadBytes, type LogEntry } from './log-entry.js';
import { RaftLog } from './raft-log.js';

function entry(index: number, term: number, bytes = 0): LogEntry {
  return { kind: 'command', index: asLogIndex(index), term: asTerm(term), data: new Uint8Array(bytes) };
}

function logWith(terms: readonly number[], commitIndex = 0): { log: RaftLog; storage: MemoryStorage } {
  const storage = new MemoryStorage();
  storage.persist(
    { term: asTerm(terms.at(-1) ?? 0), votedFor: noNode, commitIndex: asLogIndex(commitIndex) },
    terms.map((term, position) => entry(position + 1, term)),
  );
  return { log: new RaftLog(storage, asLogIndex(commitIndex)), storage };
}

const termsOf = (log: RaftLog): number[] => Array.from({ length: log.lastIndex() }, (_, position) => log.term(asLogIndex(position + 1)) ?? -1);

describe('RaftLog.appendFromLeader (Raft paper Figure 2, AppendEntries receiver)', () => {
  test('a stale AppendEntries whose entries the follower already has does not truncate its log', () => {
    // Raft paper Figure 2 receiver rule 3
    const { log } = logWith([1, 1, 1, 1, 1]);
    expect(log.appendFromLeader(asLogIndex(1), [entry(2, 1)])).toBe(2);
    expect(log.lastIndex()).toBe(5);
    expect(log.unstable()).toEqual([]);
  });

  test('an existing entry that conflicts is deleted with all that follow it, then the new entries are appended', () => {
    // Raft paper Figure 2 receiver rules 3-4
    const { log } = logWith([1, 1, 2, 2, 2]);
    expect(log.appendFromLeader(asLogIndex(2), [entry(3, 2), entry(4, 3)])).toBe(4);
    expect(termsOf(log)).toEqual([1, 1, 2, 3]);
    // Only the replaced suffix is unstable (to be persisted); entry 3 stayed as it was.
    expect(log.unstable().map((unstable) => unstable.index)).toEqual([4]);
    expect(log.stableLastIndex()).toBe(3);
  });

  test('a committed entry is never overwritten', () => {
    // Raft paper §5.4, State Machine Safety
    const { log } = logWith([1, 1, 2], 3);
    expect(() => log.appendFromLeader(asLogIndex(2), [entry(3, 3)])).toThrow(AssertionError);
  });

  test('new entries past the end of the log are appended', () => {
    // Raft paper Figure 2 receiver rule 4
    const { log } = logWith([1]);
    expect(log.appendFromLeader(asLogIndex(1), [entry(2, 1), entry(3, 2)])).toBe(3);
    expect(termsOf(log)).toEqual([1, 1, 2]);
  });
});

describe('RaftLog.isUpToDate (Raft paper §5.4.1)', () => {
  const { log } = logWith([1, 1, 2]);
  test('a log with a higher last term is more up-to-date, however short', () => {
    // Raft paper §5.4.1
    expect(log.isUpToDate(asLogIndex(1), asTerm(3))).toBe(true);
  });
  test('a log with a lower last term is not, however long', () => {
    // Raft paper §5.4.1
    expect(log.isUpToDate(asLogIndex(50), asTerm(1))).toBe(false);
  });
  test('with the same last term the longer log is more up-to-date, and equal length counts as up-to-date', () => {
    // Raft paper §5.4.1
    expect(log.isUpToDate(asLogIndex(2), asTerm(2))).toBe(false);
    expect(log.isUpToDate(asLogIndex(3), asTerm(2))).toBe(true);
    expect(log.isUpToDate(asLogIndex(4), asTerm(2))).toBe(true);
  });
});

describe('RaftLog conflict hints (Raft paper §5.3)', () => {
  test('firstIndexOfTermAt finds the first index of the term held at an index', () => {
    // Raft paper §5.3
    const { log } = logWith([1, 1, 2, 2, 2, 3]);
    expect(log.firstIndexOfTermAt(asLogIndex(5))).toBe(3);
    expect(log.firstIndexOfTermAt(asLogIndex(2))).toBe(1);
    expect(log.firstIndexOfTermAt(asLogIndex(6))).toBe(6);
  });

  test('lastIndexOfTerm finds the leader-side last index of a term, or none', () => {
    // Raft paper §5.3
    const { log } = logWith([1, 1, 2, 2, 4, 4]);
    expect(log.lastIndexOfTerm(asTerm(2), asLogIndex(6))).toBe(4);
    expect(log.lastIndexOfTerm(asTerm(4), asLogIndex(5))).toBe(5);
    expect(log.lastIndexOfTerm(asTerm(3), asLogIndex(6))).toBeUndefined();
    expect(log.lastIndexOfTerm(asTerm(2), asLogIndex(2))).toBeUndefined();
  });
});

describe('RaftLog slicing and stability', () => {
  test('slice stops at maxBytes but always returns at least one entry', () => {
    // Raft paper §5.3 nextIndex/matchIndex; flow control as in etcd-io/raft (probe/replicate, bounded inflight)
    const storage = new MemoryStorage();
    const log = new RaftLog(storage, asLogIndex(0));
    log.append([entry(1, 1, 100), entry(2, 1, 10), entry(3, 1, 10), entry(4, 1, 10)]);
    expect(log.slice(asLogIndex(1), asLogIndex(5), 50).map((sliced) => sliced.index)).toEqual([1]);
    const small = 2 * (10 + entryOverheadBytes);
    expect(log.slice(asLogIndex(2), asLogIndex(5), small).map((sliced) => sliced.index)).toEqual([2, 3]);
    // Across the stable/unstable boundary too.
    storage.persist(undefined, log.takeEntriesToPersist());
    log.stableTo(asLogIndex(2), asTerm(1));
    expect(log.slice(asLogIndex(2), asLogIndex(5), small).map((sliced) => sliced.index)).toEqual([2, 3]);
    expect(log.slice(asLogIndex(1), asLogIndex(5), 1_000).map((sliced) => sliced.index)).toEqual([1, 2, 3, 4]);
  });

  test('a persisted write that was overtaken by a replacement does not mark the replacement stable', () => {
    // Raft thesis (Ongaro 2014) §3.8 driver contract
    const { log, storage } = logWith([1]);
    log.appendFromLeader(asLogIndex(1), [entry(2, 1), entry(3, 1)]);
    const written = log.takeEntriesToPersist();
    // While the driver writes entries 2-3 of term 1, a new leader replaces entry 3.
    log.appendFromLeader(asLogIndex(2), [entry(3, 2)]);
    storage.persist(undefined, written);
    log.stableTo(asLogIndex(3), asTerm(1));
    expect(log.unstable().map((unstable) => [unstable.index, unstable.term])).toEqual([
      [2, 1],
      [3, 2],
    ]);
  });

  test('the commit index never decreases and entries are applied only once stable', () => {
    // Raft paper Figure 2
    const storage = new MemoryStorage();
    const log = new RaftLog(storage, asLogIndex(0));
    log.append([entry(1, 1), entry(2, 1)]);
    expect(log.commitTo(asLogIndex(2))).toBe(true);
    expect(log.commitTo(asLogIndex(1))).toBe(false);
    expect(log.commitIndex).toBe(2);
    expect(log.entriesToApply(1_000)).toEqual([]);
    storage.persist(undefined, log.takeEntriesToPersist());
    log.stableTo(asLogIndex(2), asTerm(1));
    expect(log.entriesToApply(1_000).map((applied) => applied.index)).toEqual([1, 2]);
  });

  test('entries handed out for persisting are not handed out again while their write is in flight', () => {
    // etcd-io/raft unstable.offsetInProgress: the driver may take the next Ready before the last is durable
    const storage = new MemoryStorage();
    const log = new RaftLog(storage, asLogIndex(0));
    log.append([entry(1, 1), entry(2, 1)]);
    expect(log.takeEntriesToPersist().map((taken) => taken.index)).toEqual([1, 2]);
    expect(log.hasEntriesToPersist()).toBe(false);
    log.append([entry(3, 1)]);
    expect(log.takeEntriesToPersist().map((taken) => taken.index)).toEqual([3]);
    // Still in flight: nothing is stable, so nothing committed can be applied yet.
    log.commitTo(asLogIndex(3));
    expect(log.stableLastIndex()).toBe(0);
    expect(log.entriesToApply(1_000)).toEqual([]);
  });

  test('entries replaced while their write is in flight are handed out again, and the old write marks nothing stable', () => {
    // Raft paper Figure 2 (receiver step 3) with the write of the replaced entries still in flight
    const { log, storage } = logWith([1]);
    log.appendFromLeader(asLogIndex(1), [entry(2, 1), entry(3, 1)]);
    const first = log.takeEntriesToPersist();
    log.appendFromLeader(asLogIndex(1), [entry(2, 1), entry(3, 2), entry(4, 2)]);
    expect(log.hasEntriesToPersist()).toBe(true);
    const second = log.takeEntriesToPersist();
    expect(second.map((taken) => [taken.index, taken.term])).toEqual([
      [3, 2],
      [4, 2],
    ]);
    storage.persist(undefined, first);
    log.stableTo(asLogIndex(3), asTerm(1));
    expect(log.stableLastIndex()).toBe(1);
    storage.persist(undefined, second);
    log.stableTo(asLogIndex(4), asTerm(2));
    expect(log.stableLastIndex()).toBe(4);
    expect(log.unstable()).toEqual([]);
  });

  // etcd-io/raft's ABA case (rawnode.go, newStorageAppendRespMsg): entries handed out, replaced by a
  // newer leader's while their write is in flight, then restored (same indexes, same terms) by a
  // third leader. When the first write lands, (index, term) matches the log again, yet the
  // replacement's write is still in flight (or not even handed out) and will overwrite them on disk.
  function abaLog(): { log: RaftLog; storage: MemoryStorage; first: LogEntry[]; second: LogEntry[] } {
    const { log, storage } = logWith([1, 1, 1, 1]);
    log.appendFromLeader(asLogIndex(4), [entry(5, 2), entry(6, 2), entry(7, 2), entry(8, 2)]);
    const first = log.takeEntriesToPersist();
    log.appendFromLeader(asLogIndex(6), [entry(7, 3)]); // the leader of term 3 replaces 7-8
    const second = log.takeEntriesToPersist();
    log.appendFromLeader(asLogIndex(6), [entry(7, 2), entry(8, 2), entry(9, 4)]); // the leader of term 4 restores them
    return { log, storage, first, second };
  }

  test('a write whose entries were replaced and then restored (ABA) lands before the restoring entries are handed out', () => {
    const { log, storage, first, second } = abaLog();
    storage.persist(undefined, first);
    log.stableTo(asLogIndex(8), asTerm(2));
    // Entries 7-8 must still be handed out again: the write of (7, term 3) lands after this one.
    expect(log.stableLastIndex()).toBeLessThanOrEqual(6);
    storage.persist(undefined, second);
    log.stableTo(asLogIndex(7), asTerm(3));
    expect(log.stableLastIndex()).toBeLessThanOrEqual(6);
    const third = log.takeEntriesToPersist();
    expect(third.map((taken) => [taken.index, taken.term])).toEqual([
      [7, 2],
      [8, 2],
      [9, 4],
    ]);
    storage.persist(undefined, third);
    log.stableTo(asLogIndex(9), asTerm(4));
    expect(log.stableLastIndex()).toBe(9);
    expect(termsOf(log)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 4]);
  });

  test('a write whose entries were replaced and then restored (ABA) marks nothing stable that a later write in flight overwrites', () => {
    const { log, storage, first, second } = abaLog();
    const third = log.takeEntriesToPersist();
    storage.persist(undefined, first);
    log.stableTo(asLogIndex(8), asTerm(2));
    // The write of (7, term 3) is still in flight: 7-8 are not stable, whatever their terms say.
    expect(log.stableLastIndex()).toBeLessThanOrEqual(6);
    storage.persist(undefined, second); // the disk holds (7, term 3) now, and no entry 8
    log.stableTo(asLogIndex(7), asTerm(3));
    expect(log.stableLastIndex()).toBeLessThanOrEqual(6);
    expect(termsOf(log)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 4]);
    storage.persist(undefined, third);
    log.stableTo(asLogIndex(9), asTerm(4));
    expect(log.stableLastIndex()).toBe(9);
    expect(log.unstable()).toEqual([]);
  });
});
