// LockSnapshotLoader: rebuilds the lock state from format-2 parts (see lock-snapshot.ts) in one
// pass, O(records): sessions go into their Map in creation order, locks arrive in name order so the
// sorted name index is built by appending, and each lock joins its holder's held list and its
// waiters' waits as it is read. Parts come from bytes a member received or a backup file, so each
// field is checked as it is read; the checks are O(1) per record (no O(n log n) re-check of the
// whole state after the fact).
//
// Invariants (asserted while loading; a snapshot that breaks one is refused):
//   sections arrive in order, the header first and once; their sizes are the header's counts
//   sessions strictly increase in creating index, which is at most the applied index
//   names of one kind strictly increase; a lock's holder and waiters are sessions of the snapshot
//   a token is an applied index; a lock (not an election) carries no value
//   a queue is in arrival order, without its holder, and holds a session at most once
//   dedupe entries strictly increase in index

import { isWholeNumber } from '@raftlock/protocol';
import { assert } from '../assert.js';
import { DedupeTable } from './dedupe-table.js';
import type { LockKind, LockLimits } from './lock-commands.js';
import { linkHeld, newLockRecord, SessionRecord, type LockRecord, type LockWaiter } from './lock-records.js';
import { lockSnapshotFormat, type DedupePart, type LockSnapshotHeader, type LockSnapshotPart, type LocksPart, type SessionsPart } from './lock-snapshot.js';
import { isLockKind, LockTable } from './lock-table.js';

/** Everything a LockStateMachine holds, as a restore hands it over. */
export interface RestoredLockState {
  readonly appliedIndex: number;
  readonly leaderTimeMs: number;
  readonly sessions: Map<string, SessionRecord>;
  readonly tables: Readonly<Record<LockKind, LockTable>>;
  readonly dedupe: DedupeTable;
  readonly waiterCount: number;
}

/** Section order of the parts; a part may not come after a later section's. */
const sectionOrder = { header: 0, sessions: 1, lock: 2, election: 3, dedupe: 4 } as const;

export class LockSnapshotLoader<Machine> {
  private header: LockSnapshotHeader | undefined;
  private section = -1;
  private readonly ordinals: SessionRecord[] = [];
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly tables: Readonly<Record<LockKind, LockTable>> = { lock: new LockTable('lock'), election: new LockTable('election') };
  private readonly dedupe: DedupeTable;
  private dedupeCount = 0;
  private waiterCount = 0;
  private finished = false;

  /** build turns the loaded state into a machine (the machine passes its constructor). */
  constructor(
    limits: LockLimits,
    private readonly build: (state: RestoredLockState) => Machine,
  ) {
    this.dedupe = new DedupeTable(limits.maxDedupeEntries);
  }

  add(part: LockSnapshotPart): void {
    assert(!this.finished, 'parts come before finish()');
    assert(typeof part === 'object' && part !== null, 'a snapshot part is an object');
    switch (part.part) {
      case 'header':
        return this.addHeader(part);
      case 'sessions':
        this.enterSection(sectionOrder.sessions);
        return this.addSessions(part);
      case 'locks':
        assert(isLockKind(part.kind), 'a locks part names a lock kind');
        this.enterSection(sectionOrder[part.kind]);
        return this.addLocks(part);
      case 'dedupe':
        this.enterSection(sectionOrder.dedupe);
        return this.addDedupe(part);
      default:
        assert(false, `a snapshot part is header, sessions, locks or dedupe, not ${JSON.stringify((part as { part: unknown }).part)}`);
    }
  }

  finish(): Machine {
    const header = this.header;
    assert(header !== undefined, 'a snapshot has a header');
    assert(!this.finished, 'a snapshot is finished once');
    this.finished = true;
    assert(this.ordinals.length === header.sessionCount, 'the snapshot holds as many sessions as its header says');
    assert(this.tables.lock.size === header.lockCount, 'the snapshot holds as many locks as its header says');
    assert(this.tables.election.size === header.electionCount, 'the snapshot holds as many elections as its header says');
    assert(this.dedupeCount === header.dedupeCount, 'the snapshot holds as many dedupe entries as its header says');
    this.dedupe.finishRestore();
    return this.build({
      appliedIndex: header.appliedIndex,
      leaderTimeMs: header.leaderTimeMs,
      sessions: this.sessions,
      tables: this.tables,
      dedupe: this.dedupe,
      waiterCount: this.waiterCount,
    });
  }

  private addHeader(header: LockSnapshotHeader): void {
    assert(this.section === -1, 'the header comes first, once');
    this.section = sectionOrder.header;
    assert(header.format === lockSnapshotFormat, 'the snapshot format is one this version reads');
    assert(isWholeNumber(header.appliedIndex), 'a snapshot is taken at an index');
    assert(isFiniteNumber(header.leaderTimeMs), 'the leader time is a finite number');
    for (const count of [header.sessionCount, header.lockCount, header.electionCount, header.dedupeCount]) {
      assert(isWholeNumber(count), 'header counts are whole numbers');
    }
    this.header = header;
  }

  private enterSection(section: number): void {
    assert(this.section >= sectionOrder.header, 'the header comes before every other part');
    assert(section >= this.section, 'snapshot sections come in order');
    this.section = section;
  }

  private appliedIndex(): number {
    assert(this.header !== undefined, 'the header comes before every other part');
    return this.header.appliedIndex;
  }

  private addSessions(part: SessionsPart): void {
    const count = columnLength(part.createdIndexes, [part.ttlMs, part.clientNames, part.createdTimesMs]);
    const appliedIndex = this.appliedIndex();
    for (let position = 0; position < count; position++) {
      const createdIndex = part.createdIndexes[position];
      const ttlMs = part.ttlMs[position];
      const clientName = part.clientNames[position];
      const createdTimeMs = part.createdTimesMs[position];
      assert(isWholeNumber(createdIndex), 'a session is created at an index');
      assert(createdIndex >= 1, 'a session is created at an index');
      assert(createdIndex <= appliedIndex, 'sessions are created by applied entries');
      const previous = this.ordinals[this.ordinals.length - 1];
      assert(previous === undefined || previous.createdIndex < createdIndex, 'sessions come in creation order, each once');
      assert(isWholeNumber(ttlMs), 'a session TTL is a whole number');
      assert(typeof clientName === 'string', 'a client name is a string');
      assert(isFiniteNumber(createdTimeMs), 'a session creation time is a finite number');
      const session = new SessionRecord(String(createdIndex), ttlMs, clientName, createdIndex, createdTimeMs);
      this.ordinals.push(session);
      this.sessions.set(session.sessionId, session);
    }
  }

  private addLocks(part: LocksPart): void {
    const { kind } = part;
    const count = columnLength(part.names, [part.holders, part.tokens, part.grantSubs, part.sinceTimesMs, part.metadata, part.values, part.waiterCounts]);
    const waiterTotal = columnLength(part.waiterSessions, [part.waiterRequestIds, part.waiterSinceIndexes, part.waiterMetadata, part.waiterValues]);
    const appliedIndex = this.appliedIndex();
    const table = this.tables[kind];
    let waiterPosition = 0;
    for (let position = 0; position < count; position++) {
      const name = part.names[position];
      const holder = this.sessionAt(part.holders[position]);
      const token = part.tokens[position];
      const grantSub = part.grantSubs[position];
      const sinceTimeMs = part.sinceTimesMs[position];
      const metadata = part.metadata[position];
      const value = part.values[position];
      const waiterCount = part.waiterCounts[position];
      assert(typeof name === 'string', 'a lock name is a string');
      assert(isWholeNumber(token), 'a token is an index');
      assert(token >= 1, 'a token is a valid index');
      assert(token <= appliedIndex, 'a token comes from an applied entry');
      assert(isWholeNumber(grantSub), 'a grant sub-position is a whole number');
      assert(isFiniteNumber(sinceTimeMs), 'a grant time is a finite number');
      assert(typeof metadata === 'string', 'metadata is a string');
      assert(typeof value === 'string', 'a value is a string');
      assert(kind === 'election' || value === '', 'a lock holder carries no value');
      assert(isWholeNumber(waiterCount), 'a waiter count is a whole number');
      assert(waiterPosition + waiterCount <= waiterTotal, 'the waiter columns hold every counted waiter');
      const record = newLockRecord(kind, name, holder, token, grantSub, sinceTimeMs, metadata, value, 0);
      table.insertLargest(record); // asserts that names strictly increase
      linkHeld(record);
      if (waiterCount > 0) {
        record.waiters = this.readWaiters(part, record, waiterPosition, waiterCount);
        waiterPosition += waiterCount;
      }
    }
    assert(waiterPosition === waiterTotal, 'the waiter columns hold only counted waiters');
  }

  private readWaiters(part: LocksPart, record: LockRecord, start: number, count: number): LockWaiter[] {
    const appliedIndex = this.appliedIndex();
    const waiters: LockWaiter[] = [];
    let previousSinceIndex = 0;
    for (let position = start; position < start + count; position++) {
      const session = this.sessionAt(part.waiterSessions[position]);
      const requestId = part.waiterRequestIds[position];
      const sinceIndex = part.waiterSinceIndexes[position];
      const metadata = part.waiterMetadata[position];
      const value = part.waiterValues[position];
      assert(session !== record.holder, 'the holder does not also wait');
      assert(!session.waits.has(record), 'a session waits at most once per lock');
      assert(typeof requestId === 'string', 'a waiter request id is a string');
      assert(isWholeNumber(sinceIndex), 'a waiter queued at an index');
      assert(sinceIndex > previousSinceIndex, 'the queue is in arrival (index) order');
      assert(sinceIndex <= appliedIndex, 'waiters come from applied entries');
      assert(typeof metadata === 'string', 'waiter metadata is a string');
      assert(typeof value === 'string', 'a waiter value is a string');
      assert(record.kind === 'election' || value === '', 'a lock waiter carries no value');
      waiters.push({ session, requestId, sinceIndex, metadata, value });
      session.waits.add(record);
      previousSinceIndex = sinceIndex;
    }
    this.waiterCount += count;
    return waiters;
  }

  private sessionAt(ordinal: number | undefined): SessionRecord {
    assert(isWholeNumber(ordinal), 'a session reference is a position');
    const session = this.ordinals[ordinal];
    assert(session !== undefined, 'a holder or waiter is a session of the snapshot');
    return session;
  }

  private addDedupe(part: DedupePart): void {
    // No fingerprints column: a snapshot written before fingerprints were kept.
    const fingerprints = part.fingerprints ?? undefined;
    const count = columnLength(part.requestIds, fingerprints === undefined ? [part.indexes, part.results] : [part.indexes, part.results, fingerprints]);
    const appliedIndex = this.appliedIndex();
    for (let position = 0; position < count; position++) {
      const requestId = part.requestIds[position];
      const index = part.indexes[position];
      const result = part.results[position];
      const fingerprint = fingerprints?.[position] ?? undefined;
      assert(typeof requestId === 'string', 'a dedupe request id is a string');
      assert(isWholeNumber(index), 'a dedupe entry is recorded at an index');
      assert(index <= appliedIndex, 'dedupe entries come from applied entries');
      assert(result !== undefined, 'a dedupe entry has a result');
      this.dedupe.restoreEntry(requestId, index, fingerprint, result); // asserts increasing indexes and fingerprint range
    }
    this.dedupeCount += count;
  }
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** The common length of a part's columns (each must be an array of it). */
function columnLength(first: readonly unknown[], others: readonly (readonly unknown[])[]): number {
  assert(Array.isArray(first), 'snapshot columns are arrays');
  for (const column of others) {
    assert(Array.isArray(column), 'snapshot columns are arrays');
    assert(column.length === first.length, 'the columns of a part have one entry per record');
  }
  return first.length;
}
