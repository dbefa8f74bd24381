// The records of the replicated lock state: a session (lease) and a lock or election record with
// its holder and FIFO queue. The LockStateMachine decides what happens to them; this file owns
// their shape and the per-session list of held locks.
//
// Memory is the point of this layout (1M held locks must fit a member in well under 1 GiB): a
// lock is one object with the holder's fields inline, a reference to its holder's SessionRecord
// instead of an id string, no wait-queue array until someone queues, and it sits in its holder's
// list of held locks through two link fields instead of a Set entry plus a key string.
//
// Invariants (asserted by the state machine and checkInvariants):
//   a session's held list holds exactly the records whose holder it is, heldCount long
//   while no snapshot restore intervened, the held list is in grant order, which is the order of
//   (token, grantSub): tokens are granting indexes, and grantSub counts earlier grants to the same
//   session by the same entry (a session ending can hand several locks to one other session)
//   a session's waits set holds exactly the records whose queue has one of its waiters
//   a waiter is immutable: a queue changes by adding and removing waiters, never editing one

import { assert } from '../assert.js';
import type { LockKind } from './lock-commands.js';

export class SessionRecord {
  /** Grant order (see the header); restore links them in name order, so users sort by grant. */
  heldHead: LockRecord | null = null;
  heldTail: LockRecord | null = null;
  heldCount = 0;
  /**
   * The held list is in grant order (always true for lists built by grants; a restored list is in
   * name order until it empties). Kept by linkHeld/unlinkHeld, so ending a session can release in
   * list order without sorting a million records first.
   */
  heldInGrantOrder = true;
  /** Records whose queue holds this session; iteration order is not relied on (see endSession). */
  readonly waits = new Set<LockRecord>();
  /** Position in the sessions section of the latest snapshot walk that wrote it (-1: none yet); a walk checks it against its own list. */
  snapshotOrdinal = -1;

  constructor(
    readonly sessionId: string,
    readonly ttlMs: number,
    readonly clientName: string,
    readonly createdIndex: number,
    readonly createdTimeMs: number,
  ) {}
}

export interface LockWaiter {
  readonly session: SessionRecord;
  /** The queued Acquire's request id: its dedupe entry is resolved when the wait ends. */
  readonly requestId: string;
  /** Index of the Acquire entry that queued it. */
  readonly sinceIndex: number;
  readonly metadata: string;
  readonly value: string;
}

export interface LockRecord {
  readonly kind: LockKind;
  readonly name: string;
  /** The holder's session; a record exists exactly while it has a holder. */
  holder: SessionRecord;
  /** Fencing token: the index of the granting entry (SPEC §3.2). */
  token: number;
  /** Grants to the same session by the same entry before this one (see the header). */
  grantSub: number;
  /** Leader wall time when granted, for display only. */
  sinceTimeMs: number;
  metadata: string;
  /** Elections: the leader's value, changed by Proclaim. '' for locks. */
  value: string;
  /** FIFO: waiters[0] is granted next. null while nobody waits (never an empty array). */
  waiters: LockWaiter[] | null;
  heldPrevious: LockRecord | null;
  heldNext: LockRecord | null;
  /**
   * The epoch of the snapshot walk that already has this record (written, kept as a pre-image, or
   * created after the walk began and so left out); see LockSnapshotCursor.
   */
  snapshotEpoch: number;
}

/**
 * A new record, not yet in any list. Records are made here only, as an object literal: one
 * allocation site, so V8 sees that they live long and allocates them in the old generation
 * directly (pretenuring), instead of copying a million of them through the young one on restore.
 */
export function newLockRecord(
  kind: LockKind,
  name: string,
  holder: SessionRecord,
  token: number,
  grantSub: number,
  sinceTimeMs: number,
  metadata: string,
  value: string,
  snapshotEpoch: number,
): LockRecord {
  return { kind, name, holder, token, grantSub, sinceTimeMs, metadata, value, waiters: null, heldPrevious: null, heldNext: null, snapshotEpoch };
}

export function waiterCountOf(record: LockRecord): number {
  return record.waiters === null ? 0 : record.waiters.length;
}

/** Appends record to its holder's held list. */
export function linkHeld(record: LockRecord): void {
  const session = record.holder;
  assert(record.heldPrevious === null, 'a record joins a held list once');
  assert(record.heldNext === null, 'a record joins a held list once');
  const tail = session.heldTail;
  if (tail === null) {
    assert(session.heldHead === null, 'an empty held list has neither head nor tail');
    session.heldHead = record;
  } else {
    tail.heldNext = record;
    record.heldPrevious = tail;
    if (compareGrantOrder(tail, record) > 0) session.heldInGrantOrder = false;
  }
  session.heldTail = record;
  session.heldCount++;
}

/** Removes record from its holder's held list. */
export function unlinkHeld(record: LockRecord): void {
  const session = record.holder;
  const { heldPrevious, heldNext } = record;
  if (heldPrevious === null) {
    assert(session.heldHead === record, 'a record without a predecessor heads its holder list');
    session.heldHead = heldNext;
  } else {
    heldPrevious.heldNext = heldNext;
  }
  if (heldNext === null) {
    assert(session.heldTail === record, 'a record without a successor ends its holder list');
    session.heldTail = heldPrevious;
  } else {
    heldNext.heldPrevious = heldPrevious;
  }
  record.heldPrevious = null;
  record.heldNext = null;
  session.heldCount--;
  assert(session.heldCount >= 0, 'a held count never goes below zero');
  if (session.heldCount === 0) session.heldInGrantOrder = true;
}

/** The session's held locks in grant order: (token, grantSub). O(n) in the usual (sorted) case. */
export function heldInGrantOrder(session: SessionRecord): LockRecord[] {
  const held: LockRecord[] = [];
  for (let record = session.heldHead; record !== null; record = record.heldNext) held.push(record);
  assert(held.length === session.heldCount, 'the held count is the held list length');
  // Array.prototype.sort is a stable TimSort in V8: a list already in grant order costs one pass.
  held.sort(compareGrantOrder);
  for (let position = 1; position < held.length; position++) {
    const previous = held[position - 1];
    const current = held[position];
    assert(previous !== undefined && current !== undefined, 'the held array is dense');
    assert(compareGrantOrder(previous, current) < 0, 'no two locks of a session share a grant position');
  }
  return held;
}

/** Where a grant sits in its holder's grant order. */
export type GrantPosition = Pick<LockRecord, 'token' | 'grantSub'>;

export function compareGrantOrder(left: GrantPosition, right: GrantPosition): number {
  return left.token - right.token || left.grantSub - right.grantSub;
}

/** The session's waits with its own waiter in each queue, in queuing (sinceIndex) order. */
export function waitsInQueueOrder(session: SessionRecord): { record: LockRecord; waiter: LockWaiter }[] {
  const waits: { record: LockRecord; waiter: LockWaiter }[] = [];
  for (const record of session.waits) {
    const waiter = record.waiters?.find((candidate) => candidate.session === session);
    assert(waiter !== undefined, 'the session is in the queue it lists among its waits');
    waits.push({ record, waiter });
  }
  waits.sort((left, right) => left.waiter.sinceIndex - right.waiter.sinceIndex);
  return waits;
}
