// The commands of the replicated lock log and the limits that bound the state they build.
//
// The leader proposes these; every member decodes and applies them in log order. They cross the
// wire and sit on disk msgpack-encoded, so they are plain data only: strings, numbers, booleans,
// arrays and plain objects (no Map, bigint, Date or class instances).
//
// Invariants kept by the commands' shape (SPEC §3.7):
//   no command asks the state machine to read a clock: expiries and cancellations are commands the
//   leader proposes; `leaderTimeMs` is the leader's wall time, carried for display only
//   every command a client caused carries its `requestId`, the key of exactly-once (SPEC §3.4),
//   and its `fingerprint` (request-fingerprint.ts), stamped by the leader that proposed it, so that
//   a different request reusing the id is told from a retry by the log itself; entries proposed by
//   a leader that predates it have none

import { assert } from '../assert.js';

export type LockKind = 'lock' | 'election';

export type AcquireMode = 'wait' | 'try';

export type LockCommand =
  | { type: 'OpenSession'; requestId: string; fingerprint?: number; ttlMs: number; clientName: string; leaderTimeMs: number }
  | { type: 'CloseSession'; requestId: string; fingerprint?: number; sessionId: string }
  /** Proposed by the leader once a session's TTL lapsed without a keepalive; no client asked for it. */
  | { type: 'ExpireSession'; sessionId: string; leaderTimeMs: number }
  /**
   * kind 'lock': `metadata` (owner description, ≤ 1 KiB) and `value` ''.
   * kind 'election': a campaign; `value` is the candidate's value (≤ 4 KiB), normally mode 'wait'.
   */
  | {
      type: 'Acquire';
      requestId: string;
      fingerprint?: number;
      sessionId: string;
      kind: LockKind;
      name: string;
      mode: AcquireMode;
      metadata: string;
      value: string;
      leaderTimeMs: number;
    }
  /** Removes that session's waiter from the lock's queue (the SDK's timeout or AbortSignal). */
  | { type: 'CancelWait'; requestId: string; fingerprint?: number; sessionId: string; kind: LockKind; name: string }
  /** Releases a held lock; kind 'election' is resign. Needs the holder's token. */
  | { type: 'Release'; requestId: string; fingerprint?: number; sessionId: string; kind: LockKind; name: string; token: number }
  /** Admin: releases whoever holds the lock. */
  | { type: 'ForceRelease'; requestId: string; fingerprint?: number; kind: LockKind; name: string }
  /** Election only: the leader changes its value without losing leadership. */
  | { type: 'Proclaim'; requestId: string; fingerprint?: number; sessionId: string; name: string; token: number; value: string }
  | { type: 'Noop' };

export type LockCommandType = LockCommand['type'];

/** The commands a client's request caused: each carries its request id. */
export type ClientCommand = Exclude<LockCommand, { type: 'Noop' } | { type: 'ExpireSession' }>;

/**
 * Bounds on the replicated state. Every member of a cluster must run with the same limits, because
 * a command refused on one member and accepted on another would fork the state machines.
 * The byte and TTL limits are part of the product contract (SPEC §4), hence their literal types.
 */
export interface LockLimits {
  readonly maxSessions: number;
  /** Lock and election records together (a record exists while it has a holder). */
  readonly maxLocks: number;
  readonly maxWaitersPerLock: number;
  readonly maxWaitsPerSession: number;
  readonly maxDedupeEntries: number;
  readonly maxNameBytes: 256;
  readonly maxMetadataBytes: 1024;
  readonly maxValueBytes: 4096;
  readonly minTtlMs: 500;
  readonly maxTtlMs: 300000;
}

export const defaultLockLimits: LockLimits = Object.freeze({
  maxSessions: 100_000,
  maxLocks: 2_000_000,
  maxWaitersPerLock: 1000,
  maxWaitsPerSession: 10_000,
  maxDedupeEntries: 100_000,
  maxNameBytes: 256,
  maxMetadataBytes: 1024,
  maxValueBytes: 4096,
  minTtlMs: 500,
  maxTtlMs: 300000,
});

/** Limits are configuration: a bad value is a programmer error caught when the machine is built. */
export function assertValidLockLimits(limits: LockLimits): void {
  const counts = [limits.maxSessions, limits.maxLocks, limits.maxWaitersPerLock, limits.maxWaitsPerSession, limits.maxDedupeEntries];
  for (const count of counts) {
    assert(Number.isSafeInteger(count), 'lock limits are integers');
    assert(count >= 1, 'lock limits are at least 1');
  }
  assert(limits.maxNameBytes === 256, 'lock names are at most 256 bytes (SPEC §4)');
  assert(limits.maxMetadataBytes === 1024, 'lock metadata is at most 1 KiB (SPEC §4)');
  assert(limits.maxValueBytes === 4096, 'election values are at most 4 KiB (SPEC §4)');
  assert(limits.minTtlMs === 500, 'session TTLs start at 500 ms (SPEC §4)');
  assert(limits.maxTtlMs === 300000, 'session TTLs end at 300 000 ms (SPEC §4)');
}
