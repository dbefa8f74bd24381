// The lock state machine's snapshot bytes: what a follower receives from a leader and what a backup
// file carries.
//
// Format 2 (written): the state machine's format-2 parts (lock/lock-snapshot.ts: a header, then
// columnar parts of sessions, locks and dedupe entries), each one plain msgpack value, back to back.
// Plain msgpack (no records extension) so every snapshot decodes on its own; columns instead of
// one object per record so a million locks do not repeat a million sets of keys.
//
// Format 1 (still read): one msgpack map, the state machine's serialize() object. Backups saved
// before format 2 carry it; decode tells the two apart by the first value's shape.
//
// Two ways to write:
//   encode(stateMachine)           the whole snapshot at once (tests, backups of a small state)
//   beginEncode(stateMachine)      a SnapshotEncoding to step() a few records at a time between
//                                  event-loop turns, so a leader with a million locks keeps
//                                  heartbeating; apply() may run between steps, and the bytes are
//                                  still the state at the applied index of beginEncode()
// Invariants (asserted):
//   result() is only read once every record is written and the bytes are assembled
//   the assembled bytes are exactly the parts' bytes, in order

import { Packr, Unpackr } from 'msgpackr';
import { assert } from '../assert.js';
import { defaultLockLimits } from '../lock/lock-commands.js';
import { LockStateMachine, type LockSnapshot, type LockSnapshotCursor, type LockSnapshotPart } from '../lock/lock-state-machine.js';
import type { SnapshotEncoding, StateMachineCodec } from './raft-driver.js';

const snapshotPackr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
const snapshotUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** Bytes copied into the result per record of step budget while the bytes are assembled. */
const assemblyBytesPerRecord = 64;

class LockSnapshotEncoding implements SnapshotEncoding {
  readonly index: number;
  private readonly cursor: LockSnapshotCursor;
  private readonly chunks: Uint8Array[] = [];
  private byteCount = 0;
  private assembled: Uint8Array | undefined;
  private copiedChunks = 0;
  private copiedBytes = 0;
  private aborted = false;
  private readonly emit = (part: LockSnapshotPart): void => {
    // pack() returns a view into msgpackr's own buffer, which it never writes over again (it moves
    // on or allocates a fresh one), so keeping the view is safe and saves a copy.
    const bytes = snapshotPackr.pack(part);
    this.chunks.push(bytes);
    this.byteCount += bytes.byteLength;
  };

  constructor(stateMachine: LockStateMachine) {
    this.index = stateMachine.lastAppliedIndex();
    this.cursor = stateMachine.beginSnapshot();
  }

  step(maxRecords: number): boolean {
    assert(Number.isSafeInteger(maxRecords), 'a step budget is a whole number');
    assert(maxRecords >= 1, 'a step does some work');
    assert(!this.aborted, 'an aborted encoding is not stepped');
    if (!this.cursor.done) {
      // Assembly starts on the next step, so this one stays within its record budget.
      this.cursor.step(maxRecords, this.emit);
      return false;
    }
    return this.assemble(maxRecords * assemblyBytesPerRecord);
  }

  result(): Uint8Array {
    assert(!this.aborted, 'an aborted encoding has no result');
    assert(this.assembled !== undefined && this.copiedBytes === this.byteCount, 'a snapshot is read once step() reported it complete');
    return this.assembled;
  }

  abort(): void {
    this.aborted = true;
    this.cursor.abort();
    this.chunks.length = 0;
    this.assembled = undefined;
  }

  /** Copies the parts' bytes into one buffer, about budget bytes per call (whole parts at least one). */
  private assemble(budget: number): boolean {
    // Buffer.allocUnsafe: every byte is overwritten by the copies below, so zeroing would be wasted.
    const assembled = (this.assembled ??= Buffer.allocUnsafe(this.byteCount));
    let copied = 0;
    while (this.copiedChunks < this.chunks.length && copied < budget) {
      const chunk = this.chunks[this.copiedChunks];
      assert(chunk !== undefined, 'the chunk list is dense');
      assembled.set(chunk, this.copiedBytes);
      this.copiedBytes += chunk.byteLength;
      copied += chunk.byteLength;
      this.copiedChunks++;
    }
    if (this.copiedChunks < this.chunks.length) return false;
    assert(this.copiedBytes === this.byteCount, 'the assembled bytes are exactly the parts');
    // Drop the parts' bytes now: the result is all the caller needs (and a later step is a no-op).
    this.chunks.length = 0;
    this.copiedChunks = 0;
    return true;
  }
}

function encode(stateMachine: LockStateMachine): Uint8Array {
  const encoding = new LockSnapshotEncoding(stateMachine);
  while (!encoding.step(Number.MAX_SAFE_INTEGER));
  return encoding.result();
}

function decode(data: Uint8Array): LockStateMachine {
  let loader: ReturnType<typeof LockStateMachine.beginRestore> | undefined;
  let plain: LockSnapshot | undefined;
  let valueCount = 0;
  snapshotUnpackr.unpackMultiple(data, (value: unknown) => {
    valueCount++;
    if (loader !== undefined) {
      loader.add(value as LockSnapshotPart);
      return;
    }
    assert(valueCount === 1, 'a format-1 snapshot is a single value');
    assert(typeof value === 'object' && value !== null, 'a snapshot starts with an object');
    if ('part' in value) {
      loader = LockStateMachine.beginRestore(defaultLockLimits);
      loader.add(value as LockSnapshotPart);
    } else {
      plain = value as LockSnapshot;
    }
  });
  if (loader !== undefined) return loader.finish();
  assert(plain !== undefined, 'a snapshot holds at least one value');
  return LockStateMachine.restore(plain, defaultLockLimits);
}

export const lockSnapshotCodec: StateMachineCodec = {
  encode,
  decode,
  beginEncode: (stateMachine) => new LockSnapshotEncoding(stateMachine),
};
