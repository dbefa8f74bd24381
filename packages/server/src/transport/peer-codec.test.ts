// Peer codec: valid frames round-trip exactly; every malformed frame (random, corrupted, mistyped,
// incomplete, oversized in shape) becomes a PeerFrameError and nothing else, so it never reaches the core.

import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, test } from 'vitest';
import { asLogIndex, asNodeId, asTerm } from '../ids.js';
import type { LogEntry } from '../raft/log-entry.js';
import type { Message } from '../raft/messages.js';
import { decodePeerFrame, encodePeerFrame } from './peer-codec.js';
import { PeerFrameError } from './peer-frame-error.js';
import { peerFrameLimits } from './peer-frame-limits.js';

// A packer that lets the tests write frames our encoder would refuse to produce.
const rawPackr = new Packr({ useRecords: false, mapsAsObjects: true });
const rawFrame = (value: unknown): Uint8Array => rawPackr.pack(value);

const nodeIdArbitrary = fc.stringMatching(/^[a-z0-9-]{1,32}$/);
const termArbitrary = fc.nat({ max: 1_000_000 });
const indexArbitrary = fc.nat({ max: Number.MAX_SAFE_INTEGER - 100_000 });

const envelopeArbitrary = fc
  .tuple(nodeIdArbitrary, nodeIdArbitrary, termArbitrary)
  .filter(([from, to]) => from !== to)
  .map(([from, to, term]) => ({ from: asNodeId(from), to: asNodeId(to), term: asTerm(term) }));

/** Entries as a leader sends them: contiguous after prevLogIndex, terms between prevLogTerm and term. */
const appendEntriesArbitrary = fc
  .record({
    envelope: envelopeArbitrary,
    prevLogIndex: indexArbitrary,
    leaderCommit: indexArbitrary,
    entryShapes: fc.array(fc.record({ termStep: fc.nat({ max: 2 }), data: fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }) }), { maxLength: 8 }),
  })
  .map(({ envelope, prevLogIndex, leaderCommit, entryShapes }): Message => {
    const totalSteps = entryShapes.reduce((sum, shape) => sum + shape.termStep, 0);
    const prevLogTerm = Math.max(0, envelope.term - totalSteps);
    let entryTerm = prevLogTerm;
    const entries: LogEntry[] = entryShapes.map((shape, position) => {
      entryTerm += shape.termStep;
      const index = asLogIndex(prevLogIndex + 1 + position);
      const term = asTerm(Math.min(entryTerm, envelope.term));
      return shape.data === undefined ? { kind: 'noop', index, term } : { kind: 'command', index, term, data: shape.data };
    });
    return { ...envelope, type: 'AppendEntries', prevLogIndex: asLogIndex(prevLogIndex), prevLogTerm: asTerm(prevLogTerm), entries, leaderCommit: asLogIndex(leaderCommit) };
  });

const messageArbitrary: fc.Arbitrary<Message> = fc.oneof(
  fc
    .record({ envelope: envelopeArbitrary, preVote: fc.boolean(), leadershipTransfer: fc.boolean(), lastLogIndex: indexArbitrary, lastLogTerm: termArbitrary })
    .map(({ envelope, lastLogIndex, lastLogTerm, ...rest }): Message => ({ ...envelope, type: 'RequestVote', ...rest, lastLogIndex: asLogIndex(lastLogIndex), lastLogTerm: asTerm(lastLogTerm) })),
  fc
    .record({ envelope: envelopeArbitrary, preVote: fc.boolean(), voteGranted: fc.boolean() })
    .map(({ envelope, ...rest }): Message => ({ ...envelope, type: 'RequestVoteResponse', ...rest })),
  appendEntriesArbitrary,
  fc
    .record({ envelope: envelopeArbitrary, success: fc.boolean(), matchIndex: indexArbitrary, conflictTerm: fc.option(termArbitrary, { nil: undefined }), conflictIndex: indexArbitrary })
    .map(({ envelope, success, matchIndex, conflictTerm, conflictIndex }): Message => ({
      ...envelope,
      type: 'AppendEntriesResponse',
      success,
      matchIndex: asLogIndex(matchIndex),
      conflictTerm: conflictTerm === undefined ? undefined : asTerm(conflictTerm),
      conflictIndex: asLogIndex(conflictIndex),
    })),
  fc
    .record({ envelope: envelopeArbitrary, leaderCommit: indexArbitrary, round: fc.nat() })
    .map(({ envelope, leaderCommit, round }): Message => ({ ...envelope, type: 'Heartbeat', leaderCommit: asLogIndex(leaderCommit), round })),
  fc.record({ envelope: envelopeArbitrary, round: fc.nat() }).map(({ envelope, round }): Message => ({ ...envelope, type: 'HeartbeatResponse', round })),
  fc.record({ envelope: envelopeArbitrary, lastLogIndex: indexArbitrary }).map(({ envelope, lastLogIndex }): Message => ({ ...envelope, type: 'TimeoutNow', lastLogIndex: asLogIndex(lastLogIndex) })),
);

const validHeartbeat = { type: 'Heartbeat', from: 'n1', to: 'n2', term: 3, leaderCommit: 7, round: 2 } as const;
const validAppend = {
  type: 'AppendEntries',
  from: 'n1',
  to: 'n2',
  term: 3,
  prevLogIndex: 4,
  prevLogTerm: 2,
  entries: [
    { kind: 'noop', index: 5, term: 3 },
    { kind: 'command', index: 6, term: 3, data: new Uint8Array([1, 2, 3]) },
  ],
  leaderCommit: 4,
} as const;

function expectRefused(bytes: Uint8Array): PeerFrameError {
  try {
    decodePeerFrame(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(PeerFrameError);
    return error as PeerFrameError;
  }
  throw new Error('frame was accepted');
}

describe('peer codec round trip', () => {
  test('every message type survives encode then decode unchanged, command data byte-exact as Uint8Array', () => {
    fc.assert(
      fc.property(fc.array(messageArbitrary, { minLength: 1, maxLength: 10 }), (messages) => {
        const decoded = decodePeerFrame(encodePeerFrame(messages));
        expect(decoded).toStrictEqual(messages);
        for (const message of decoded) {
          if (message.type !== 'AppendEntries') continue;
          for (const entry of message.entries) if (entry.kind === 'command') expect(Object.getPrototypeOf(entry.data)).toBe(Uint8Array.prototype);
        }
      }),
      { numRuns: 200 },
    );
  });

  test('decoded command data is a copy that does not alias the frame buffer', () => {
    const frame = encodePeerFrame([validAppend as unknown as Message]);
    const [message] = decodePeerFrame(frame);
    if (message?.type !== 'AppendEntries') throw new Error('expected AppendEntries');
    const entry = message.entries[1];
    if (entry?.kind !== 'command') throw new Error('expected a command entry');
    expect(entry.data.buffer).not.toBe(frame.buffer);
    expect(entry.data.byteLength).toBe(entry.data.buffer.byteLength);
  });

  test('an absent conflictTerm decodes as undefined', () => {
    const { conflictTerm: _omitted, ...withoutConflictTerm } = { type: 'AppendEntriesResponse', from: 'n2', to: 'n1', term: 1, success: true, matchIndex: 3, conflictTerm: undefined, conflictIndex: 0 };
    const [message] = decodePeerFrame(rawFrame([withoutConflictTerm]));
    expect(message).toMatchObject({ type: 'AppendEntriesResponse', conflictTerm: undefined });
  });
});

describe('peer codec refuses malformed frames', () => {
  test('random bytes either decode to valid messages or throw PeerFrameError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          decodePeerFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(PeerFrameError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('a valid frame with bytes flipped or cut throws only PeerFrameError or stays valid', () => {
    fc.assert(
      fc.property(fc.array(messageArbitrary, { minLength: 1, maxLength: 3 }), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), (messages, at, mask, truncate) => {
        const frame = Uint8Array.from(encodePeerFrame(messages));
        const position = at % frame.byteLength;
        const corrupted = truncate ? frame.subarray(0, position) : (frame.set([(frame[position] ?? 0) ^ mask], position), frame);
        try {
          for (const message of decodePeerFrame(corrupted)) expect(message.from).not.toBe(message.to);
        } catch (error) {
          expect(error).toBeInstanceOf(PeerFrameError);
        }
      }),
      { numRuns: 800 },
    );
  });

  test('arbitrary msgpack values that are not message arrays are refused with PeerFrameError', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withMap: true, withSet: true, withDate: true, withTypedArray: true, withBigInt: true }), (value) => {
        fc.pre(value !== undefined);
        let bytes: Uint8Array;
        try {
          bytes = rawFrame(value);
        } catch {
          return; // not representable in msgpack at all
        }
        expectRefused(bytes);
      }),
      { numRuns: 500 },
    );
  });

  const fieldSubstitutes = fc.oneof(
    fc.string(),
    fc.integer({ min: -1_000_000, max: -1 }),
    fc.double({ noInteger: true }),
    fc.constant(2 ** 60),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.nat(), { maxLength: 3 }),
    fc.dictionary(fc.string(), fc.nat(), { maxKeys: 2 }),
    fc.uint8Array({ maxLength: 4 }),
  );

  test('any field replaced by a value of another type is refused', () => {
    const samples = [validHeartbeat, validAppend, { type: 'RequestVote', from: 'a', to: 'b', term: 1, preVote: true, leadershipTransfer: false, lastLogIndex: 1, lastLogTerm: 1 }];
    fc.assert(
      fc.property(fc.constantFrom(...samples), fc.nat(), fieldSubstitutes, (sample, fieldPick, substitute) => {
        const fields = Object.keys(sample);
        const field = fields[fieldPick % fields.length] ?? 'type';
        const original: unknown = (sample as Record<string, unknown>)[field];
        fc.pre(typeof substitute !== typeof original || (typeof original === 'number' && !Number.isSafeInteger(substitute)) || typeof original === 'string');
        fc.pre(!(typeof original === 'string' && typeof substitute === 'string' && substitute.length >= 1 && substitute.length <= 64 && field !== 'type'));
        fc.pre(substitute !== original);
        expectRefused(rawFrame([{ ...sample, [field]: substitute }]));
      }),
      { numRuns: 500 },
    );
  });

  test('any required field missing is refused', () => {
    for (const sample of [validHeartbeat, validAppend]) {
      for (const field of Object.keys(sample)) {
        const { [field]: _removed, ...rest } = sample as Record<string, unknown>;
        expect(expectRefused(rawFrame([rest])).message).toMatch(/missing field|type/);
      }
    }
  });

  test('an unknown message type or an extra field is refused', () => {
    expect(expectRefused(rawFrame([{ ...validHeartbeat, type: 'ReadSnapshotPlease' }])).message).toContain('unknown message type');
    expect(expectRefused(rawFrame([{ ...validHeartbeat, extra: 1 }])).message).toContain('has 7 fields, at most 6');
    const { round: _replaced, ...withoutRound } = validHeartbeat;
    expect(expectRefused(rawFrame([{ ...withoutRound, extra: 1 }])).message).toContain('unknown field "extra"');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [{ kind: 'noop', index: 5, term: 3, data: new Uint8Array(1) }] }])).message).toContain('at most 3');
  });

  test('a refusal names the exact field that is wrong, down to the entry', () => {
    expect(expectRefused(rawFrame([validHeartbeat, { ...validHeartbeat, round: -1 }])).message).toBe('frame[1].round: must be a non-negative safe integer');
    expect(expectRefused(rawFrame([{ ...validHeartbeat, from: 7 }])).message).toBe('frame[0].from: must be a string');
    expect(expectRefused(rawFrame([{ ...validHeartbeat, from: '' }])).message).toBe('frame[0].from: must not be empty');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [{ kind: 'noop', index: 5, term: 'x' }] }])).message).toBe('frame[0].entries[0].term: must be a non-negative safe integer');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [{ kind: 'noop', index: 5.5, term: 3 }] }])).message).toBe('frame[0].entries[0].index: must be a non-negative safe integer');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [{ kind: 'command', index: 5, term: 3, data: 'text' }] }])).message).toBe('frame[0].entries[0].data: must be binary');
  });

  test('node ids must be 1 to 64 characters, and a message to its own sender is refused', () => {
    expect(expectRefused(rawFrame([{ ...validHeartbeat, from: '' }])).message).toContain('must not be empty');
    expect(expectRefused(rawFrame([{ ...validHeartbeat, from: 'x'.repeat(65) }])).message).toContain('longer than 64');
    expect(decodePeerFrame(rawFrame([{ ...validHeartbeat, from: 'x'.repeat(64) }]))).toHaveLength(1);
    expect(expectRefused(rawFrame([{ ...validHeartbeat, to: 'n1' }])).message).toContain('never messages itself');
  });

  test('entries that skip an index, go back in term or outrun the leader term are refused', () => {
    const noop = (index: number, term: number): unknown => ({ kind: 'noop', index, term });
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [noop(6, 3)] }])).message).toContain('contiguously');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [noop(5, 3), noop(7, 3)] }])).message).toContain('contiguously');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [noop(5, 1)] }])).message).toContain('never decrease');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [noop(5, 3), noop(6, 2)] }])).message).toContain('never decrease');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [noop(5, 4)] }])).message).toContain('never exceeds');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [{ kind: 'command', index: 5, term: 3, data: 'text' }] }])).message).toContain('binary');
    expect(expectRefused(rawFrame([{ ...validAppend, entries: [{ kind: 'snapshot', index: 5, term: 3 }] }])).message).toContain('kind');
  });

  test('frames over the structural limits are refused before their contents are trusted', () => {
    const tooManyMessages = Array.from({ length: peerFrameLimits.maxMessagesPerFrame + 1 }, () => validHeartbeat);
    expect(expectRefused(rawFrame(tooManyMessages)).message).toContain('at most');
    const entries = Array.from({ length: peerFrameLimits.maxEntriesPerMessage + 1 }, (_unused, position) => ({ kind: 'noop', index: 5 + position, term: 3 }));
    expect(expectRefused(rawFrame([{ ...validAppend, entries }])).message).toContain('at most');
    expect(expectRefused(rawFrame([])).message).toContain('at least one');
    expect(expectRefused(new Uint8Array()).message).toContain('empty');
  });

  test('a frame with trailing bytes after the message array is refused', () => {
    const frame = encodePeerFrame([validHeartbeat as unknown as Message]);
    expect(expectRefused(Uint8Array.from([...frame, 0x01])).code).toBe('PEER_FRAME_MALFORMED');
  });

  test('a __proto__ key cannot smuggle a prototype into a message', () => {
    // The six heartbeat fields plus "__proto__": {round: 9}, patched in where a 7th key "pad" was.
    const bytes = rawFrame([{ ...validHeartbeat, pad: 0 }]);
    const original = Buffer.from(bytes).toString('latin1');
    const patched = original.replace('\xa3pad\x00', '\xa9__proto__\x81\xa5round\x09');
    expect(patched).not.toBe(original);
    expectRefused(Buffer.from(patched, 'latin1'));
  });

  test('64-bit integers beyond the safe range are refused rather than rounded', () => {
    // 0xcf: uint64 2^63
    const bytes = Buffer.from(rawFrame([{ ...validHeartbeat, term: 0 }]));
    const termAt = bytes.indexOf(Buffer.from('\xa4term', 'latin1')) + 5;
    const patched = Buffer.concat([bytes.subarray(0, termAt), Buffer.from([0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0]), bytes.subarray(termAt + 1)]);
    expect(expectRefused(patched).message).toContain('safe integer');
  });
});
