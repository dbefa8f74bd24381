// What the `meta` database holds, one msgpack map per key: the identity stamped when the environment
// was created (with the storage format version), the last persisted hard state, the snapshot record
// (index, term and configuration the snapshot stands for, and how its bytes are chunked in the
// `snapshot` database), and the log start (index and term of the entry just before the first one
// kept; at or before the snapshot index, since a trailing window of entries is kept for followers).
// Invariants: hard state and snapshot records are checked when read back (a malformed one is a bug
// or corruption, so it crashes); an identity record that does not parse is reported as "not ours",
// because that is what it means for a data dir someone else wrote.

import { Packr } from 'msgpackr';
import { assert } from '../assert.js';
import { asLogIndex, asNodeId, asTerm, type LogIndex, type Term } from '../ids.js';
import { makeConfig, type ClusterConfig, type ClusterMember } from '../raft/cluster-config.js';
import type { HardState, SnapshotMetadata } from '../raft/log-entry.js';
import type { StorageIdentity } from './storage-identity.js';

const packr = new Packr({ useRecords: false });

export const metaKeys = { identity: 'identity', hardState: 'hardState', snapshot: 'snapshot', logStart: 'logStart' } as const;

/** Bumped when the layout of `log` or `meta` changes incompatibly. */
export const storageFormatVersion = 2;

export interface IdentityRecord extends StorageIdentity {
  readonly formatVersion: number;
}

/** Index and term of the entry just before the first one the log keeps. */
export interface LogStart {
  readonly index: LogIndex;
  readonly term: Term;
}

export interface SnapshotRecord extends SnapshotMetadata {
  /** Size of the state machine's bytes, stored as chunks 0..chunkCount-1 in the `snapshot` database. */
  readonly totalBytes: number;
  readonly chunkCount: number;
}

export function initialSnapshotRecord(config: ClusterConfig): SnapshotRecord {
  return { index: asLogIndex(0), term: asTerm(0), config, totalBytes: 0, chunkCount: 0 };
}

export function encodeSnapshotRecord(record: SnapshotRecord): Uint8Array {
  assert(Number.isSafeInteger(record.index) && record.index >= 0, 'a snapshot index is a non-negative integer');
  assert(Number.isSafeInteger(record.term) && record.term >= 0, 'a snapshot term is a non-negative integer');
  return packr.pack({
    index: record.index,
    term: record.term,
    members: record.config.members.map((member) => ({ id: member.id, address: member.address, role: member.role })),
    totalBytes: record.totalBytes,
    chunkCount: record.chunkCount,
  });
}

export function decodeSnapshotRecord(bytes: Uint8Array): SnapshotRecord {
  const record = packr.unpack(bytes) as Record<string, unknown> | null;
  assert(typeof record === 'object' && record !== null, 'a stored snapshot record is a map');
  assert(typeof record.index === 'number' && Number.isSafeInteger(record.index), 'a stored snapshot index is an integer');
  assert(typeof record.term === 'number' && Number.isSafeInteger(record.term), 'a stored snapshot term is an integer');
  assert(typeof record.totalBytes === 'number' && typeof record.chunkCount === 'number', 'a stored snapshot has its size');
  assert(Array.isArray(record.members), 'a stored snapshot has its members');
  return {
    index: asLogIndex(record.index),
    term: asTerm(record.term),
    config: decodeMembers(record.members),
    totalBytes: record.totalBytes,
    chunkCount: record.chunkCount,
  };
}

/** A configuration as plain msgpack (also used for config log entries). */
export function decodeMembers(members: unknown[]): ClusterConfig {
  return makeConfig(
    members.map((value): ClusterMember => {
      const member = value as Record<string, unknown> | null;
      assert(typeof member === 'object' && member !== null, 'a stored member is a map');
      assert(typeof member.id === 'string' && typeof member.address === 'string', 'a stored member has an id and an address');
      assert(member.role === 'voter' || member.role === 'learner', 'a stored member is a voter or a learner');
      return { id: asNodeId(member.id), address: member.address, role: member.role };
    }),
  );
}

export function encodeIdentity(identity: StorageIdentity): Uint8Array {
  const record: IdentityRecord = { formatVersion: storageFormatVersion, clusterId: identity.clusterId, nodeId: identity.nodeId };
  return packr.pack(record);
}

/** The stored identity, or undefined when the bytes are not an identity record of ours. */
export function decodeIdentity(bytes: Uint8Array): IdentityRecord | undefined {
  let record: Partial<IdentityRecord> | null;
  try {
    record = packr.unpack(bytes) as Partial<IdentityRecord> | null;
  } catch {
    return undefined;
  }
  if (typeof record !== 'object' || record === null) return undefined;
  const { formatVersion, clusterId, nodeId } = record;
  if (typeof formatVersion !== 'number' || typeof clusterId !== 'string' || typeof nodeId !== 'string') return undefined;
  return { formatVersion, clusterId, nodeId };
}

export function encodeHardState(hardState: HardState): Uint8Array {
  assert(Number.isSafeInteger(hardState.term) && hardState.term >= 0, 'a hard state term is a non-negative integer');
  assert(Number.isSafeInteger(hardState.commitIndex) && hardState.commitIndex >= 0, 'a commit index is a non-negative integer');
  return packr.pack({ term: hardState.term, votedFor: hardState.votedFor, commitIndex: hardState.commitIndex });
}

export function decodeHardState(bytes: Uint8Array): HardState {
  const record = packr.unpack(bytes) as Partial<Record<keyof HardState, unknown>> | null;
  assert(typeof record === 'object' && record !== null, 'a stored hard state is a map');
  assert(typeof record.term === 'number' && Number.isSafeInteger(record.term), 'a stored hard state term is an integer');
  assert(typeof record.votedFor === 'string', 'a stored vote is a node id');
  assert(typeof record.commitIndex === 'number' && Number.isSafeInteger(record.commitIndex), 'a stored commit index is an integer');
  return { term: asTerm(record.term), votedFor: asNodeId(record.votedFor), commitIndex: asLogIndex(record.commitIndex) };
}

export function encodeLogStart(boundary: LogStart): Uint8Array {
  assert(Number.isSafeInteger(boundary.index) && boundary.index >= 0, 'a snapshot index is a non-negative integer');
  assert(Number.isSafeInteger(boundary.term) && boundary.term >= 0, 'a snapshot term is a non-negative integer');
  return packr.pack({ index: boundary.index, term: boundary.term });
}

export function decodeLogStart(bytes: Uint8Array): LogStart {
  const record = packr.unpack(bytes) as Partial<Record<keyof LogStart, unknown>> | null;
  assert(typeof record === 'object' && record !== null, 'a stored log start is a map');
  assert(typeof record.index === 'number' && Number.isSafeInteger(record.index), 'a stored snapshot index is an integer');
  assert(typeof record.term === 'number' && Number.isSafeInteger(record.term), 'a stored snapshot term is an integer');
  return { index: asLogIndex(record.index), term: asTerm(record.term) };
}
