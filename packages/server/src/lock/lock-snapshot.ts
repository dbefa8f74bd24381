// The snapshot shapes of the replicated lock state.
//
// Format 2 (lockSnapshotFormat, what snapshots are written in): a header followed by parts, each a
// plain object of columns (one array per field, one entry per record), so a million locks cost a
// million array entries per field rather than a million objects with repeated keys. Sessions are
// referred to by their position in the sessions section, not by id, and a session's id is its
// creating index, so neither is written twice. The state machine walks its state into parts a few
// records at a time (LockSnapshotCursor) and rebuilds from parts in one pass (LockSnapshotLoader);
// the runtime's codec turns parts into bytes and back.
//
// Format 1 (plainSnapshotFormat): the whole state as one plain object (LockSnapshot). Backups
// written by `raftlock snapshot save` before format 2 carry it, so it is still read; serialize()
// still produces it, as a readable view of the whole state for tests and tools.
//
// Invariants:
//   plain data only: strings, numbers, booleans, arrays and plain objects
//   every order that decides a later outcome is kept: sessions in creation order, waiters in FIFO
//   order, dedupe entries oldest first; a session's held locks in grant order (format 1 lists it,
//   format 2 keeps each lock's token and grantSub, which sort into it); a session's waits in
//   queuing order (format 1 lists it; it is the waiters' sinceIndex order, so format 2 derives it)
//   format 2 parts come in section order: header, sessions, locks of kind 'lock', locks of kind
//   'election', dedupe; locks of one kind in strictly increasing name order
//   `format` changes whenever the shape does; restore refuses formats it does not know

import type { DedupeEntry } from './dedupe-table.js';
import type { LockKind } from './lock-commands.js';
import type { CommandResult } from './lock-results.js';

export const lockSnapshotFormat = 2;
export const plainSnapshotFormat = 1;

// ---- format 2 ------------------------------------------------------------------------------

export interface LockSnapshotHeader {
  readonly part: 'header';
  readonly format: typeof lockSnapshotFormat;
  readonly appliedIndex: number;
  /** The latest leader wall time seen in the log (display only). */
  readonly leaderTimeMs: number;
  /** Records each section holds, so a restore knows it read them all. */
  readonly sessionCount: number;
  readonly lockCount: number;
  readonly electionCount: number;
  readonly dedupeCount: number;
}

/** Sessions in creation order; a session's id is String(createdIndex). */
export interface SessionsPart {
  readonly part: 'sessions';
  readonly ttlMs: readonly number[];
  readonly clientNames: readonly string[];
  readonly createdIndexes: readonly number[];
  readonly createdTimesMs: readonly number[];
}

/** Records of one kind in name order, with their waiters flattened after one another. */
export interface LocksPart {
  readonly part: 'locks';
  readonly kind: LockKind;
  readonly names: readonly string[];
  /** The holder's position in the sessions section. */
  readonly holders: readonly number[];
  readonly tokens: readonly number[];
  readonly grantSubs: readonly number[];
  readonly sinceTimesMs: readonly number[];
  readonly metadata: readonly string[];
  readonly values: readonly string[];
  /** Waiters of each record; the waiter columns hold them all, record after record, FIFO. */
  readonly waiterCounts: readonly number[];
  readonly waiterSessions: readonly number[];
  readonly waiterRequestIds: readonly string[];
  readonly waiterSinceIndexes: readonly number[];
  readonly waiterMetadata: readonly string[];
  readonly waiterValues: readonly string[];
}

/** Dedupe entries, oldest first. */
export interface DedupePart {
  readonly part: 'dedupe';
  readonly requestIds: readonly string[];
  readonly indexes: readonly number[];
  readonly results: readonly CommandResult[];
  /**
   * Each entry's request fingerprint, null where it has none. Absent in snapshots written before
   * fingerprints were kept; a member that predates it ignores the column, so both read each other's
   * (its entries then have no fingerprints: see request-fingerprint.ts on mixed versions).
   */
  readonly fingerprints?: readonly (number | null)[];
}

export type LockSnapshotPart = LockSnapshotHeader | SessionsPart | LocksPart | DedupePart;

// ---- format 1 ------------------------------------------------------------------------------

export interface LockReference {
  readonly kind: LockKind;
  readonly name: string;
}

export interface SessionSnapshot {
  readonly sessionId: string;
  readonly ttlMs: number;
  readonly clientName: string;
  readonly createdIndex: number;
  readonly createdTimeMs: number;
  /** In grant order: the order a close or expiry releases them in. */
  readonly held: readonly LockReference[];
  /** In queuing order: the order a close or expiry removes them in. */
  readonly waits: readonly LockReference[];
}

export interface LockHolderSnapshot {
  readonly sessionId: string;
  readonly token: number;
  readonly sinceTimeMs: number;
  readonly metadata: string;
  readonly value: string;
}

export interface LockWaiterSnapshot {
  readonly sessionId: string;
  readonly requestId: string;
  readonly sinceIndex: number;
  readonly metadata: string;
  readonly value: string;
}

export interface LockRecordSnapshot {
  readonly kind: LockKind;
  readonly name: string;
  readonly holder: LockHolderSnapshot;
  readonly waiters: readonly LockWaiterSnapshot[];
}

export interface LockSnapshot {
  readonly format: typeof plainSnapshotFormat;
  readonly appliedIndex: number;
  /** The latest leader wall time seen in the log (display only). */
  readonly leaderTimeMs: number;
  readonly sessions: readonly SessionSnapshot[];
  /** Locks then elections, each in name order. */
  readonly locks: readonly LockRecordSnapshot[];
  readonly dedupe: readonly DedupeEntry[];
}
