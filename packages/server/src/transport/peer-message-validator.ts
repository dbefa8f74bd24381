// validatePeerMessage: turns one decoded, untrusted value into a Message, or throws PeerFrameError.
// It owns the rule that nothing reaches the Raft core unless it has exactly the shape the core's
// types promise: the core asserts on its inputs and would crash the member on a malformed one.
//
// Invariants: every field is checked for its primitive type and range; unknown fields and unknown
// message types are refused; the result is a fresh object (no prototype or extra keys survive from
// the decoder); command data is copied, so a stored entry never pins the whole received frame; an
// AppendEntries' entries are contiguous after prevLogIndex with terms that never decrease and never
// exceed the sender's term (the core asserts contiguity when it appends them).

import { isWholeNumber } from '@raftlock/protocol';
import { asNodeId } from '../ids.js';
import { makeConfig, type ClusterConfig, type ClusterMember } from '../raft/cluster-config.js';
import type { LogEntry, SnapshotMetadata } from '../raft/log-entry.js';
import type { Message, MessageType } from '../raft/messages.js';
import { PeerFrameError } from './peer-frame-error.js';
import { peerFrameLimits } from './peer-frame-limits.js';
import type { PeerWireMessage, SnapshotChunk } from './snapshot-chunk.js';

type FieldKind = 'nodeId' | 'term' | 'index' | 'count' | 'boolean' | 'optionalTerm' | 'entries' | 'snapshot';

type FieldsOf<T extends MessageType> = Exclude<keyof Extract<Message, { type: T }>, 'type'>;

/**
 * One rule per field of every message. The mapped type makes this table exhaustive: a field added to
 * a message in raft/messages.ts fails to compile here until it has a rule.
 */
const fieldRules: { readonly [T in MessageType]: Readonly<Record<FieldsOf<T>, FieldKind>> } = {
  RequestVote: {
    from: 'nodeId',
    to: 'nodeId',
    term: 'term',
    preVote: 'boolean',
    leadershipTransfer: 'boolean',
    lastLogIndex: 'index',
    lastLogTerm: 'term',
  },
  RequestVoteResponse: { from: 'nodeId', to: 'nodeId', term: 'term', preVote: 'boolean', voteGranted: 'boolean' },
  AppendEntries: {
    from: 'nodeId',
    to: 'nodeId',
    term: 'term',
    prevLogIndex: 'index',
    prevLogTerm: 'term',
    entries: 'entries',
    leaderCommit: 'index',
  },
  AppendEntriesResponse: {
    from: 'nodeId',
    to: 'nodeId',
    term: 'term',
    success: 'boolean',
    matchIndex: 'index',
    conflictTerm: 'optionalTerm',
    conflictIndex: 'index',
  },
  Heartbeat: { from: 'nodeId', to: 'nodeId', term: 'term', leaderCommit: 'index', round: 'count' },
  HeartbeatResponse: { from: 'nodeId', to: 'nodeId', term: 'term', round: 'count' },
  TimeoutNow: { from: 'nodeId', to: 'nodeId', term: 'term', lastLogIndex: 'index' },
  InstallSnapshot: { from: 'nodeId', to: 'nodeId', term: 'term', snapshot: 'snapshot' },
};

/** Members in one configuration; far above any real cluster, it only bounds a broken peer's frame. */
const maxMembersPerConfig = 64;
const maxAddressLength = 300;

function invalid(path: string, problem: string): PeerFrameError {
  return new PeerFrameError('PEER_FRAME_INVALID', `${path}: ${problem}`);
}

/** Only plain objects: a decoder-made Map, Date, array or prototype-swapped object is refused. */
function isPlainRecord(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function checkKeys(record: Record<string, unknown>, allowed: ReadonlySet<string>, optional: ReadonlySet<string>, path: string): void {
  const keys = Object.keys(record);
  // Bounded before the loop: allowed.size is at most 8, so a longer key list is refused unread.
  if (keys.length > allowed.size) throw invalid(path, `has ${keys.length} fields, at most ${allowed.size} allowed`);
  for (const key of keys) {
    if (!allowed.has(key)) throw invalid(path, `unknown field ${JSON.stringify(key.slice(0, 64))}`);
  }
  for (const key of allowed) {
    if (!(key in record) && !optional.has(key)) throw invalid(path, `missing field ${key}`);
  }
}

// Paths name a field in errors only. Every message and entry is checked on the hot path, so a
// field's path is put together when it is wrong, not for each field that is right: the callers pass
// the parent's path and the field's name.
function fieldPath(path: string, field: string | undefined): string {
  return field === undefined ? path : `${path}.${field}`;
}

function readNonNegativeInteger(value: unknown, path: string, field?: string): number {
  if (!isWholeNumber(value)) throw invalid(fieldPath(path, field), 'must be a non-negative safe integer');
  return value;
}

function readNodeId(value: unknown, path: string, field?: string): string {
  if (typeof value !== 'string') throw invalid(fieldPath(path, field), 'must be a string');
  if (value.length === 0) throw invalid(fieldPath(path, field), 'must not be empty');
  if (value.length > peerFrameLimits.maxNodeIdLength) throw invalid(fieldPath(path, field), `longer than ${peerFrameLimits.maxNodeIdLength} characters`);
  return value;
}

const memberKeys: ReadonlySet<string> = new Set(['id', 'address', 'role']);

function readConfig(value: unknown, path: string): ClusterConfig {
  if (!Array.isArray(value)) throw invalid(path, 'must be an array of members');
  if (value.length > maxMembersPerConfig) throw invalid(path, `has ${value.length} members, at most ${maxMembersPerConfig} allowed`);
  const members = value.map((item, position): ClusterMember => {
    const memberPath = `${path}[${position}]`;
    if (!isPlainRecord(item)) throw invalid(memberPath, 'must be an object');
    checkKeys(item, memberKeys, noKeys, memberPath);
    const id = readNodeId(item['id'], `${memberPath}.id`);
    const address = item['address'];
    if (typeof address !== 'string' || address.length > maxAddressLength) throw invalid(`${memberPath}.address`, `must be a string of at most ${maxAddressLength} characters`);
    const role = item['role'];
    if (role !== 'voter' && role !== 'learner') throw invalid(`${memberPath}.role`, 'must be "voter" or "learner"');
    return { id: asNodeId(id), address, role };
  });
  if (new Set(members.map((member) => member.id)).size !== members.length) throw invalid(path, 'lists a member twice');
  return makeConfig(members);
}

const snapshotKeys: ReadonlySet<string> = new Set(['index', 'term', 'config']);
const configKeys: ReadonlySet<string> = new Set(['members']);

function readSnapshotMetadata(value: unknown, path: string): SnapshotMetadata {
  if (!isPlainRecord(value)) throw invalid(path, 'must be an object');
  checkKeys(value, snapshotKeys, noKeys, path);
  const config = value['config'];
  if (!isPlainRecord(config)) throw invalid(`${path}.config`, 'must be an object');
  checkKeys(config, configKeys, noKeys, `${path}.config`);
  return {
    index: readNonNegativeInteger(value['index'], `${path}.index`),
    term: readNonNegativeInteger(value['term'], `${path}.term`),
    config: readConfig(config['members'], `${path}.config.members`),
  } as SnapshotMetadata;
}

const noopEntryKeys: ReadonlySet<string> = new Set(['kind', 'index', 'term']);
const configEntryKeys: ReadonlySet<string> = new Set(['kind', 'index', 'term', 'config']);
const commandEntryKeys: ReadonlySet<string> = new Set(['kind', 'index', 'term', 'data']);
const noKeys: ReadonlySet<string> = new Set();

function readEntry(value: unknown, path: string): LogEntry {
  if (!isPlainRecord(value)) throw invalid(path, 'must be an object');
  const index = readNonNegativeInteger(value['index'], path, 'index');
  const term = readNonNegativeInteger(value['term'], path, 'term');
  if (value['kind'] === 'noop') {
    checkKeys(value, noopEntryKeys, noKeys, path);
    return { kind: 'noop', index, term } as LogEntry;
  }
  if (value['kind'] === 'command') {
    checkKeys(value, commandEntryKeys, noKeys, path);
    const data = value['data'];
    if (!(data instanceof Uint8Array)) throw invalid(`${path}.data`, 'must be binary');
    // Copy: the decoder hands out a view into the frame; a log entry kept for hours must not pin it.
    const copy = new Uint8Array(data.byteLength);
    copy.set(data);
    return { kind: 'command', index, term, data: copy } as LogEntry;
  }
  if (value['kind'] === 'config') {
    checkKeys(value, configEntryKeys, noKeys, path);
    const config = value['config'];
    if (!isPlainRecord(config)) throw invalid(`${path}.config`, 'must be an object');
    checkKeys(config, configKeys, noKeys, `${path}.config`);
    return { kind: 'config', index, term, config: readConfig(config['members'], `${path}.config.members`) } as LogEntry;
  }
  throw invalid(`${path}.kind`, 'must be "noop", "command" or "config"');
}

function readEntries(value: unknown, path: string): LogEntry[] {
  if (!Array.isArray(value)) throw invalid(path, 'must be an array');
  if (value.length > peerFrameLimits.maxEntriesPerMessage) {
    throw invalid(path, `has ${value.length} entries, at most ${peerFrameLimits.maxEntriesPerMessage} allowed`);
  }
  return value.map((entry, position) => readEntry(entry, `${path}[${position}]`));
}

function readField(kind: FieldKind, value: unknown, path: string, field: string): unknown {
  switch (kind) {
    case 'nodeId':
      return readNodeId(value, path, field);
    case 'term':
    case 'index':
    case 'count':
      return readNonNegativeInteger(value, path, field);
    case 'optionalTerm':
      return value === undefined ? undefined : readNonNegativeInteger(value, path, field);
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(fieldPath(path, field), 'must be a boolean');
      return value;
    case 'entries':
      return readEntries(value, fieldPath(path, field));
    case 'snapshot':
      return readSnapshotMetadata(value, fieldPath(path, field));
  }
}

/** The log-shape rules the core asserts when it appends a leader's entries (raft-log.ts). */
function checkAppendedEntries(message: Extract<Message, { type: 'AppendEntries' }>, path: string): void {
  let previousTerm: number = message.prevLogTerm;
  for (let position = 0; position < message.entries.length; position++) {
    const entry = message.entries[position]!;
    if (entry.index !== message.prevLogIndex + 1 + position) throw invalid(`${path}.entries[${position}].index`, 'entries must follow prevLogIndex contiguously');
    if (entry.term < previousTerm) throw invalid(`${path}.entries[${position}].term`, 'terms never decrease along the log');
    if (entry.term > message.term) throw invalid(`${path}.entries[${position}].term`, "an entry's term never exceeds its leader's term");
    previousTerm = entry.term;
  }
}

/** A message type's fields as the validator walks them, built once from fieldRules. */
interface MessageShape {
  readonly allowedKeys: ReadonlySet<string>;
  readonly fields: ReadonlyArray<readonly [field: string, kind: FieldKind]>;
}

const messageShapes: ReadonlyMap<string, MessageShape> = new Map(
  Object.entries(fieldRules).map(([type, rules]: [string, Readonly<Record<string, FieldKind>>]) => [
    type,
    { allowedKeys: new Set(['type', ...Object.keys(rules)]), fields: Object.entries(rules) },
  ]),
);

const optionalFields: ReadonlySet<string> = new Set(['conflictTerm']);

const chunkKeys: ReadonlySet<string> = new Set(['type', 'from', 'to', 'term', 'snapshotIndex', 'snapshotTerm', 'chunk', 'chunkCount', 'totalBytes', 'data']);
/** A snapshot larger than this is refused by the receiver (the state machine lives in memory). */
export const maxSnapshotBytes = 4 * 1024 * 1024 * 1024;

function validateSnapshotChunk(value: Record<string, unknown>, path: string): SnapshotChunk {
  checkKeys(value, chunkKeys, noKeys, path);
  const data = value['data'];
  if (!(data instanceof Uint8Array)) throw invalid(`${path}.data`, 'must be binary');
  const chunk: SnapshotChunk = {
    type: 'SnapshotChunk',
    from: asNodeId(readNodeId(value['from'], `${path}.from`)),
    to: asNodeId(readNodeId(value['to'], `${path}.to`)),
    term: readNonNegativeInteger(value['term'], `${path}.term`) as SnapshotChunk['term'],
    snapshotIndex: readNonNegativeInteger(value['snapshotIndex'], `${path}.snapshotIndex`) as SnapshotChunk['snapshotIndex'],
    snapshotTerm: readNonNegativeInteger(value['snapshotTerm'], `${path}.snapshotTerm`) as SnapshotChunk['snapshotTerm'],
    chunk: readNonNegativeInteger(value['chunk'], `${path}.chunk`),
    chunkCount: readNonNegativeInteger(value['chunkCount'], `${path}.chunkCount`),
    totalBytes: readNonNegativeInteger(value['totalBytes'], `${path}.totalBytes`),
    data: new Uint8Array(data),
  };
  if (chunk.totalBytes > maxSnapshotBytes) throw invalid(`${path}.totalBytes`, `exceeds ${maxSnapshotBytes}`);
  if (chunk.chunk >= Math.max(1, chunk.chunkCount)) throw invalid(`${path}.chunk`, 'is beyond chunkCount');
  if (chunk.from === chunk.to) throw invalid(`${path}.to`, 'a member never messages itself');
  return chunk;
}

/** Validate one decoded value as a Message (or a transport's SnapshotChunk); `path` names it in errors. */
export function validatePeerMessage(value: unknown, path: string): PeerWireMessage {
  if (!isPlainRecord(value)) throw invalid(path, 'must be an object');
  const type = value['type'];
  if (type === 'SnapshotChunk') return validateSnapshotChunk(value, path);
  const shape = typeof type === 'string' ? messageShapes.get(type) : undefined;
  if (shape === undefined) throw invalid(`${path}.type`, 'unknown message type');
  checkKeys(value, shape.allowedKeys, optionalFields, path);
  const message: Record<string, unknown> = { type };
  for (const [field, kind] of shape.fields) message[field] = readField(kind, value[field], path, field);
  const result = message as unknown as Message;
  if (result.from === result.to) throw invalid(`${path}.to`, 'a member never messages itself');
  if (result.type === 'AppendEntries') checkAppendedEntries(result, path);
  return result;
}
