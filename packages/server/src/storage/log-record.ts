// How one LogEntry is stored in the `log` database: the key is its index (lmdb's ordered-binary
// number keys sort numerically, so a range scan walks the log in order) and the value is a plain
// msgpack map { index, term, kind, data? }. Plain maps (no msgpackr records extension) keep the
// bytes readable by any msgpack decoder, for debugging a data dir by hand.
// Invariants (checked on the way in and again on the way out, STYLE §10): the stored index equals
// the key, terms are non-negative integers, a noop has no data, and a command's data comes back as
// a plain Uint8Array that owns its bytes (never a Buffer view into lmdb's or msgpackr's memory).

import { Packr } from 'msgpackr';
import { assert, AssertionError } from '../assert.js';
import { asLogIndex, asTerm, type LogIndex } from '../ids.js';
import type { LogEntry } from '../raft/log-entry.js';
import { decodeMembers } from './meta-record.js';

const packr = new Packr({ useRecords: false });

interface StoredLogEntry {
  readonly index: number;
  readonly term: number;
  readonly kind: LogEntry['kind'];
  readonly data?: Uint8Array;
  readonly members?: readonly { readonly id: string; readonly address: string; readonly role: string }[];
}

export function encodeLogEntry(entry: LogEntry): Uint8Array {
  assert(Number.isSafeInteger(entry.index) && entry.index > 0, 'a log index is a positive integer');
  assert(Number.isSafeInteger(entry.term) && entry.term >= 0, 'a term is a non-negative integer');
  const stored: StoredLogEntry =
    entry.kind === 'command'
      ? { index: entry.index, term: entry.term, kind: entry.kind, data: entry.data }
      : entry.kind === 'config'
        ? { index: entry.index, term: entry.term, kind: entry.kind, members: entry.config.members.map((member) => ({ id: member.id, address: member.address, role: member.role })) }
        : { index: entry.index, term: entry.term, kind: entry.kind };
  return packr.pack(stored);
}

export function decodeLogEntry(key: LogIndex, bytes: Uint8Array): LogEntry {
  const stored = packr.unpack(bytes) as Partial<StoredLogEntry> | null;
  assert(typeof stored === 'object' && stored !== null, 'a stored entry is a map');
  assert(stored.index === key, 'a stored entry sits under its own index');
  assert(typeof stored.term === 'number' && Number.isSafeInteger(stored.term), 'a stored term is an integer');
  assert(stored.term >= 0, 'a stored term is not negative');
  const index = asLogIndex(key);
  const term = asTerm(stored.term);
  switch (stored.kind) {
    case 'noop':
      assert(stored.data === undefined, 'a stored noop carries no data');
      return { kind: 'noop', index, term };
    case 'config':
      assert(Array.isArray(stored.members), 'a stored configuration lists its members');
      return { kind: 'config', index, term, config: decodeMembers(stored.members as unknown[]) };
    case 'command':
      assert(stored.data instanceof Uint8Array, 'a stored command carries bytes');
      // msgpackr hands back a Buffer that may share memory; callers get plain bytes of their own.
      return { kind: 'command', index, term, data: new Uint8Array(stored.data) };
    default:
      throw new AssertionError(`invariant violated: a stored entry has a known kind (got ${String(stored.kind)})`);
  }
}
