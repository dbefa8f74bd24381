// LockSnapshotCursor: writes the lock state as of one applied index into format-2 parts (see
// lock-snapshot.ts) a bounded number of records per step, while the state machine keeps applying
// entries between steps. A leader with a million locks must not stop heartbeating for the seconds
// a whole snapshot takes, so the runtime runs a few milliseconds of steps per event-loop turn.
//
// How the parts stay the state at begin (copy-on-write at record granularity):
//   sessions   their written fields never change; the list of sessions is copied at begin
//              (bounded by maxSessions), so closed sessions are still written, new ones are not
//   dedupe     entries are immutable (resolve swaps in a new one); the list is copied at begin
//              (bounded by maxDedupeEntries)
//   locks      each table's sorted name index opens a view of its records at begin: chunk-level
//              copy-on-write, O(chunks) to open. Before the machine changes or deletes a record
//              that existed at begin and is not written yet, it calls preserve(), which keeps a
//              pre-image of it; records created after begin carry this cursor's epoch and are not
//              in the view. The walk goes through the view's records: one carrying the epoch is
//              written from its pre-image, any other as it is, and then carries the epoch.
//   One field, LockRecord.snapshotEpoch, tells the machine whether a record still needs a
//   pre-image: it does exactly when an encoding is in progress and the field is not its epoch.
//   When no encoding is in progress the machine does one null check per change and allocates
//   nothing.
//
// Invariants (asserted):
//   at most one pre-image per record: preserve sets the epoch, so a record is kept once
//   a record of the view carries the epoch before the walk reaches it only if it has a pre-image
//   every session a written record refers to is in the sessions section (by position)
//   sections are written in order, each record once; the header's counts are the sections' sizes

import { assert, assertNever } from '../assert.js';
import type { DedupeEntry } from './dedupe-table.js';
import type { LockKind } from './lock-commands.js';
import type { LockRecord, LockWaiter, SessionRecord } from './lock-records.js';
import { lockSnapshotFormat, type LockSnapshotHeader, type LockSnapshotPart, type LocksPart } from './lock-snapshot.js';
import { lockKinds, type LockTable } from './lock-table.js';
import type { SortedNameView } from './sorted-name-index.js';

/** The state the cursor writes, as the machine hands it over at begin. */
export interface SnapshotSource {
  readonly epoch: number;
  readonly appliedIndex: number;
  readonly leaderTimeMs: number;
  /** Live sessions in creation order (a copy the cursor owns). */
  readonly sessions: readonly SessionRecord[];
  readonly tables: Readonly<Record<LockKind, LockTable>>;
  /** Dedupe entries oldest first (a copy the cursor owns; the entries are immutable). */
  readonly dedupe: readonly DedupeEntry[];
  /** Records per part (tests use small parts to cover part boundaries). */
  readonly recordsPerPart: number;
}

/** A lock record's written fields as they were before its first change during the walk. */
interface LockImage {
  readonly holder: SessionRecord;
  readonly token: number;
  readonly grantSub: number;
  readonly sinceTimeMs: number;
  readonly metadata: string;
  readonly value: string;
  readonly waiters: readonly LockWaiter[] | null;
}

type Stage = 'header' | 'sessions' | 'locks' | 'dedupe' | 'done';

/**
 * Records per part by default (a lock counts one plus its waiters; one lock is never split). Fixed
 * per walk, so the parts, and the bytes made of them, depend only on the state, never on how the
 * walk was stepped.
 */
export const defaultRecordsPerPart = 1024;

interface SessionsColumns {
  ttlMs: number[];
  clientNames: string[];
  createdIndexes: number[];
  createdTimesMs: number[];
}

interface LocksColumns {
  names: string[];
  holders: number[];
  tokens: number[];
  grantSubs: number[];
  sinceTimesMs: number[];
  metadata: string[];
  values: string[];
  waiterCounts: number[];
  waiterSessions: number[];
  waiterRequestIds: string[];
  waiterSinceIndexes: number[];
  waiterMetadata: string[];
  waiterValues: string[];
}

interface DedupeColumns {
  requestIds: string[];
  indexes: number[];
  results: DedupeEntry['result'][];
  fingerprints: (number | null)[];
}

export class LockSnapshotCursor {
  readonly epoch: number;
  private readonly recordsPerPart: number;
  private stage: Stage = 'header';
  private readonly views: SortedNameView<LockRecord>[];
  private readonly images = new Map<LockRecord, LockImage>();
  private kindIndex = 0;
  private chunkIndex = 0;
  private chunkPosition = 0;
  private sessionPosition = 0;
  private dedupePosition = 0;
  private preservedCount = 0;
  /** The part being filled and the records it counts (parts are emitted full or at a section end). */
  private sessionsColumns = emptySessionsColumns();
  private locksColumns = emptyLocksColumns();
  private dedupeColumns = emptyDedupeColumns();
  private partRecords = 0;

  /**
   * Opens the tables' views. onLocksWritten runs once the walk no longer needs pre-images (every
   * lock written, or aborted): the machine then stops calling preserve().
   */
  constructor(
    private readonly source: SnapshotSource,
    private readonly onLocksWritten: () => void,
  ) {
    assert(Number.isSafeInteger(source.epoch), 'a snapshot epoch is an integer');
    assert(source.epoch >= 1, 'epoch 0 marks records no encoding has seen');
    assert(Number.isSafeInteger(source.recordsPerPart), 'a part size is a whole number');
    assert(source.recordsPerPart >= 1, 'a part holds at least one record');
    this.epoch = source.epoch;
    this.recordsPerPart = source.recordsPerPart;
    this.views = lockKinds.map((kind) => source.tables[kind].openView());
  }

  get done(): boolean {
    return this.stage === 'done';
  }

  /** Pre-images kept so far (records changed during the walk before it reached them). */
  get preserved(): number {
    return this.preservedCount;
  }

  /**
   * Writes up to about maxRecords more records (a lock counts one plus its waiters, and is written
   * whole) and hands every part that got full to emit, in order. Returns true once all is written.
   */
  step(maxRecords: number, emit: (part: LockSnapshotPart) => void): boolean {
    assert(Number.isSafeInteger(maxRecords), 'a step budget is a whole number');
    assert(maxRecords >= 1, 'a step writes at least one record');
    let budget = maxRecords;
    while (budget > 0) {
      const stage = this.stage;
      if (stage === 'done') break;
      switch (stage) {
        case 'header':
          emit(this.header());
          budget--;
          this.stage = 'sessions';
          break;
        case 'sessions':
          budget -= this.writeSessions(budget, emit);
          break;
        case 'locks':
          budget -= this.writeLocks(budget, emit);
          break;
        case 'dedupe':
          budget -= this.writeDedupe(budget, emit);
          break;
        default:
          assertNever(stage, 'unknown snapshot stage');
      }
    }
    return this.stage === 'done';
  }

  /** Keeps record's written fields before the machine changes or deletes it (see the header). */
  preserve(record: LockRecord): void {
    assert(this.stage !== 'done' && this.stage !== 'dedupe', 'pre-images are only kept while locks remain to be written');
    assert(record.snapshotEpoch !== this.epoch, 'a record is preserved at most once per walk');
    assert(!this.images.has(record), 'a record has at most one pre-image per walk');
    this.images.set(record, {
      holder: record.holder,
      token: record.token,
      grantSub: record.grantSub,
      sinceTimeMs: record.sinceTimeMs,
      metadata: record.metadata,
      value: record.value,
      waiters: record.waiters === null ? null : record.waiters.slice(),
    });
    record.snapshotEpoch = this.epoch;
    this.preservedCount++;
  }

  /** Stops the walk: the machine stops keeping pre-images; the parts emitted so far are useless. */
  abort(): void {
    if (this.stage === 'done') return;
    this.releaseLocks();
    this.stage = 'done';
  }

  private header(): LockSnapshotHeader {
    const { appliedIndex, leaderTimeMs, sessions, dedupe } = this.source;
    const [lockView, electionView] = this.views;
    assert(lockView !== undefined && electionView !== undefined, 'both kinds have a view');
    return {
      part: 'header',
      format: lockSnapshotFormat,
      appliedIndex,
      leaderTimeMs,
      sessionCount: sessions.length,
      lockCount: lockView.size,
      electionCount: electionView.size,
      dedupeCount: dedupe.length,
    };
  }

  /** Writes sessions until the budget, the part or the section ends; returns the records written. */
  private writeSessions(budget: number, emit: (part: LockSnapshotPart) => void): number {
    const sessions = this.source.sessions;
    const start = this.sessionPosition;
    const end = Math.min(sessions.length, start + budget, start + this.recordsPerPart - this.partRecords);
    const columns = this.sessionsColumns;
    for (let position = start; position < end; position++) {
      const session = sessions[position];
      assert(session !== undefined, 'the sessions copy is dense');
      // The position is how locks refer to the session; sessions made after begin keep -1.
      session.snapshotOrdinal = position;
      columns.ttlMs.push(session.ttlMs);
      columns.clientNames.push(session.clientName);
      columns.createdIndexes.push(session.createdIndex);
      columns.createdTimesMs.push(session.createdTimeMs);
    }
    this.sessionPosition = end;
    this.partRecords += end - start;
    const sectionEnded = end === sessions.length;
    if (this.partRecords > 0 && (sectionEnded || this.partRecords >= this.recordsPerPart)) {
      emit({ part: 'sessions', ...columns });
      this.sessionsColumns = emptySessionsColumns();
      this.partRecords = 0;
    }
    if (sectionEnded) this.stage = 'locks';
    return Math.max(1, end - start);
  }

  /** Writes locks until the budget, the part or the section ends; returns the records written. */
  private writeLocks(budget: number, emit: (part: LockSnapshotPart) => void): number {
    const kind = lockKinds[this.kindIndex];
    const view = this.views[this.kindIndex];
    assert(kind !== undefined && view !== undefined, 'the walk is within the kinds');
    const images = this.images;
    const columns = this.locksColumns;
    let spent = 0;
    while (spent < budget && this.partRecords < this.recordsPerPart && this.chunkIndex < view.chunks.length) {
      const chunk = view.chunks[this.chunkIndex];
      assert(chunk !== undefined, 'the view is dense');
      const record = chunk[this.chunkPosition];
      assert(record !== undefined, 'a view chunk is never empty');
      if (++this.chunkPosition === chunk.length) {
        this.chunkIndex++;
        this.chunkPosition = 0;
      }
      let written: number;
      if (record.snapshotEpoch === this.epoch) {
        const image = images.get(record);
        assert(image !== undefined, 'a record of the view changed since begin has a pre-image');
        images.delete(record);
        written = this.pushLock(columns, record.name, image);
      } else {
        record.snapshotEpoch = this.epoch;
        written = this.pushLock(columns, record.name, record);
      }
      spent += written;
      this.partRecords += written;
    }
    const sectionEnded = this.chunkIndex === view.chunks.length;
    if (this.partRecords > 0 && (sectionEnded || this.partRecords >= this.recordsPerPart)) {
      emit({ part: 'locks', kind, ...columns } satisfies LocksPart);
      this.locksColumns = emptyLocksColumns();
      this.partRecords = 0;
    }
    if (sectionEnded) {
      this.kindIndex++;
      this.chunkIndex = 0;
      this.chunkPosition = 0;
      if (this.kindIndex === lockKinds.length) {
        assert(images.size === 0, 'every pre-image is written');
        this.releaseLocks();
        this.stage = 'dedupe';
      }
    }
    return Math.max(1, spent);
  }

  /** Appends one lock (live or pre-image) to the columns; returns the records it counts for. */
  private pushLock(columns: LocksColumns, name: string, lock: LockImage): number {
    columns.names.push(name);
    columns.holders.push(this.ordinalOf(lock.holder));
    columns.tokens.push(lock.token);
    columns.grantSubs.push(lock.grantSub);
    columns.sinceTimesMs.push(lock.sinceTimeMs);
    columns.metadata.push(lock.metadata);
    columns.values.push(lock.value);
    const waiters = lock.waiters;
    if (waiters === null) {
      columns.waiterCounts.push(0);
      return 1;
    }
    columns.waiterCounts.push(waiters.length);
    for (const waiter of waiters) {
      columns.waiterSessions.push(this.ordinalOf(waiter.session));
      columns.waiterRequestIds.push(waiter.requestId);
      columns.waiterSinceIndexes.push(waiter.sinceIndex);
      columns.waiterMetadata.push(waiter.metadata);
      columns.waiterValues.push(waiter.value);
    }
    return 1 + waiters.length;
  }

  private ordinalOf(session: SessionRecord): number {
    const ordinal = session.snapshotOrdinal;
    assert(this.source.sessions[ordinal] === session, 'a written holder or waiter is a session of the sessions section');
    return ordinal;
  }

  /** Writes dedupe entries until the budget, the part or the section ends; returns the records written. */
  private writeDedupe(budget: number, emit: (part: LockSnapshotPart) => void): number {
    const entries = this.source.dedupe;
    const start = this.dedupePosition;
    const end = Math.min(entries.length, start + budget, start + this.recordsPerPart - this.partRecords);
    const columns = this.dedupeColumns;
    for (let position = start; position < end; position++) {
      const entry = entries[position];
      assert(entry !== undefined, 'the dedupe copy is dense');
      columns.requestIds.push(entry.requestId);
      columns.indexes.push(entry.index);
      columns.results.push(entry.result);
      columns.fingerprints.push(entry.fingerprint ?? null);
    }
    this.dedupePosition = end;
    this.partRecords += end - start;
    const sectionEnded = end === entries.length;
    if (this.partRecords > 0 && (sectionEnded || this.partRecords >= this.recordsPerPart)) {
      emit({ part: 'dedupe', ...columns });
      this.dedupeColumns = emptyDedupeColumns();
      this.partRecords = 0;
    }
    if (sectionEnded) this.stage = 'done';
    return Math.max(1, end - start);
  }

  /** Closes the views and tells the machine pre-images are no longer needed. */
  private releaseLocks(): void {
    if (this.stage === 'dedupe' || this.stage === 'done') return;
    for (const kind of lockKinds) this.source.tables[kind].closeView();
    this.images.clear();
    this.onLocksWritten();
  }
}

function emptySessionsColumns(): SessionsColumns {
  return { ttlMs: [], clientNames: [], createdIndexes: [], createdTimesMs: [] };
}

function emptyLocksColumns(): LocksColumns {
  return {
    names: [],
    holders: [],
    tokens: [],
    grantSubs: [],
    sinceTimesMs: [],
    metadata: [],
    values: [],
    waiterCounts: [],
    waiterSessions: [],
    waiterRequestIds: [],
    waiterSinceIndexes: [],
    waiterMetadata: [],
    waiterValues: [],
  };
}

function emptyDedupeColumns(): DedupeColumns {
  return { requestIds: [], indexes: [], results: [], fingerprints: [] };
}
