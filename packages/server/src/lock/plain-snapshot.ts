// Reading a format-1 snapshot (one plain LockSnapshot object, what backups written before format 2
// carry) as format-2 parts, so both formats are restored by the one LockSnapshotLoader.
//
// Format 1 lists each session's held locks (grant order) and waits (queuing order) explicitly;
// format 2 keeps each lock's grantSub instead and derives waits from the queues. So the
// conversion checks the lists against the records (each lock listed by exactly its holder, each
// waiter by exactly its session, both lists in their order) and turns the held order into
// grantSubs: the n-th lock of a session's list with the same token as the one before it gets n.
//
// Invariants (asserted; a snapshot that breaks one is refused):
//   every lock is listed once, by its holder, and a held list never goes back in token
//   every waiter is listed once, by its session, and a waits list goes forward in queuing index

import { assert } from '../assert.js';
import { lockSnapshotFormat, plainSnapshotFormat, type LockRecordSnapshot, type LockSnapshot, type LockSnapshotPart, type LocksPart } from './lock-snapshot.js';
import { isLockKind, lockKinds } from './lock-table.js';

/** A lock's key in the conversion's maps. Names hold no control characters, so '\u0000' cannot clash. */
function keyOf(kind: string, name: string): string {
  return `${kind}\u0000${name}`;
}

export function partsOfPlainSnapshot(snapshot: LockSnapshot): LockSnapshotPart[] {
  assert(typeof snapshot === 'object' && snapshot !== null, 'a snapshot is an object');
  assert(snapshot.format === plainSnapshotFormat, 'the snapshot format is one this version reads');
  assert(Array.isArray(snapshot.sessions), 'a snapshot lists its sessions');
  assert(Array.isArray(snapshot.locks), 'a snapshot lists its locks');
  assert(Array.isArray(snapshot.dedupe), 'a snapshot lists its dedupe entries');
  const locksByKey = new Map<string, LockRecordSnapshot>();
  for (const lock of snapshot.locks) {
    assert(isLockKind(lock.kind), 'a snapshot lock has a known kind');
    assert(!locksByKey.has(keyOf(lock.kind, lock.name)), 'a snapshot lists each lock once');
    locksByKey.set(keyOf(lock.kind, lock.name), lock);
  }
  const grantSubs = grantSubsOf(snapshot, locksByKey);
  checkWaits(snapshot, locksByKey);
  const ordinals = new Map<string, number>();
  snapshot.sessions.forEach((session, ordinal) => ordinals.set(session.sessionId, ordinal));
  const ordinalOf = (sessionId: string): number => {
    const ordinal = ordinals.get(sessionId);
    assert(ordinal !== undefined, 'every holder and waiter belongs to a session of the snapshot');
    return ordinal;
  };
  const parts: LockSnapshotPart[] = [];
  const countOf = (kind: string) => snapshot.locks.filter((lock) => lock.kind === kind).length;
  parts.push({
    part: 'header',
    format: lockSnapshotFormat,
    appliedIndex: snapshot.appliedIndex,
    leaderTimeMs: snapshot.leaderTimeMs,
    sessionCount: snapshot.sessions.length,
    lockCount: countOf('lock'),
    electionCount: countOf('election'),
    dedupeCount: snapshot.dedupe.length,
  });
  parts.push({
    part: 'sessions',
    ttlMs: snapshot.sessions.map((session) => session.ttlMs),
    clientNames: snapshot.sessions.map((session) => session.clientName),
    createdIndexes: snapshot.sessions.map((session) => session.createdIndex),
    createdTimesMs: snapshot.sessions.map((session) => session.createdTimeMs),
  });
  for (const kind of lockKinds) {
    const locks = snapshot.locks.filter((lock) => lock.kind === kind);
    const waiters = locks.flatMap((lock) => lock.waiters);
    const part: LocksPart = {
      part: 'locks',
      kind,
      names: locks.map((lock) => lock.name),
      holders: locks.map((lock) => ordinalOf(lock.holder.sessionId)),
      tokens: locks.map((lock) => lock.holder.token),
      grantSubs: locks.map((lock) => grantSubs.get(keyOf(lock.kind, lock.name)) ?? -1),
      sinceTimesMs: locks.map((lock) => lock.holder.sinceTimeMs),
      metadata: locks.map((lock) => lock.holder.metadata),
      values: locks.map((lock) => lock.holder.value),
      waiterCounts: locks.map((lock) => lock.waiters.length),
      waiterSessions: waiters.map((waiter) => ordinalOf(waiter.sessionId)),
      waiterRequestIds: waiters.map((waiter) => waiter.requestId),
      waiterSinceIndexes: waiters.map((waiter) => waiter.sinceIndex),
      waiterMetadata: waiters.map((waiter) => waiter.metadata),
      waiterValues: waiters.map((waiter) => waiter.value),
    };
    parts.push(part);
  }
  parts.push({
    part: 'dedupe',
    requestIds: snapshot.dedupe.map((entry) => entry.requestId),
    indexes: snapshot.dedupe.map((entry) => entry.index),
    results: snapshot.dedupe.map((entry) => entry.result),
    fingerprints: snapshot.dedupe.map((entry) => entry.fingerprint ?? null),
  });
  return parts;
}

/** Each lock's grantSub from its holder's held list; asserts every lock is listed once, by its holder. */
function grantSubsOf(snapshot: LockSnapshot, locksByKey: ReadonlyMap<string, LockRecordSnapshot>): Map<string, number> {
  const grantSubs = new Map<string, number>();
  for (const session of snapshot.sessions) {
    assert(Array.isArray(session.held), 'a snapshot session lists its held locks');
    let previousToken = 0;
    let previousSub = -1;
    for (const reference of session.held) {
      const key = keyOf(reference.kind, reference.name);
      const lock = locksByKey.get(key);
      assert(lock?.holder.sessionId === session.sessionId, 'a held lock names its session as holder');
      assert(!grantSubs.has(key), 'a lock is listed once among held locks');
      const { token } = lock.holder;
      assert(token >= previousToken, 'a held list is in grant (token) order');
      const sub = token === previousToken ? previousSub + 1 : 0;
      grantSubs.set(key, sub);
      previousToken = token;
      previousSub = sub;
    }
  }
  assert(grantSubs.size === locksByKey.size, 'every lock is listed by its holder');
  return grantSubs;
}

/** Asserts that each session's waits list names exactly its waiters' locks, in queuing order. */
function checkWaits(snapshot: LockSnapshot, locksByKey: ReadonlyMap<string, LockRecordSnapshot>): void {
  let listed = 0;
  for (const session of snapshot.sessions) {
    assert(Array.isArray(session.waits), 'a snapshot session lists its waits');
    let previousSinceIndex = 0;
    for (const reference of session.waits) {
      const waiter = locksByKey.get(keyOf(reference.kind, reference.name))?.waiters.find((candidate) => candidate.sessionId === session.sessionId);
      assert(waiter !== undefined, 'a listed wait is in the lock queue');
      assert(waiter.sinceIndex > previousSinceIndex, 'a waits list is in queuing order');
      previousSinceIndex = waiter.sinceIndex;
      listed++;
    }
  }
  let waiterTotal = 0;
  for (const lock of locksByKey.values()) waiterTotal += lock.waiters.length;
  assert(listed === waiterTotal, 'every waiter is listed by exactly its session');
}
