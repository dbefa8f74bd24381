// What the `meta` database holds, one msgpack map per key: the identity stamped when the environment
// was created (with the storage format version), the last persisted hard state, and the snapshot
// boundary (index and term of the last entry folded into a snapshot; 0/0 until compaction exists).
// Invariants: hard state and snapshot records are checked when read back (a malformed one is a bug
// or corruption, so it crashes); an identity record that does not parse is reported as "not ours",
// because that is what it means for a data dir someone else wrote.

import { Packr } from 'msgpackr';
import { assert } from '../assert.js';
import { asLogIndex, asNodeId, asTerm, type LogIndex, type Term } from '../ids.js';
import type { HardState } from '../raft/log-entry.js';
import type { StorageIdentity } from './storage-identity.js';

const packr = new Packr({ useRecords: false });

export const metaKeys = { identity: 'identity', hardState: 'hardState', snapshot: 'snapshot' } as const;

/** Bumped when the layout of `log` or `meta` changes incompatibly. */
export const storageFormatVersion = 1;

export interface IdentityRecord extends StorageIdentity {
  readonly formatVersion: number;
}

export interface SnapshotBoundary {
  readonly index: LogIndex;
  readonly term: Term;
}

export const emptySnapshotBoundary: SnapshotBoundary = { index: asLogIndex(0), term: asTerm(0) };

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

export function encodeSnapshotBoundary(boundary: SnapshotBoundary): Uint8Array {
  assert(Number.isSafeInteger(boundary.index) && boundary.index >= 0, 'a snapshot index is a non-negative integer');
  assert(Number.isSafeInteger(boundary.term) && boundary.term >= 0, 'a snapshot term is a non-negative integer');
  return packr.pack({ index: boundary.index, term: boundary.term });
}

export function decodeSnapshotBoundary(bytes: Uint8Array): SnapshotBoundary {
  const record = packr.unpack(bytes) as Partial<Record<keyof SnapshotBoundary, unknown>> | null;
  assert(typeof record === 'object' && record !== null, 'a stored snapshot boundary is a map');
  assert(typeof record.index === 'number' && Number.isSafeInteger(record.index), 'a stored snapshot index is an integer');
  assert(typeof record.term === 'number' && Number.isSafeInteger(record.term), 'a stored snapshot term is an integer');
  return { index: asLogIndex(record.index), term: asTerm(record.term) };
}
