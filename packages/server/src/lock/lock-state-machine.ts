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
//   every holder and waiter belongs to a live session, and each session's held/waits sets mirror
//     the records exactly
//   a retried request id returns its remembered result and changes nothing (SPEC §3.4)

import { assert, assertNever } from '../assert.js';
import { DedupeTable } from './dedupe-table.js';
import { assertValidLockLimits, type LockCommand, type LockKind, type LockLimits } from './lock-commands.js';
import type { LockEvent } from './lock-events.js';
import {
  failure,
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
import { lockSnapshotFormat, type LockRecordSnapshot, type LockSnapshot, type SessionSnapshot } from './lock-snapshot.js';
import { isLockKind, lockKey, lockKinds, LockTable, parseLockKey, type LockHolder, type LockRecord, type LockWaiter } from './lock-table.js';
import type { LockInfo, LockStats, SessionInfo } from './lock-views.js';
import { nameProblem, utf8ByteLength } from './text-rules.js';

export type { LockCommand, LockKind, LockLimits } from './lock-commands.js';
export { defaultLockLimits } from './lock-commands.js';
export type { LockEvent, LockEventType } from './lock-events.js';
export type * from './lock-results.js';
export type { LockSnapshot } from './lock-snapshot.js';
export type { HolderView, LockInfo, LockStats, SessionInfo, WaiterView } from './lock-views.js';

interface SessionRecord {
  readonly sessionId: string;
  readonly ttlMs: number;
  readonly clientName: string;
  readonly createdIndex: number;
  readonly createdTimeMs: number;
  /** Lock keys in grant order. */
  readonly held: Set<string>;
  /** Lock keys in queuing order. */
  readonly waits: Set<string>;
}

/** The commands that carry a request id and so go through the dedupe table. */
type ClientCommand = Exclude<LockCommand, { type: 'Noop' } | { type: 'ExpireSession' }>;
type AcquireCommand = Extract<LockCommand, { type: 'Acquire' }>;

/** How a session ends: the events and the waiters' results differ, the cleanup does not. */
type SessionEnd = 'closed' | 'expired';

export class LockStateMachine {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly tables: Readonly<Record<LockKind, LockTable>> = { lock: new LockTable('lock'), election: new LockTable('election') };
  private dedupe: DedupeTable;
  private appliedIndex = 0;
  /** Latest leader wall time seen in the log; stamps grants made by entries that carry none. */
  private leaderTimeMs = 0;
  private waiterCount = 0;

  constructor(private readonly limits: LockLimits) {
    assertValidLockLimits(limits);
    this.dedupe = new DedupeTable(limits.maxDedupeEntries);
  }

  /** Applies the committed entry at index. Indexes must strictly increase across calls. */
  apply(index: number, command: LockCommand): ApplyOutcome {
    assert(Number.isSafeInteger(index), 'log indexes are integers');
    assert(index > this.appliedIndex, 'log indexes strictly increase across apply calls');
    this.appliedIndex = index;
    const events: LockEvent[] = [];
    switch (command.type) {
      case 'Noop':
        return { result: undefined, events };
      case 'ExpireSession':
        return { result: this.expireSession(index, command.sessionId, command.leaderTimeMs, events), events };
      default: {
        // Exactly once (SPEC §3.4): a retry is answered from the table and applies nothing.
        const remembered = this.dedupe.lookup(command.requestId);
        if (remembered !== undefined) return { result: remembered, events };
        const result = this.applyClientCommand(index, command, events);
        this.dedupe.record(command.requestId, index, result);
        return { result, events };
      }
    }
  }

  /** The remembered result of a request id, or undefined when unseen or evicted. */
  dedupeLookup(requestId: string): CommandResult | undefined {
    return this.dedupe.lookup(requestId);
  }

  lastAppliedIndex(): number {
    return this.appliedIndex;
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
    this.sessions.set(sessionId, {
      sessionId,
      ttlMs,
      clientName,
      createdIndex: index,
      createdTimeMs: leaderTimeMs,
      held: new Set(),
      waits: new Set(),
    });
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
   * Removes the session's waits FIRST, deletes the session, and only then releases its locks, so
   * no promotion made by this entry (or any later one) can see a waiter of the ending session.
   * etcd's lock recipe granted a lock to a waiter whose lease had already expired (Jepsen, etcd
   * 3.4.3) because the wait outlived the lease; here a wait ends in the entry its session ends in,
   * and makeHolder() asserts that every grantee is alive.
   */
  private endSession(index: number, session: SessionRecord, end: SessionEnd, events: LockEvent[]): void {
    const waitEventType = end === 'expired' ? 'expired' : 'cancelled';
    const waiterResult = failure('SESSION_EXPIRED', end === 'expired' ? 'the session expired while waiting' : 'the session was closed while waiting');
    for (const key of session.waits) {
      const { kind, name } = parseLockKey(key);
      const record = this.tables[kind].get(name);
      assert(record !== undefined, 'a session waits only on existing locks');
      const waiter = this.removeWaiter(record, session.sessionId);
      this.dedupe.resolve(waiter.requestId, waiter.sinceIndex, waiterResult);
      events.push({ index, type: waitEventType, kind, name, sessionId: session.sessionId, requestId: waiter.requestId });
    }
    session.waits.clear();
    this.sessions.delete(session.sessionId);
    const releaseEventType = end === 'expired' ? 'expired' : 'released';
    for (const key of [...session.held]) {
      const { kind, name } = parseLockKey(key);
      const record = this.tables[kind].get(name);
      assert(record !== undefined, 'a session holds only existing locks');
      this.releaseHolder(index, record, session, releaseEventType, events);
    }
    assert(session.held.size === 0, 'an ended session holds nothing');
    assert(!this.sessions.has(session.sessionId), 'an ended session is gone');
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
    const key = lockKey(kind, name);
    if (record.holder.sessionId === session.sessionId) {
      return failure('ALREADY_HELD', `session ${session.sessionId} already holds ${kind} ${JSON.stringify(name)}`);
    }
    if (session.waits.has(key)) {
      return failure('ALREADY_HELD', `session ${session.sessionId} is already waiting for ${kind} ${JSON.stringify(name)}`);
    }
    if (command.mode === 'try') return failure('LOCK_HELD', `${kind} ${JSON.stringify(name)} is held by another session`);
    if (record.waiters.length >= this.limits.maxWaitersPerLock) {
      return failure('RATE_LIMITED', `${kind} ${JSON.stringify(name)} already has ${this.limits.maxWaitersPerLock} waiters`);
    }
    if (session.waits.size >= this.limits.maxWaitsPerSession) {
      return failure('RATE_LIMITED', `session ${session.sessionId} already waits on ${this.limits.maxWaitsPerSession} locks`);
    }
    const { requestId, metadata, value } = command;
    const waiter: LockWaiter = { sessionId: session.sessionId, requestId, sinceIndex: index, metadata, value };
    record.waiters.push(waiter);
    session.waits.add(key);
    this.waiterCount++;
    events.push({ index, type: 'queued', ...eventPayload(kind, metadata, value), name, sessionId: session.sessionId, requestId });
    return success({ state: 'queued', kind, name, position: record.waiters.length });
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
    const { kind, name } = command;
    if (this.tables.lock.size + this.tables.election.size >= this.limits.maxLocks) {
      return failure('RATE_LIMITED', `the cluster already has ${this.limits.maxLocks} locks and elections`);
    }
    const holder = this.makeHolder(index, session, command.metadata, command.value);
    this.tables[kind].insert({ kind, name, holder, waiters: [] });
    session.held.add(lockKey(kind, name));
    this.pushGrantEvents(index, kind, name, holder, command.requestId, events);
    return success({ state: 'acquired', kind, name, token: holder.token, sessionId: session.sessionId });
  }

  private cancelWait(index: number, sessionId: string, kind: LockKind, name: string, events: LockEvent[]): CommandResult<CancelWaitValue> {
    const argumentFailure = this.checkLockArguments(kind, name);
    if (argumentFailure !== undefined) return argumentFailure;
    const session = this.sessions.get(sessionId);
    if (session === undefined) return sessionExpired(sessionId);
    const key = lockKey(kind, name);
    // Not waiting (any more): the grant may have won the race with the cancel; the client learns
    // it holds the lock from its acquire's result.
    if (!session.waits.has(key)) return success({ cancelled: false });
    const record = this.tables[kind].get(name);
    assert(record !== undefined, 'a session waits only on existing locks');
    const waiter = this.removeWaiter(record, sessionId);
    session.waits.delete(key);
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
    if (record === undefined || record.holder.sessionId !== sessionId) {
      return failure('NOT_HOLDER', `session ${sessionId} does not hold ${kind} ${JSON.stringify(name)}`);
    }
    if (record.holder.token !== token) {
      return failure('NOT_HOLDER', `token ${String(token)} is not the current token of ${kind} ${JSON.stringify(name)}`);
    }
    this.releaseHolder(index, record, session, 'released', events);
    return success({ released: true });
  }

  private forceRelease(index: number, kind: LockKind, name: string, events: LockEvent[]): CommandResult<ForceReleaseValue> {
    const argumentFailure = this.checkLockArguments(kind, name);
    if (argumentFailure !== undefined) return argumentFailure;
    const record = this.tables[kind].get(name);
    if (record === undefined) return success({ released: false });
    const previousSessionId = record.holder.sessionId;
    const holderSession = this.sessions.get(previousSessionId);
    assert(holderSession !== undefined, 'every holder belongs to a live session');
    this.releaseHolder(index, record, holderSession, 'released', events);
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
    if (record === undefined || record.holder.sessionId !== sessionId || record.holder.token !== token) {
      return failure('NOT_HOLDER', `session ${sessionId} with token ${String(token)} does not lead election ${JSON.stringify(name)}`);
    }
    record.holder.value = value;
    events.push({ index, type: 'value', kind: 'election', name, sessionId, token, value });
    return success({ proclaimed: true });
  }

  // ---- grants and hand-overs -----------------------------------------------------------------

  /**
   * Releases the record's holder (owned by holderSession) and hands the lock to the first waiter,
   * or deletes the record when nobody waits. The promoting entry's index becomes the new token.
   */
  private releaseHolder(
    index: number,
    record: LockRecord,
    holderSession: SessionRecord,
    eventType: 'released' | 'expired',
    events: LockEvent[],
  ): void {
    const { kind, name } = record;
    const key = lockKey(kind, name);
    const previous = record.holder;
    assert(previous.sessionId === holderSession.sessionId, 'the released session is the holder');
    const removed = holderSession.held.delete(key);
    assert(removed, 'the holder lists the lock among its held locks');
    events.push({ index, type: eventType, kind, name, sessionId: previous.sessionId, token: previous.token });
    const next = record.waiters.shift();
    if (next === undefined) {
      this.tables[kind].delete(name);
      return;
    }
    this.waiterCount--;
    const nextSession = this.sessions.get(next.sessionId);
    assert(nextSession !== undefined, 'a lock is never granted to a waiter whose session is gone');
    const waitRemoved = nextSession.waits.delete(key);
    assert(waitRemoved, 'the promoted waiter listed the lock among its waits');
    const holder = this.makeHolder(index, nextSession, next.metadata, next.value);
    assert(holder.token > previous.token, 'fencing tokens of one lock strictly increase');
    record.holder = holder;
    nextSession.held.add(key);
    const granted = success({ state: 'acquired', kind, name, token: holder.token, sessionId: nextSession.sessionId });
    this.dedupe.resolve(next.requestId, next.sinceIndex, granted);
    this.pushGrantEvents(index, kind, name, holder, next.requestId, events);
  }

  private makeHolder(index: number, session: SessionRecord, metadata: string, value: string): LockHolder {
    assert(this.sessions.get(session.sessionId) === session, 'a lock is granted only to a live session');
    // The fencing token is the granting entry's index (SPEC §3.2).
    return { sessionId: session.sessionId, token: index, sinceTimeMs: this.leaderTimeMs, metadata, value };
  }

  private pushGrantEvents(index: number, kind: LockKind, name: string, holder: LockHolder, requestId: string, events: LockEvent[]): void {
    assert(holder.token === index, 'a grant is stamped with its own entry index');
    const { sessionId, token } = holder;
    events.push({ index, type: 'acquired', ...eventPayload(kind, holder.metadata, holder.value), name, sessionId, token, requestId });
    // Observers of an election want the leader's value with every change of leader (SPEC §4).
    if (kind === 'election') events.push({ index, type: 'value', kind, name, sessionId, token, value: holder.value });
  }

  /** Takes sessionId's waiter out of the record's queue (the caller updates the session). */
  private removeWaiter(record: LockRecord, sessionId: string): LockWaiter {
    const position = record.waiters.findIndex((waiter) => waiter.sessionId === sessionId);
    assert(position >= 0, 'the session is in the queue it lists among its waits');
    const [waiter] = record.waiters.splice(position, 1);
    assert(waiter !== undefined, 'a found waiter is removed');
    this.waiterCount--;
    assert(this.waiterCount >= 0, 'the waiter count never goes below zero');
    return waiter;
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
    const { holder } = record;
    return {
      kind: record.kind,
      name: record.name,
      holder: {
        sessionId: holder.sessionId,
        clientName: this.clientNameOf(holder.sessionId),
        token: holder.token,
        sinceIndex: holder.token,
        sinceTimeMs: holder.sinceTimeMs,
        metadata: holder.metadata,
        value: holder.value,
      },
      waiters: record.waiters.map((waiter) => ({
        sessionId: waiter.sessionId,
        clientName: this.clientNameOf(waiter.sessionId),
        requestId: waiter.requestId,
        sinceIndex: waiter.sinceIndex,
      })),
    };
  }

  private clientNameOf(sessionId: string): string {
    const session = this.sessions.get(sessionId);
    assert(session !== undefined, 'every holder and waiter belongs to a live session');
    return session.clientName;
  }

  // ---- snapshots -----------------------------------------------------------------------------

  serialize(): LockSnapshot {
    const sessions: SessionSnapshot[] = [];
    for (const session of this.sessions.values()) {
      const { held, waits, ...fields } = session;
      sessions.push({ ...fields, held: [...held].map(parseLockKey), waits: [...waits].map(parseLockKey) });
    }
    const locks: LockRecordSnapshot[] = [];
    for (const kind of lockKinds) {
      for (const record of this.tables[kind].withPrefix('')) {
        locks.push({ kind, name: record.name, holder: { ...record.holder }, waiters: record.waiters.map((waiter) => ({ ...waiter })) });
      }
    }
    const dedupe = this.dedupe.serialize();
    return { format: lockSnapshotFormat, appliedIndex: this.appliedIndex, leaderTimeMs: this.leaderTimeMs, sessions, locks, dedupe };
  }

  /** Rebuilds the state serialize() wrote; the result applies later entries exactly as the original. */
  static restore(snapshot: LockSnapshot, limits: LockLimits): LockStateMachine {
    assert(snapshot.format === lockSnapshotFormat, 'the snapshot format is one this version reads');
    assert(Number.isSafeInteger(snapshot.appliedIndex), 'a snapshot is taken at an index');
    const machine = new LockStateMachine(limits);
    machine.appliedIndex = snapshot.appliedIndex;
    machine.leaderTimeMs = snapshot.leaderTimeMs;
    // Fields are copied one by one: a decoded snapshot may carry fields this version does not know,
    // and the restored state must serialize exactly like the original.
    for (const session of snapshot.sessions) {
      assert(!machine.sessions.has(session.sessionId), 'a snapshot lists each session once');
      const { sessionId, ttlMs, clientName, createdIndex, createdTimeMs } = session;
      machine.sessions.set(sessionId, { sessionId, ttlMs, clientName, createdIndex, createdTimeMs, held: new Set(), waits: new Set() });
    }
    for (const lock of snapshot.locks) {
      assert(isLockKind(lock.kind), 'a snapshot lock has a known kind');
      const { sessionId, token, sinceTimeMs, metadata, value } = lock.holder;
      const waiters = lock.waiters.map((waiter): LockWaiter => ({
        sessionId: waiter.sessionId,
        requestId: waiter.requestId,
        sinceIndex: waiter.sinceIndex,
        metadata: waiter.metadata,
        value: waiter.value,
      }));
      machine.tables[lock.kind].insert({ kind: lock.kind, name: lock.name, holder: { sessionId, token, sinceTimeMs, metadata, value }, waiters });
      machine.waiterCount += waiters.length;
    }
    // Re-add each session's references in the snapshot's order: it decides later release order.
    for (const session of snapshot.sessions) {
      const record = machine.sessions.get(session.sessionId);
      assert(record !== undefined, 'restored sessions are all present');
      for (const reference of session.held) record.held.add(lockKey(reference.kind, reference.name));
      for (const reference of session.waits) record.waits.add(lockKey(reference.kind, reference.name));
    }
    machine.dedupe = DedupeTable.restore(snapshot.dedupe, limits.maxDedupeEntries);
    machine.checkInvariants();
    return machine;
  }

  // ---- invariants ----------------------------------------------------------------------------

  /** Verifies the whole state, O(size): after restore, in tests and in simulation checkers. */
  checkInvariants(): void {
    let heldReferenceCount = 0;
    let waitReferenceCount = 0;
    for (const [sessionId, session] of this.sessions) {
      assert(session.sessionId === sessionId, 'a session is filed under its own id');
      assert(sessionId === String(session.createdIndex), 'a session id is its creating index');
      assert(session.createdIndex <= this.appliedIndex, 'sessions are created by applied entries');
      for (const key of session.held) {
        const { kind, name } = parseLockKey(key);
        assert(this.tables[kind].get(name)?.holder.sessionId === sessionId, 'a held lock names its session as holder');
        heldReferenceCount++;
      }
      for (const key of session.waits) {
        const { kind, name } = parseLockKey(key);
        const waiters = this.tables[kind].get(name)?.waiters ?? [];
        assert(waiters.some((waiter) => waiter.sessionId === sessionId), 'a listed wait is in the lock queue');
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
        waiterTotal += record.waiters.length;
      }
    }
    assert(heldReferenceCount === recordCount, 'every record is listed by exactly its holder');
    assert(waitReferenceCount === waiterTotal, 'every waiter is listed by exactly its session');
    assert(waiterTotal === this.waiterCount, 'the waiter count matches the queues');
  }

  private checkRecordInvariants(record: LockRecord): void {
    const key = lockKey(record.kind, record.name);
    const { holder } = record;
    assert(this.sessions.get(holder.sessionId)?.held.has(key) === true, 'a holder belongs to a live session that lists the lock');
    assert(Number.isSafeInteger(holder.token), 'a token is an index');
    assert(holder.token >= 1, 'a token is a valid index');
    assert(holder.token <= this.appliedIndex, 'a token comes from an applied entry');
    assert(record.kind === 'election' || holder.value === '', 'a lock holder carries no value');
    const queued = new Set<string>();
    let previousSinceIndex = 0;
    for (const waiter of record.waiters) {
      assert(this.sessions.get(waiter.sessionId)?.waits.has(key) === true, 'a waiter belongs to a live session that lists the wait');
      assert(waiter.sessionId !== holder.sessionId, 'the holder does not also wait');
      assert(!queued.has(waiter.sessionId), 'a session waits at most once per lock');
      assert(waiter.sinceIndex > previousSinceIndex, 'the queue is in arrival (index) order');
      assert(waiter.sinceIndex <= this.appliedIndex, 'waiters come from applied entries');
      queued.add(waiter.sessionId);
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
    heldLocks: session.held.size,
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
