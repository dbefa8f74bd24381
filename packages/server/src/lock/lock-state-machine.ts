// LockStateMachine: the replicated state of raftlock (SPEC §4): sessions, locks, elections, their
// FIFO wait queues, and the dedupe table that makes client requests exactly-once. Every member
// applies the same committed entries in the same order and so holds the same state.
//
// It is pure and deterministic (SPEC §3.7, STYLE "What we absorb" §5): no I/O, clock, randomness,
// timers or async. Time only enters as `leaderTimeMs` inside commands, and only for display.
//
// Invariants (asserted; checkInvariants() verifies the whole state):
//   mutual exclusion: a lock has at most one holder (one `holder` field per record)
//   fencing: a grant's token is the index of the entry that granted it, so tokens of one lock
//     strictly increase (SPEC §3.2); indexes given to apply() strictly increase
//   a waiter is never granted unless its session exists: closing or expiring a session removes
//     its waits FIRST and only then releases its locks (the Jepsen etcd lock bug)
//   a lock with waiters always has a holder, so releasing it (any way) hands it to waiters[0]
//   every holder and waiter belongs to a live session, and each session's held list and waits set
//     mirror the records exactly
//   a retried request id returns its remembered result and changes nothing (SPEC §3.4)
//   while a snapshot walk is in progress, every change to a lock record that existed when it began
//     is preceded by beforeChange(record), which keeps the record's pre-image for the walk
//
// Memory and time at scale (1M held locks): see lock-records.ts for the record layout; snapshots
// are written a few records per step while entries keep applying (lock-snapshot-cursor.ts) and
// read back in one O(n) pass (lock-snapshot-loader.ts).

import { utf8ByteLength } from '@raftlock/protocol';
import { assert, assertNever } from '../assert.js';
import { DedupeTable } from './dedupe-table.js';
import { assertValidLockLimits, type ClientCommand, type LockCommand, type LockKind, type LockLimits } from './lock-commands.js';
import type { LockEvent } from './lock-events.js';
import {
  failure,
  reusedRequestIdFailure,
  success,
  type AcquireValue,
  type ApplyOutcome,
  type CancelWaitValue,
  type CloseSessionValue,
  type CommandResult,
  type ExpireSessionValue,
  type ForceReleaseValue,
  type OpenSessionValue,
  type ProclaimValue,
  type ReleaseValue,
} from './lock-results.js';
import {
  compareGrantOrder,
  heldInGrantOrder,
  linkHeld,
  newLockRecord,
  SessionRecord,
  unlinkHeld,
  waiterCountOf,
  waitsInQueueOrder,
  type GrantPosition,
  type LockRecord,
  type LockWaiter,
} from './lock-records.js';
import { plainSnapshotFormat, type LockRecordSnapshot, type LockSnapshot, type SessionSnapshot } from './lock-snapshot.js';
import { defaultRecordsPerPart, LockSnapshotCursor } from './lock-snapshot-cursor.js';
import { LockSnapshotLoader, type RestoredLockState } from './lock-snapshot-loader.js';
import { isLockKind, lockKinds, LockTable } from './lock-table.js';
import { partsOfPlainSnapshot } from './plain-snapshot.js';
import type { LockInfo, LockStats, SessionInfo } from './lock-views.js';
import { fingerprintOf } from './request-fingerprint.js';
import { nameProblem, ownedText } from './text-rules.js';

export type { LockCommand, LockKind, LockLimits } from './lock-commands.js';
export { defaultLockLimits } from './lock-commands.js';
export type { LockEvent, LockEventType } from './lock-events.js';
export type * from './lock-results.js';
export type { LockSnapshot, LockSnapshotPart } from './lock-snapshot.js';
export type { LockSnapshotCursor } from './lock-snapshot-cursor.js';
export type { LockSnapshotLoader } from './lock-snapshot-loader.js';
export type { HolderView, LockInfo, LockStats, SessionInfo, WaiterView } from './lock-views.js';

type AcquireCommand = Extract<LockCommand, { type: 'Acquire' }>;

/** How a session ends: the events and the waiters' results differ, the cleanup does not. */
type SessionEnd = 'closed' | 'expired';

/** A client request's id and fingerprint, remembered with its result once its entry is finished. */
interface Remembered {
  readonly requestId: string;
  readonly fingerprint: number | undefined;
}

/** An entry that ends a session, releasing its locks in grant order over one or more calls. */
interface SessionEnding {
  readonly index: number;
  readonly session: SessionRecord;
  readonly eventType: 'released' | 'expired';
  /** The session's locks sorted in grant order; null when its held list already is (then it is walked from the head). */
  readonly sorted: readonly LockRecord[] | null;
  /** Locks released so far (sorted[0 .. released) when sorted). */
  released: number;
  /** Grant position of the last lock released, to assert that releases go in grant order. */
  lastReleased: GrantPosition | null;
  readonly events: LockEvent[];
  /** The command's own result, set by settle() once the command returns (before any release). */
  result: CommandResult | undefined;
  remember: Remembered | undefined;
}

export class LockStateMachine {
  private readonly sessions: Map<string, SessionRecord>;
  private readonly tables: Readonly<Record<LockKind, LockTable>>;
  private readonly dedupe: DedupeTable;
  private appliedIndex: number;
  /** Latest leader wall time seen in the log; stamps grants made by entries that carry none. */
  private leaderTimeMs: number;
  private waiterCount: number;
  /** The snapshot walk that still needs pre-images of changed lock records, if any. */
  private snapshotCursor: LockSnapshotCursor | null = null;
  /** Epoch of the latest snapshot walk (0: none yet); see LockRecord.snapshotEpoch. */
  private snapshotEpoch = 0;
  /** A restored machine's tables still fill their name Maps (see LockTable). */
  private lookupsFilling: boolean;
  /** The session an unfinished entry is ending, with the locks it has left to release (see apply()). */
  private ending: SessionEnding | null = null;

  /** An empty machine, or (restored) the state a LockSnapshotLoader rebuilt. */
  constructor(
    private readonly limits: LockLimits,
    restored?: RestoredLockState,
  ) {
    assertValidLockLimits(limits);
    this.sessions = restored?.sessions ?? new Map();
    this.tables = restored?.tables ?? { lock: new LockTable('lock'), election: new LockTable('election') };
    this.dedupe = restored?.dedupe ?? new DedupeTable(limits.maxDedupeEntries);
    this.appliedIndex = restored?.appliedIndex ?? 0;
    this.leaderTimeMs = restored?.leaderTimeMs ?? 0;
    this.waiterCount = restored?.waiterCount ?? 0;
    this.lookupsFilling = restored !== undefined;
  }

  /**
   * Applies the committed entry at index. Indexes must strictly increase across calls.
   *
   * With maxReleases, an entry that ends a session holding more locks than that is applied in
   * parts: apply() releases the first maxReleases of them and returns undefined, and continueApply()
   * releases more until it returns the outcome. Nothing else may be applied in between; the state
   * between parts is a valid state (the session is still listed, holding what is left), so queries
   * may run. The finished state and its events are exactly those of applying the entry at once.
   * This is what lets a member keep heartbeating while it releases a million locks.
   */
  apply(index: number, command: LockCommand): ApplyOutcome;
  apply(index: number, command: LockCommand, maxReleases: number): ApplyOutcome | undefined;
  apply(index: number, command: LockCommand, maxReleases = Number.POSITIVE_INFINITY): ApplyOutcome | undefined {
    assert(Number.isSafeInteger(index), 'log indexes are integers');
    assert(index > this.appliedIndex, 'log indexes strictly increase across apply calls');
    assert(this.ending === null, 'an entry is applied only once the entry before it is finished');
    assert(maxReleases >= 1, 'a part releases at least one lock');
    this.appliedIndex = index;
    const events: LockEvent[] = [];
    switch (command.type) {
      case 'Noop':
        return { result: undefined, events };
      case 'ExpireSession':
        return this.settle(this.expireSession(index, command.sessionId, command.leaderTimeMs, events), undefined, events, maxReleases);
      default: {
        // Exactly once (SPEC §3.4): a retry is answered from the table and applies nothing. A
        // different request under a spent id applies nothing either, and is told so: the remembered
        // result is another request's (a grant of another lock, a session it did not open).
        const fingerprint = fingerprintOf(command);
        const remembered = this.dedupe.entry(command.requestId);
        if (remembered !== undefined) {
          // Entries of an older leader carry no fingerprint: those answer by id alone, as they did.
          const reused = remembered.fingerprint !== undefined && fingerprint !== undefined && remembered.fingerprint !== fingerprint;
          return { result: reused ? reusedRequestIdFailure(command.requestId) : remembered.result, events };
        }
        const result = this.applyClientCommand(index, command, events);
        return this.settle(result, { requestId: command.requestId, fingerprint }, events, maxReleases);
      }
    }
  }

  /**
   * Releases up to maxReleases more locks of the session an unfinished entry ends (see apply());
   * the entry's outcome once it is finished, undefined while locks remain.
   */
  continueApply(maxReleases: number): ApplyOutcome | undefined {
    const ending = this.ending;
    assert(ending !== null, 'continueApply() continues an unfinished entry');
    assert(maxReleases >= 1, 'a part releases at least one lock');
    const { session, sorted, index, eventType, events } = ending;
    for (let count = 0; count < maxReleases; count++) {
      const record = sorted === null ? session.heldHead : sorted[ending.released];
      if (record === null || record === undefined) break;
      assert(record.holder === session, 'a session holds the locks of its held list');
      assert(ending.lastReleased === null || compareGrantOrder(ending.lastReleased, record) < 0, 'a session releases its locks in grant order');
      // Copied before the release: a lock handed on takes the new holder's grant position.
      ending.lastReleased = { token: record.token, grantSub: record.grantSub };
      this.releaseHolder(index, record, eventType, events);
      ending.released++;
    }
    if (session.heldCount > 0) return undefined;
    assert(sorted === null || ending.released === sorted.length, 'every sorted lock was released');
    const { result, remember } = ending;
    assert(result !== undefined, 'the ending command has its result before its locks are released');
    this.sessions.delete(session.sessionId);
    this.ending = null;
    if (remember !== undefined) this.dedupe.record(remember.requestId, index, remember.fingerprint, result);
    return { result, events };
  }

  /** True between an apply() that returned undefined and the continueApply() that finishes it. */
  applyUnfinished(): boolean {
    return this.ending !== null;
  }

  /** The entry's outcome, once a session it ends has released its locks (see continueApply()). */
  private settle(result: CommandResult, remember: Remembered | undefined, events: LockEvent[], maxReleases: number): ApplyOutcome | undefined {
    if (this.ending === null) {
      if (remember !== undefined) this.dedupe.record(remember.requestId, this.appliedIndex, remember.fingerprint, result);
      return { result, events };
    }
    this.ending.result = result;
    this.ending.remember = remember;
    return this.continueApply(maxReleases);
  }

  /** The remembered result of a request id, or undefined when unseen or evicted. */
  dedupeLookup(requestId: string): CommandResult | undefined {
    return this.dedupe.lookup(requestId);
  }

  lastAppliedIndex(): number {
    return this.appliedIndex;
  }

  /**
   * A restored machine finds locks by binary search until its name Maps are built, a slice at a time
   * by whoever has the time (the driver: between event-loop turns). apply() does not build them: a
   * member replaying its log tail after a restart would spend seconds on it before serving.
   * Adds up to maxRecords records; true once the Maps are complete. Changes no replicated state.
   */
  fillLookups(maxRecords: number): boolean {
    assert(Number.isSafeInteger(maxRecords), 'a fill budget is a whole number');
    assert(maxRecords >= 1, 'a fill adds at least one record');
    if (!this.lookupsFilling) return true;
    this.lookupsFilling = !(this.tables.lock.fillLookups(maxRecords) && this.tables.election.fillLookups(maxRecords));
    return !this.lookupsFilling;
  }

  private applyClientCommand(index: number, command: ClientCommand, events: LockEvent[]): CommandResult {
    switch (command.type) {
      case 'OpenSession':
        return this.openSession(index, command.ttlMs, command.clientName, command.leaderTimeMs);
      case 'CloseSession':
        return this.closeSession(index, command.sessionId, events);
      case 'Acquire':
        return this.acquire(index, command, events);
      case 'CancelWait':
        return this.cancelWait(index, command.sessionId, command.kind, command.name, events);
      case 'Release':
        return this.release(index, command.sessionId, command.kind, command.name, command.token, events);
      case 'ForceRelease':
        return this.forceRelease(index, command.kind, command.name, events);
      case 'Proclaim':
        return this.proclaim(index, command, events);
      default:
        return assertNever(command, 'unknown lock command');
    }
  }

  // ---- sessions ------------------------------------------------------------------------------

  private openSession(index: number, ttlMs: number, clientName: string, leaderTimeMs: number): CommandResult<OpenSessionValue> {
    this.observeLeaderTime(leaderTimeMs);
    if (!Number.isSafeInteger(ttlMs) || ttlMs < this.limits.minTtlMs || ttlMs > this.limits.maxTtlMs) {
      return failure('INVALID_ARGUMENT', `ttlMs must be an integer between ${this.limits.minTtlMs} and ${this.limits.maxTtlMs}`);
    }
    const clientNameProblem = nameProblem(clientName, this.limits.maxNameBytes, true);
    if (clientNameProblem !== undefined) return failure('INVALID_ARGUMENT', `clientName ${clientNameProblem}`);
    if (this.sessions.size >= this.limits.maxSessions) {
      return failure('RATE_LIMITED', `the cluster already has ${this.limits.maxSessions} sessions`);
    }
    // The index is unique and the same on every member: a deterministic id without randomness.
    const sessionId = String(index);
    assert(!this.sessions.has(sessionId), 'session ids are unique because indexes are');
    this.sessions.set(sessionId, new SessionRecord(sessionId, ttlMs, ownedText(clientName), index, leaderTimeMs));
    return success({ sessionId, ttlMs, createdIndex: index });
  }

  private closeSession(index: number, sessionId: string, events: LockEvent[]): CommandResult<CloseSessionValue> {
    const session = this.sessions.get(sessionId);
    if (session === undefined) return sessionExpired(sessionId);
    this.endSession(index, session, 'closed', events);
    return success({ closed: true });
  }

  private expireSession(index: number, sessionId: string, leaderTimeMs: number, events: LockEvent[]): CommandResult<ExpireSessionValue> {
    this.observeLeaderTime(leaderTimeMs);
    const session = this.sessions.get(sessionId);
    // A second expiry of the same session (say, re-proposed by a new leader) finds nothing to do.
    if (session === undefined) return success({ expired: false });
    this.endSession(index, session, 'expired', events);
    return success({ expired: true });
  }

  /**
   * Removes the session's waits FIRST, and only then releases its locks (continueApply(), perhaps
   * in parts), so no promotion made by this entry (or any later one) can see a waiter of the ending
   * session. etcd's lock recipe granted a lock to a waiter whose lease had already expired (Jepsen,
   * etcd 3.4.3) because the wait outlived the lease; here a wait ends in the entry its session ends
   * in, and grantTo() asserts that every grantee is alive. The session itself is deleted once it
   * holds nothing: until then it is a valid session with no waits, and nothing else applies.
   *
   * Waits end in queuing order and locks are released in grant order, on every member alike
   * (events and hand-overs follow this order); both orders are sorted from the records, because a
   * restored member holds its lists in snapshot (name) order.
   */
  private endSession(index: number, session: SessionRecord, end: SessionEnd, events: LockEvent[]): void {
    const waitEventType = end === 'expired' ? 'expired' : 'cancelled';
    const waiterResult = failure('SESSION_EXPIRED', end === 'expired' ? 'the session expired while waiting' : 'the session was closed while waiting');
    for (const { record, waiter } of waitsInQueueOrder(session)) {
      this.removeWaiter(record, waiter);
      this.dedupe.resolve(waiter.requestId, waiter.sinceIndex, waiterResult);
      events.push({ index, type: waitEventType, kind: record.kind, name: record.name, sessionId: session.sessionId, requestId: waiter.requestId });
    }
    session.waits.clear();
    const eventType = end === 'expired' ? 'expired' : 'released';
    // A list built by grants is in grant order already: walking it costs nothing up front, where
    // collecting and sorting a million records would stall the member before the first part.
    const sorted = session.heldInGrantOrder ? null : heldInGrantOrder(session);
    this.ending = { index, session, eventType, sorted, released: 0, lastReleased: null, events, result: undefined, remember: undefined };
  }

  // ---- acquire, cancel, release --------------------------------------------------------------

  private acquire(index: number, command: AcquireCommand, events: LockEvent[]): CommandResult<AcquireValue> {
    this.observeLeaderTime(command.leaderTimeMs);
    const argumentFailure = this.checkAcquireArguments(command);
    if (argumentFailure !== undefined) return argumentFailure;
    const session = this.sessions.get(command.sessionId);
    if (session === undefined) return sessionExpired(command.sessionId);
    const { kind, name } = command;
    const record = this.tables[kind].get(name);
    if (record === undefined) return this.grantFreeLock(index, session, command, events);
    if (record.holder === session) {
      return failure('ALREADY_HELD', `session ${session.sessionId} already holds ${kind} ${JSON.stringify(name)}`);
    }
    if (session.waits.has(record)) {
      return failure('ALREADY_HELD', `session ${session.sessionId} is already waiting for ${kind} ${JSON.stringify(name)}`);
    }
    if (command.mode === 'try') return failure('LOCK_HELD', `${kind} ${JSON.stringify(name)} is held by another session`);
    if (waiterCountOf(record) >= this.limits.maxWaitersPerLock) {
      return failure('RATE_LIMITED', `${kind} ${JSON.stringify(name)} already has ${this.limits.maxWaitersPerLock} waiters`);
    }
    if (session.waits.size >= this.limits.maxWaitsPerSession) {
      return failure('RATE_LIMITED', `session ${session.sessionId} already waits on ${this.limits.maxWaitsPerSession} locks`);
    }
    // The waiter and the record keep their own copies of the command's strings (see ownedText).
    const requestId = ownedText(command.requestId);
    const metadata = ownedText(command.metadata);
    const value = ownedText(command.value);
    const waiter: LockWaiter = { session, requestId, sinceIndex: index, metadata, value };
    this.beforeChange(record);
    const waiters = record.waiters ?? (record.waiters = []);
    waiters.push(waiter);
    session.waits.add(record);
    this.waiterCount++;
    events.push({ index, type: 'queued', ...eventPayload(record.kind, metadata, value), name: record.name, sessionId: session.sessionId, requestId });
    return success({ state: 'queued', kind: record.kind, name: record.name, position: waiters.length });
  }

  private checkAcquireArguments(command: AcquireCommand): CommandResult<AcquireValue> | undefined {
    const argumentFailure = this.checkLockArguments(command.kind, command.name);
    if (argumentFailure !== undefined) return argumentFailure;
    if (command.mode !== 'wait' && command.mode !== 'try') return failure('INVALID_ARGUMENT', 'mode must be "wait" or "try"');
    if (utf8ByteLength(command.metadata) > this.limits.maxMetadataBytes) {
      return failure('TOO_LARGE', `metadata must be at most ${this.limits.maxMetadataBytes} bytes of UTF-8`);
    }
    if (utf8ByteLength(command.value) > this.limits.maxValueBytes) {
      return failure('TOO_LARGE', `value must be at most ${this.limits.maxValueBytes} bytes of UTF-8`);
    }
    if (command.kind === 'lock' && command.value !== '') return failure('INVALID_ARGUMENT', 'a lock carries metadata, not a value');
    return undefined;
  }

  /** The kind and name checks every lock command shares. */
  private checkLockArguments(kind: LockKind, name: string): CommandResult<never> | undefined {
    if (!isLockKind(kind)) return failure('INVALID_ARGUMENT', 'kind must be "lock" or "election"');
    const problem = nameProblem(name, this.limits.maxNameBytes, false);
    if (problem !== undefined) return failure('INVALID_ARGUMENT', `name ${problem}`);
    return undefined;
  }

  private grantFreeLock(index: number, session: SessionRecord, command: AcquireCommand, events: LockEvent[]): CommandResult<AcquireValue> {
    if (this.tables.lock.size + this.tables.election.size >= this.limits.maxLocks) {
      return failure('RATE_LIMITED', `the cluster already has ${this.limits.maxLocks} locks and elections`);
    }
    // The table's own kind string, and copies of the command's strings (see ownedText), so the
    // record keeps nothing of the decoded command alive. A record made during a snapshot walk
    // carries the walk's epoch: the walk leaves it out.
    const table = this.tables[command.kind];
    const name = ownedText(command.name);
    const record = newLockRecord(table.kind, name, session, index, 0, this.leaderTimeMs, ownedText(command.metadata), ownedText(command.value), this.snapshotCursor?.epoch ?? 0);
    this.grantTo(index, record, session);
    table.insert(record);
    this.pushGrantEvents(index, record, command.requestId, events);
    return success({ state: 'acquired', kind: table.kind, name, token: index, sessionId: session.sessionId });
  }

  private cancelWait(index: number, sessionId: string, kind: LockKind, name: string, events: LockEvent[]): CommandResult<CancelWaitValue> {
    const argumentFailure = this.checkLockArguments(kind, name);
    if (argumentFailure !== undefined) return argumentFailure;
    const session = this.sessions.get(sessionId);
    if (session === undefined) return sessionExpired(sessionId);
    const record = this.tables[kind].get(name);
    // Not waiting (any more): the grant may have won the race with the cancel; the client learns
    // it holds the lock from its acquire's result.
    if (record === undefined || !session.waits.has(record)) return success({ cancelled: false });
    const waiter = record.waiters?.find((candidate) => candidate.session === session);
    assert(waiter !== undefined, 'the session is in the queue it lists among its waits');
    this.removeWaiter(record, waiter);
    session.waits.delete(record);
    this.dedupe.resolve(waiter.requestId, waiter.sinceIndex, failure('TIMEOUT', 'wait cancelled'));
    events.push({ index, type: 'cancelled', kind, name, sessionId, requestId: waiter.requestId });
    return success({ cancelled: true });
  }

  private release(index: number, sessionId: string, kind: LockKind, name: string, token: number, events: LockEvent[]): CommandResult<ReleaseValue> {
    const argumentFailure = this.checkLockArguments(kind, name);
    if (argumentFailure !== undefined) return argumentFailure;
    const session = this.sessions.get(sessionId);
    if (session === undefined) return sessionExpired(sessionId);
    const record = this.tables[kind].get(name);
    if (record === undefined || record.holder !== session) {
      return failure('NOT_HOLDER', `session ${sessionId} does not hold ${kind} ${JSON.stringify(name)}`);
    }
    if (record.token !== token) {
      return failure('NOT_HOLDER', `token ${String(token)} is not the current token of ${kind} ${JSON.stringify(name)}`);
    }
    this.releaseHolder(index, record, 'released', events);
    return success({ released: true });
  }

  private forceRelease(index: number, kind: LockKind, name: string, events: LockEvent[]): CommandResult<ForceReleaseValue> {
    const argumentFailure = this.checkLockArguments(kind, name);
    if (argumentFailure !== undefined) return argumentFailure;
    const record = this.tables[kind].get(name);
    if (record === undefined) return success({ released: false });
    const previousSessionId = record.holder.sessionId;
    assert(this.sessions.get(previousSessionId) === record.holder, 'every holder belongs to a live session');
    this.releaseHolder(index, record, 'released', events);
    return success({ released: true, previousSessionId });
  }

  private proclaim(index: number, command: Extract<LockCommand, { type: 'Proclaim' }>, events: LockEvent[]): CommandResult<ProclaimValue> {
    const { sessionId, name, token, value } = command;
    const argumentFailure = this.checkLockArguments('election', name);
    if (argumentFailure !== undefined) return argumentFailure;
    if (utf8ByteLength(value) > this.limits.maxValueBytes) {
      return failure('TOO_LARGE', `value must be at most ${this.limits.maxValueBytes} bytes of UTF-8`);
    }
    if (!this.sessions.has(sessionId)) return sessionExpired(sessionId);
    const record = this.tables.election.get(name);
    if (record === undefined || record.holder.sessionId !== sessionId || record.token !== token) {
      return failure('NOT_HOLDER', `session ${sessionId} with token ${String(token)} does not lead election ${JSON.stringify(name)}`);
    }
    this.beforeChange(record);
    record.value = ownedText(value);
    events.push({ index, type: 'value', kind: 'election', name, sessionId, token, value });
    return success({ proclaimed: true });
  }

  // ---- grants and hand-overs -----------------------------------------------------------------

  /**
   * Releases the record's holder and hands the lock to the first waiter, or deletes the record when
   * nobody waits. The promoting entry's index becomes the new token.
   */
  private releaseHolder(index: number, record: LockRecord, eventType: 'released' | 'expired', events: LockEvent[]): void {
    const { kind, name } = record;
    const previous = record.holder;
    const previousToken = record.token;
    this.beforeChange(record);
    unlinkHeld(record);
    events.push({ index, type: eventType, kind, name, sessionId: previous.sessionId, token: previousToken });
    const next = record.waiters?.shift();
    if (next === undefined) {
      this.tables[kind].delete(record);
      return;
    }
    if (record.waiters?.length === 0) record.waiters = null;
    this.waiterCount--;
    const nextSession = next.session;
    const waitRemoved = nextSession.waits.delete(record);
    assert(waitRemoved, 'the promoted waiter listed the lock among its waits');
    record.metadata = next.metadata;
    record.value = next.value;
    this.grantTo(index, record, nextSession);
    assert(record.token > previousToken, 'fencing tokens of one lock strictly increase');
    const granted = success({ state: 'acquired', kind, name, token: record.token, sessionId: nextSession.sessionId });
    this.dedupe.resolve(next.requestId, next.sinceIndex, granted);
    this.pushGrantEvents(index, record, next.requestId, events);
  }

  /** Makes session the record's holder, granted by the entry at index, and lists it as held. */
  private grantTo(index: number, record: LockRecord, session: SessionRecord): void {
    assert(this.sessions.get(session.sessionId) === session, 'a lock is granted only to a live session');
    // Grant order within one entry: a session ending can hand several locks to one other session.
    const tail = session.heldTail;
    record.grantSub = tail !== null && tail.token === index ? tail.grantSub + 1 : 0;
    record.holder = session;
    // The fencing token is the granting entry's index (SPEC §3.2).
    record.token = index;
    record.sinceTimeMs = this.leaderTimeMs;
    linkHeld(record);
  }

  private pushGrantEvents(index: number, record: LockRecord, requestId: string, events: LockEvent[]): void {
    assert(record.token === index, 'a grant is stamped with its own entry index');
    const { kind, name, token } = record;
    const { sessionId } = record.holder;
    events.push({ index, type: 'acquired', ...eventPayload(kind, record.metadata, record.value), name, sessionId, token, requestId });
    // Observers of an election want the leader's value with every change of leader (SPEC §4).
    if (kind === 'election') events.push({ index, type: 'value', kind, name, sessionId, token, value: record.value });
  }

  /** Takes waiter out of the record's queue (the caller updates the waiter's session). */
  private removeWaiter(record: LockRecord, waiter: LockWaiter): void {
    const waiters = record.waiters;
    assert(waiters !== null, 'a waiter is removed from a queue that has waiters');
    const position = waiters.indexOf(waiter);
    assert(position >= 0, 'the waiter is in the queue');
    this.beforeChange(record);
    waiters.splice(position, 1);
    if (waiters.length === 0) record.waiters = null;
    this.waiterCount--;
    assert(this.waiterCount >= 0, 'the waiter count never goes below zero');
  }

  /** Called before any change to a lock record: a snapshot walk in progress keeps its pre-image. */
  private beforeChange(record: LockRecord): void {
    const cursor = this.snapshotCursor;
    if (cursor !== null && record.snapshotEpoch !== cursor.epoch) cursor.preserve(record);
  }

  private observeLeaderTime(leaderTimeMs: number): void {
    assert(Number.isFinite(leaderTimeMs), 'the leader stamps a finite wall time');
    this.leaderTimeMs = leaderTimeMs;
  }

  // ---- queries -------------------------------------------------------------------------------

  getLock(kind: LockKind, name: string): LockInfo | undefined {
    assert(isLockKind(kind), 'queries name a lock kind');
    const record = this.tables[kind].get(name);
    return record === undefined ? undefined : this.lockInfo(record);
  }

  /**
   * Up to limit locks of kind whose names start with prefix, in name order. Cost: O(log n) to find
   * the prefix plus O(limit) to read, thanks to the sorted name index.
   */
  listLocks(kind: LockKind, prefix: string, limit: number): LockInfo[] {
    assert(isLockKind(kind), 'queries name a lock kind');
    assert(Number.isSafeInteger(limit), 'a list limit is an integer');
    assert(limit >= 0, 'a list limit is not negative');
    const locks: LockInfo[] = [];
    if (limit === 0) return locks;
    for (const record of this.tables[kind].withPrefix(prefix)) {
      locks.push(this.lockInfo(record));
      if (locks.length >= limit) break;
    }
    return locks;
  }

  getSession(sessionId: string): SessionInfo | undefined {
    const session = this.sessions.get(sessionId);
    return session === undefined ? undefined : sessionInfo(session);
  }

  /** Every session, in creation order. */
  listSessions(): SessionInfo[] {
    return Array.from(this.sessions.values(), sessionInfo);
  }

  /** The live sessions and their TTLs, for the leader's keepalive tracking. */
  *sessionTtls(): Generator<[sessionId: string, ttlMs: number], void, undefined> {
    for (const session of this.sessions.values()) yield [session.sessionId, session.ttlMs];
  }

  stats(): LockStats {
    return { sessions: this.sessions.size, locksHeld: this.tables.lock.size, waiters: this.waiterCount, elections: this.tables.election.size };
  }

  private lockInfo(record: LockRecord): LockInfo {
    const holder = this.liveSession(record.holder);
    return {
      kind: record.kind,
      name: record.name,
      holder: {
        sessionId: holder.sessionId,
        clientName: holder.clientName,
        token: record.token,
        sinceIndex: record.token,
        sinceTimeMs: record.sinceTimeMs,
        metadata: record.metadata,
        value: record.value,
      },
      waiters: (record.waiters ?? []).map((waiter) => ({
        sessionId: waiter.session.sessionId,
        clientName: this.liveSession(waiter.session).clientName,
        requestId: waiter.requestId,
        sinceIndex: waiter.sinceIndex,
      })),
    };
  }

  private liveSession(session: SessionRecord): SessionRecord {
    assert(this.sessions.get(session.sessionId) === session, 'every holder and waiter belongs to a live session');
    return session;
  }

  // ---- snapshots -----------------------------------------------------------------------------

  /**
   * Starts writing the state as of now (this applied index) into format-2 parts, a few records per
   * cursor.step(), while apply() keeps running between steps; see LockSnapshotCursor. O(sessions +
   * dedupe entries + name-index chunks) now, with the rest spread over the steps. One walk at a
   * time: finish it or abort() it before the next. recordsPerPart is for tests (small parts).
   */
  beginSnapshot(recordsPerPart = defaultRecordsPerPart): LockSnapshotCursor {
    assert(this.snapshotCursor === null, 'one snapshot walk at a time: finish or abort the last one first');
    assert(this.ending === null, 'a snapshot holds the state after a whole entry, not part of one');
    this.snapshotEpoch++;
    const cursor = new LockSnapshotCursor(
      {
        epoch: this.snapshotEpoch,
        appliedIndex: this.appliedIndex,
        leaderTimeMs: this.leaderTimeMs,
        sessions: Array.from(this.sessions.values()),
        tables: this.tables,
        dedupe: this.dedupe.serialize(),
        recordsPerPart,
      },
      () => {
        assert(this.snapshotCursor === cursor, 'the walk that finishes its locks is the current one');
        this.snapshotCursor = null;
      },
    );
    this.snapshotCursor = cursor;
    return cursor;
  }

  /** Rebuilds a machine from format-2 parts fed to the loader in order; finish() returns it. */
  static beginRestore(limits: LockLimits): LockSnapshotLoader<LockStateMachine> {
    assertValidLockLimits(limits);
    return new LockSnapshotLoader(limits, (state) => new LockStateMachine(limits, state));
  }

  /**
   * The whole state as one plain format-1 object: readable, comparable with toEqual, and the shape
   * of backups written before format 2. Snapshots are written with beginSnapshot().
   */
  serialize(): LockSnapshot {
    assert(this.ending === null, 'a snapshot holds the state after a whole entry, not part of one');
    const sessions: SessionSnapshot[] = [];
    for (const session of this.sessions.values()) {
      const { sessionId, ttlMs, clientName, createdIndex, createdTimeMs } = session;
      const held = heldInGrantOrder(session).map(({ kind, name }) => ({ kind, name }));
      const waits = waitsInQueueOrder(session).map(({ record: { kind, name } }) => ({ kind, name }));
      sessions.push({ sessionId, ttlMs, clientName, createdIndex, createdTimeMs, held, waits });
    }
    const locks: LockRecordSnapshot[] = [];
    for (const kind of lockKinds) {
      for (const record of this.tables[kind].withPrefix('')) {
        const { token, sinceTimeMs, metadata, value } = record;
        locks.push({
          kind,
          name: record.name,
          holder: { sessionId: record.holder.sessionId, token, sinceTimeMs, metadata, value },
          waiters: (record.waiters ?? []).map((waiter) => ({
            sessionId: waiter.session.sessionId,
            requestId: waiter.requestId,
            sinceIndex: waiter.sinceIndex,
            metadata: waiter.metadata,
            value: waiter.value,
          })),
        });
      }
    }
    const dedupe = this.dedupe.serialize().map(({ requestId, index, fingerprint, result }) => ({ requestId, index, fingerprint, result }));
    return { format: plainSnapshotFormat, appliedIndex: this.appliedIndex, leaderTimeMs: this.leaderTimeMs, sessions, locks, dedupe };
  }

  /** Rebuilds the state serialize() wrote (format 1); the result applies later entries exactly as the original. */
  static restore(snapshot: LockSnapshot, limits: LockLimits): LockStateMachine {
    const loader = LockStateMachine.beginRestore(limits);
    for (const part of partsOfPlainSnapshot(snapshot)) loader.add(part);
    return loader.finish();
  }

  // ---- invariants ----------------------------------------------------------------------------

  /** Verifies the whole state, O(size log size): in tests and simulation checkers. */
  checkInvariants(): void {
    let heldReferenceCount = 0;
    let waitReferenceCount = 0;
    for (const [sessionId, session] of this.sessions) {
      assert(session.sessionId === sessionId, 'a session is filed under its own id');
      assert(sessionId === String(session.createdIndex), 'a session id is its creating index');
      assert(session.createdIndex <= this.appliedIndex, 'sessions are created by applied entries');
      let previous: LockRecord | null = null;
      for (let record = session.heldHead; record !== null; record = record.heldNext) {
        assert(record.heldPrevious === previous, 'held list links go both ways');
        assert(record.holder === session, 'a held lock names its session as holder');
        assert(this.tables[record.kind].get(record.name) === record, 'a held lock is the live record of its name');
        heldReferenceCount++;
        previous = record;
      }
      assert(session.heldTail === previous, 'the held list ends at its tail');
      if (session.heldInGrantOrder) {
        for (let record = session.heldHead; record !== null && record.heldNext !== null; record = record.heldNext) {
          assert(compareGrantOrder(record, record.heldNext) < 0, 'a held list marked in grant order is');
        }
      }
      assert(heldInGrantOrder(session).length === session.heldCount, 'the held count is the held list length');
      for (const record of session.waits) {
        assert(this.tables[record.kind].get(record.name) === record, 'a session waits on live records');
        assert(record.waiters?.some((waiter) => waiter.session === session) === true, 'a listed wait is in the lock queue');
        waitReferenceCount++;
      }
    }
    let recordCount = 0;
    let waiterTotal = 0;
    for (const kind of lockKinds) {
      this.tables[kind].checkInvariants();
      for (const record of this.tables[kind].withPrefix('')) {
        this.checkRecordInvariants(record);
        recordCount++;
        waiterTotal += waiterCountOf(record);
      }
    }
    assert(heldReferenceCount === recordCount, 'every record is listed by exactly its holder');
    assert(waitReferenceCount === waiterTotal, 'every waiter is listed by exactly its session');
    assert(waiterTotal === this.waiterCount, 'the waiter count matches the queues');
  }

  private checkRecordInvariants(record: LockRecord): void {
    const { holder } = record;
    assert(this.sessions.get(holder.sessionId) === holder, 'a holder belongs to a live session');
    assert(Number.isSafeInteger(record.token), 'a token is an index');
    assert(record.token >= 1, 'a token is a valid index');
    assert(record.token <= this.appliedIndex, 'a token comes from an applied entry');
    assert(Number.isSafeInteger(record.grantSub), 'a grant sub-position is an integer');
    assert(record.grantSub >= 0, 'a grant sub-position is not negative');
    assert(record.kind === 'election' || record.value === '', 'a lock holder carries no value');
    assert(record.waiters === null || record.waiters.length > 0, 'an empty queue is null');
    const queued = new Set<SessionRecord>();
    let previousSinceIndex = 0;
    for (const waiter of record.waiters ?? []) {
      const { session } = waiter;
      assert(this.sessions.get(session.sessionId) === session, 'a waiter belongs to a live session');
      assert(session.waits.has(record), 'a waiter session lists the wait');
      assert(session !== holder, 'the holder does not also wait');
      assert(!queued.has(session), 'a session waits at most once per lock');
      assert(waiter.sinceIndex > previousSinceIndex, 'the queue is in arrival (index) order');
      assert(waiter.sinceIndex <= this.appliedIndex, 'waiters come from applied entries');
      queued.add(session);
      previousSinceIndex = waiter.sinceIndex;
    }
  }
}

function sessionInfo(session: SessionRecord): SessionInfo {
  return {
    sessionId: session.sessionId,
    ttlMs: session.ttlMs,
    clientName: session.clientName,
    createdIndex: session.createdIndex,
    createdTimeMs: session.createdTimeMs,
    heldLocks: session.heldCount,
    waits: session.waits.size,
  };
}

function sessionExpired(sessionId: string): CommandResult<never> {
  return failure('SESSION_EXPIRED', `session ${sessionId} does not exist (expired or closed)`);
}

/** Kind plus the payload an event about a holder or waiter carries: metadata for locks, value for elections. */
function eventPayload(kind: LockKind, metadata: string, value: string): { kind: LockKind; metadata: string } | { kind: LockKind; value: string } {
  return kind === 'lock' ? { kind, metadata } : { kind, value };
}
