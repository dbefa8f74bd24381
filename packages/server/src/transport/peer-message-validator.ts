// validatePeerMessage: turns one decoded, untrusted value into a Message, or throws PeerFrameError.
// It owns the rule that nothing reaches the Raft core unless it has exactly the shape the core's
// types promise: the core asserts on its inputs and would crash the member on a malformed one.
//
// Invariants: every field is checked for its primitive type and range; unknown fields and unknown
// message types are refused; the result is a fresh object (no prototype or extra keys survive from
// the decoder); command data is copied, so a stored entry never pins the whole received frame; an
// AppendEntries' entries are contiguous after prevLogIndex with terms that never decrease and never
// exceed the sender's term (the core asserts contiguity when it appends them).

import type { LogEntry } from '../raft/log-entry.js';
import type { Message, MessageType } from '../raft/messages.js';
import { PeerFrameError } from './peer-frame-error.js';
import { peerFrameLimits } from './peer-frame-limits.js';

type FieldKind = 'nodeId' | 'term' | 'index' | 'count' | 'boolean' | 'optionalTerm' | 'entries';

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
};

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

function readNonNegativeInteger(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(path, 'must be a non-negative safe integer');
  }
  return value;
}

function readNodeId(value: unknown, path: string): string {
  if (typeof value !== 'string') throw invalid(path, 'must be a string');
  if (value.length === 0) throw invalid(path, 'must not be empty');
  if (value.length > peerFrameLimits.maxNodeIdLength) throw invalid(path, `longer than ${peerFrameLimits.maxNodeIdLength} characters`);
  return value;
}

const noopEntryKeys: ReadonlySet<string> = new Set(['kind', 'index', 'term']);
const commandEntryKeys: ReadonlySet<string> = new Set(['kind', 'index', 'term', 'data']);
const noKeys: ReadonlySet<string> = new Set();

function readEntry(value: unknown, path: string): LogEntry {
  if (!isPlainRecord(value)) throw invalid(path, 'must be an object');
  const index = readNonNegativeInteger(value['index'], `${path}.index`);
  const term = readNonNegativeInteger(value['term'], `${path}.term`);
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
  throw invalid(`${path}.kind`, 'must be "noop" or "command"');
}

function readEntries(value: unknown, path: string): LogEntry[] {
  if (!Array.isArray(value)) throw invalid(path, 'must be an array');
  if (value.length > peerFrameLimits.maxEntriesPerMessage) {
    throw invalid(path, `has ${value.length} entries, at most ${peerFrameLimits.maxEntriesPerMessage} allowed`);
  }
  return value.map((entry, position) => readEntry(entry, `${path}[${position}]`));
}

function readField(kind: FieldKind, value: unknown, path: string): unknown {
  switch (kind) {
    case 'nodeId':
      return readNodeId(value, path);
    case 'term':
    case 'index':
    case 'count':
      return readNonNegativeInteger(value, path);
    case 'optionalTerm':
      return value === undefined ? undefined : readNonNegativeInteger(value, path);
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(path, 'must be a boolean');
      return value;
    case 'entries':
      return readEntries(value, path);
  }
}

/** The log-shape rules the core asserts when it appends a leader's entries (raft-log.ts). */
function checkAppendedEntries(message: Extract<Message, { type: 'AppendEntries' }>, path: string): void {
  let previousTerm: number = message.prevLogTerm;
  for (const [position, entry] of message.entries.entries()) {
    if (entry.index !== message.prevLogIndex + 1 + position) throw invalid(`${path}.entries[${position}].index`, 'entries must follow prevLogIndex contiguously');
    if (entry.term < previousTerm) throw invalid(`${path}.entries[${position}].term`, 'terms never decrease along the log');
    if (entry.term > message.term) throw invalid(`${path}.entries[${position}].term`, "an entry's term never exceeds its leader's term");
    previousTerm = entry.term;
  }
}

function isMessageType(value: unknown): value is MessageType {
  return typeof value === 'string' && Object.hasOwn(fieldRules, value);
}

const optionalFields: ReadonlySet<string> = new Set(['conflictTerm']);

/** Validate one decoded value as a Message; `path` names it in errors (e.g. "frame[3]"). */
export function validatePeerMessage(value: unknown, path: string): Message {
  if (!isPlainRecord(value)) throw invalid(path, 'must be an object');
  const type = value['type'];
  if (!isMessageType(type)) throw invalid(`${path}.type`, 'unknown message type');
  const rules: Readonly<Record<string, FieldKind>> = fieldRules[type];
  const allowed = new Set(['type', ...Object.keys(rules)]);
  checkKeys(value, allowed, optionalFields, path);
  const message: Record<string, unknown> = { type };
  for (const [field, kind] of Object.entries(rules)) message[field] = readField(kind, value[field], `${path}.${field}`);
  const result = message as unknown as Message;
  if (result.from === result.to) throw invalid(`${path}.to`, 'a member never messages itself');
  if (result.type === 'AppendEntries') checkAppendedEntries(result, path);
  return result;
}
