// The lock snapshot bytes: format 2 round trips, incremental encodings that equal a one-shot
// encoding of the state at their begin however apply() interleaves with their steps, format-1
// bytes (backups written before format 2) still decoding into a machine that behaves exactly as
// the one that wrote them, and what decoding refuses.

import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, test } from 'vitest';
import { defaultLockLimits, type LockKind } from '../lock/lock-commands.js';
import { LockHarness, type Applied, type CountLimits } from '../lock/lock-harness.js';
import type { LockCommand } from '../lock/lock-commands.js';
import { LockStateMachine, type LockSnapshot } from '../lock/lock-state-machine.js';
import { lockSnapshotCodec } from './lock-snapshot-codec.js';

/**
 * A format-1 snapshot written by the codec before format 2 (commit 236775c): bob holds orders/1 and
 * orders/2, both granted by entry 14 (alice's close), carol waits for orders/1 and leads the
 * scheduler election bob waits for; six dedupe entries. FORMAT_1_STATE is its serialize().
 */
const format1Base64 =
  '3gAGpmZvcm1hdAGsYXBwbGllZEluZGV4D6xsZWFkZXJUaW1lTXPLQni8/laBEACoc2Vzc2lvbnOS3gAHqXNlc3Npb25JZKEypXR0bE1zzScQqmNsaWVudE5hbWWjYm9irGNyZWF0ZWRJbmRleAKtY3JlYXRlZFRpbWVNc8tCeLz+VoAAAKRoZWxkkt4AAqRraW5kpGxvY2ukbmFtZahvcmRlcnMvMd4AAqRraW5kpGxvY2ukbmFtZahvcmRlcnMvMqV3YWl0c5HeAAKka2luZKhlbGVjdGlvbqRuYW1lqXNjaGVkdWxlct4AB6lzZXNzaW9uSWShM6V0dGxNc80H0KpjbGllbnROYW1lpWNhcm9srGNyZWF0ZWRJbmRleAOtY3JlYXRlZFRpbWVNc8tCeLz+VoAAAKRoZWxkkt4AAqRraW5kqGVsZWN0aW9upG5hbWWpc2NoZWR1bGVy3gACpGtpbmSkbG9ja6RuYW1lqG9yZGVycy8zpXdhaXRzkd4AAqRraW5kpGxvY2ukbmFtZahvcmRlcnMvMaVsb2Nrc5TeAASka2luZKRsb2NrpG5hbWWob3JkZXJzLzGmaG9sZGVy3gAFqXNlc3Npb25JZKEypXRva2VuDqtzaW5jZVRpbWVNc8tCeLz+VoEQAKhtZXRhZGF0Yalib2Igd2FpdHOldmFsdWWgp3dhaXRlcnOR3gAFqXNlc3Npb25JZKEzqXJlcXVlc3RJZKlyZXF1ZXN0LTeqc2luY2VJbmRleAeobWV0YWRhdGGgpXZhbHVloN4ABKRraW5kpGxvY2ukbmFtZahvcmRlcnMvMqZob2xkZXLeAAWpc2Vzc2lvbklkoTKldG9rZW4Oq3NpbmNlVGltZU1zy0J4vP5WgRAAqG1ldGFkYXRhoKV2YWx1ZaCnd2FpdGVyc5DeAASka2luZKRsb2NrpG5hbWWob3JkZXJzLzOmaG9sZGVy3gAFqXNlc3Npb25JZKEzpXRva2VuD6tzaW5jZVRpbWVNc8tCeLz+VoEQAKhtZXRhZGF0YaCldmFsdWWgp3dhaXRlcnOQ3gAEpGtpbmSoZWxlY3Rpb26kbmFtZalzY2hlZHVsZXKmaG9sZGVy3gAFqXNlc3Npb25JZKEzpXRva2VuCatzaW5jZVRpbWVNc8tCeLz+VoEQAKhtZXRhZGF0YaCldmFsdWWtMTAuMC4wLjc6ODA4MKd3YWl0ZXJzkd4ABalzZXNzaW9uSWShMqlyZXF1ZXN0SWSqcmVxdWVzdC0xMKpzaW5jZUluZGV4CqhtZXRhZGF0YaCldmFsdWWtMTAuMC4wLjg6ODA4MKZkZWR1cGWW3gADqXJlcXVlc3RJZKlyZXF1ZXN0LTelaW5kZXgHpnJlc3VsdN4AAqJva8OldmFsdWXeAASlc3RhdGWmcXVldWVkpGtpbmSkbG9ja6RuYW1lqG9yZGVycy8xqHBvc2l0aW9uAt4AA6lyZXF1ZXN0SWSpcmVxdWVzdC04pWluZGV4CKZyZXN1bHTeAAKib2vDpXZhbHVl3gAFpXN0YXRlqGFjcXVpcmVkpGtpbmSkbG9ja6RuYW1lqG9yZGVycy8ypXRva2VuDqlzZXNzaW9uSWShMt4AA6lyZXF1ZXN0SWSpcmVxdWVzdC05pWluZGV4CaZyZXN1bHTeAAKib2vDpXZhbHVl3gAFpXN0YXRlqGFjcXVpcmVkpGtpbmSoZWxlY3Rpb26kbmFtZalzY2hlZHVsZXKldG9rZW4JqXNlc3Npb25JZKEz3gADqXJlcXVlc3RJZKpyZXF1ZXN0LTEwpWluZGV4CqZyZXN1bHTeAAKib2vDpXZhbHVl3gAEpXN0YXRlpnF1ZXVlZKRraW5kqGVsZWN0aW9upG5hbWWpc2NoZWR1bGVyqHBvc2l0aW9uAd4AA6lyZXF1ZXN0SWSqcmVxdWVzdC0xMaVpbmRleA6mcmVzdWx03gACom9rw6V2YWx1Zd4AAaZjbG9zZWTD3gADqXJlcXVlc3RJZKpyZXF1ZXN0LTEypWluZGV4D6ZyZXN1bHTeAAKib2vDpXZhbHVl3gAFpXN0YXRlqGFjcXVpcmVkpGtpbmSkbG9ja6RuYW1lqG9yZGVycy8zpXRva2VuD6lzZXNzaW9uSWShMw==';

/** What the pre-format-2 machine answered to ExpireSession of bob at index 16 after that snapshot. */
const expectedExpiry = {
  result: { ok: true, value: { expired: true } },
  events: [
    { index: 16, type: 'expired', kind: 'election', name: 'scheduler', sessionId: '2', requestId: 'request-10' },
    { index: 16, type: 'expired', kind: 'lock', name: 'orders/1', sessionId: '2', token: 14 },
    { index: 16, type: 'acquired', kind: 'lock', metadata: '', name: 'orders/1', sessionId: '3', token: 16, requestId: 'request-7' },
    { index: 16, type: 'expired', kind: 'lock', name: 'orders/2', sessionId: '2', token: 14 },
  ],
};

/** ...and its held list for carol afterwards: the promotion made by entry 16 comes last. */
const expectedCarolHeld = [
  { kind: 'election', name: 'scheduler' },
  { kind: 'lock', name: 'orders/3' },
  { kind: 'lock', name: 'orders/1' },
];

const plainUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

/** A harness that also applies every command to a twin machine and expects the same outcome. */
class TwinHarness extends LockHarness {
  twin: LockStateMachine | undefined;

  override applyAsProposed(command: LockCommand): Applied {
    const applied = super.applyAsProposed(command);
    if (this.twin !== undefined) expect(this.twin.apply(applied.index, command)).toEqual({ result: applied.result, events: applied.events });
    return applied;
  }
}

/** A machine with sessions, holders, waiters, elections and dedupe entries, grown by a seeded walk. */
function busyHarness(seed: number, lockCount: number, limits: CountLimits = { maxDedupeEntries: 500, maxLocks: lockCount * 2 }): TwinHarness {
  let state = seed >>> 0;
  const random = (maxExclusive: number): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % maxExclusive;
  };
  const harness = new TwinHarness(limits);
  const sessions = Array.from({ length: 12 }, (_, position) => harness.open(`client-${position}`));
  for (let step = 0; step < lockCount; step++) {
    const session = sessions[random(sessions.length)] ?? '';
    const kind: LockKind = random(10) === 0 ? 'election' : 'lock';
    harness.leaderTimeMs += random(3);
    harness.acquire(session, `tenant-${random(7)}/lock-${random(lockCount)}`, { kind, metadata: random(4) === 0 ? `pid ${step}` : '' });
  }
  return harness;
}

/** One random change to a busy machine: acquires, releases, closes, opens, cancels. */
function changeSomething(harness: LockHarness, roll: number, other: number): void {
  const sessions = harness.machine.listSessions();
  const session = sessions[other % Math.max(1, sessions.length)]?.sessionId ?? '1';
  const kind: LockKind = other % 9 === 0 ? 'election' : 'lock';
  const name = `tenant-${other % 7}/lock-${roll % 400}`;
  const holder = harness.machine.getLock(kind, name)?.holder;
  if (roll % 10 < 4) harness.acquire(session, name, { kind });
  else if (roll % 10 < 7 && holder !== undefined) harness.release(holder.sessionId, name, holder.token, kind);
  else if (roll % 10 === 7) harness.close(session);
  else if (roll % 10 === 8) harness.open('late');
  else harness.cancelWait(session, name, kind);
}

describe('format 2', () => {
  test('decode(encode(x)) is x, and encoding it again gives the same bytes', () => {
    for (const seed of [1, 2, 3]) {
      const { machine } = busyHarness(seed, 3_000);
      const bytes = lockSnapshotCodec.encode(machine);
      const restored = lockSnapshotCodec.decode(bytes);
      restored.checkInvariants();
      expect(restored.serialize()).toEqual(machine.serialize());
      expect(Buffer.from(lockSnapshotCodec.encode(restored)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  test('the bytes are a header then columnar parts, far smaller than format 1', () => {
    const { machine } = busyHarness(4, 3_000);
    const bytes = lockSnapshotCodec.encode(machine);
    const values = plainUnpackr.unpackMultiple(bytes) as { part: string; format?: number }[];
    expect(values[0]).toMatchObject({ part: 'header', format: 2, appliedIndex: machine.lastAppliedIndex() });
    expect(new Set(values.slice(1).map((value) => value.part))).toEqual(new Set(['sessions', 'locks', 'dedupe']));
    const format1 = new Packr({ useRecords: false, mapsAsObjects: true }).pack(machine.serialize());
    expect(bytes.byteLength * 2).toBeLessThan(format1.byteLength);
  });

  test('an empty machine round-trips', () => {
    const empty = new LockStateMachine(defaultLockLimits);
    expect(lockSnapshotCodec.decode(lockSnapshotCodec.encode(empty)).serialize()).toEqual(empty.serialize());
  });
});

describe('a restored machine', () => {
  test('answers and applies exactly like the original while its name Maps are still being filled', () => {
    const harness = busyHarness(9, 6_000, {}); // decode restores with the default limits
    const restored = lockSnapshotCodec.decode(lockSnapshotCodec.encode(harness.machine));
    const everyLock = (machine: LockStateMachine) => (['lock', 'election'] as const).map((kind) => machine.listLocks(kind, '', 10_000));
    expect(everyLock(restored)).toEqual(everyLock(harness.machine));
    restored.checkInvariants(); // lookups by binary search: nothing is in the Maps yet
    harness.twin = restored;
    for (let step = 0; step < 300; step++) {
      changeSomething(harness, (step * 7919) % 1_000, (step * 104_729) % 1_000);
      if (step % 25 === 0) restored.checkInvariants();
      for (const name of ['tenant-1/lock-5', 'tenant-3/lock-77', 'tenant-6/lock-399']) {
        expect(restored.getLock('lock', name)).toEqual(harness.machine.getLock('lock', name));
      }
    }
    expect(restored.fillLookups(1_000_000)).toBe(true);
    restored.checkInvariants();
    expect(restored.serialize()).toEqual(harness.machine.serialize());
  });

  test('fills its name Maps in small slices between applies that add and delete records, and ends with all of them', () => {
    const harness = busyHarness(11, 6_000, {});
    const restored = lockSnapshotCodec.decode(lockSnapshotCodec.encode(harness.machine));
    harness.twin = restored;
    let filled = false;
    let slices = 0;
    for (let step = 0; !filled; step++) {
      expect(step).toBeLessThan(10_000);
      changeSomething(harness, (step * 7919) % 1_000, (step * 104_729) % 1_000);
      filled = restored.fillLookups(37);
      slices++;
      if (step % 50 === 0) restored.checkInvariants();
    }
    expect(slices).toBeGreaterThan(10);
    restored.checkInvariants(); // filled: every record of the index is in the Maps, nothing else
    expect(restored.serialize()).toEqual(harness.machine.serialize());
  });
});

describe('incremental encoding', () => {
  test('steps interleaved with apply give the bytes of a one-shot encode at begin', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.array(fc.tuple(fc.nat(1_000), fc.nat(1_000), fc.integer({ min: 1, max: 400 })), { minLength: 1, maxLength: 120 }),
        (seed, interleaving) => {
          const harness = busyHarness(seed, 1_500);
          const { machine } = harness;
          const expected = lockSnapshotCodec.encode(machine);
          const expectedState = machine.serialize();
          const encoding = lockSnapshotCodec.beginEncode(machine);
          expect(encoding.index).toBe(machine.lastAppliedIndex());
          let done = false;
          for (const [roll, other, budget] of interleaving) {
            if (!done) done = encoding.step(budget);
            changeSomething(harness, roll, other);
          }
          while (!done) done = encoding.step(300);
          const bytes = encoding.result();
          expect(Buffer.from(bytes).equals(Buffer.from(expected))).toBe(true);
          expect(lockSnapshotCodec.decode(bytes).serialize()).toEqual(expectedState);
          machine.checkInvariants();
          // And the machine, changed meanwhile, encodes its new state.
          expect(lockSnapshotCodec.decode(lockSnapshotCodec.encode(machine)).serialize()).toEqual(machine.serialize());
        },
      ),
      { seed: 424_242, numRuns: 25 },
    );
  });

  test('each step stays within its budget: a small budget takes many steps', () => {
    const { machine } = busyHarness(5, 3_000);
    const encoding = lockSnapshotCodec.beginEncode(machine);
    let steps = 1;
    while (!encoding.step(100)) steps++;
    // ~3 000 locks + 12 sessions + 500 dedupe entries at 100 records a step, then the assembly.
    expect(steps).toBeGreaterThan(35);
    expect(encoding.step(100)).toBe(true); // finished stays finished
    expect(lockSnapshotCodec.decode(encoding.result()).serialize()).toEqual(machine.serialize());
  });

  test('abort stops the copy-on-write and lets the next encoding begin; an aborted one has no result', () => {
    const harness = busyHarness(6, 500);
    const encoding = lockSnapshotCodec.beginEncode(harness.machine);
    expect(encoding.step(10)).toBe(false);
    expect(() => encoding.result()).toThrow(/complete/);
    expect(() => lockSnapshotCodec.beginEncode(harness.machine)).toThrow(/one snapshot walk at a time/);
    encoding.abort();
    expect(() => encoding.step(10)).toThrow(/aborted/);
    changeSomething(harness, 3, 4);
    const bytes = lockSnapshotCodec.encode(harness.machine);
    expect(lockSnapshotCodec.decode(bytes).serialize()).toEqual(harness.machine.serialize());
  });
});

describe('format 1', () => {
  const format1 = Buffer.from(format1Base64, 'base64');

  test('a format-1 backup decodes into the machine that wrote it, which then behaves exactly as it did', () => {
    const machine = lockSnapshotCodec.decode(format1);
    const written = plainUnpackr.unpack(format1) as LockSnapshot;
    expect(machine.serialize()).toEqual(written);
    machine.checkInvariants();
    expect(machine.apply(16, { type: 'ExpireSession', sessionId: '2', leaderTimeMs: 1_700_000_000_022 })).toEqual(expectedExpiry);
    expect(machine.serialize().sessions.find((session) => session.sessionId === '3')?.held).toEqual(expectedCarolHeld);
  });

  test('re-encoded as format 2, a format-1 backup keeps its grant order', () => {
    const machine = lockSnapshotCodec.decode(lockSnapshotCodec.encode(lockSnapshotCodec.decode(format1)));
    expect(machine.apply(16, { type: 'ExpireSession', sessionId: '2', leaderTimeMs: 1_700_000_000_022 })).toEqual(expectedExpiry);
  });

  test('what the old encoder writes today (serialize() as one map) still decodes', () => {
    const { machine } = busyHarness(7, 1_000);
    const bytes = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' }).pack(machine.serialize());
    expect(lockSnapshotCodec.decode(bytes).serialize()).toEqual(machine.serialize());
  });
});

describe('decode refuses', () => {
  const packr = new Packr({ useRecords: false, mapsAsObjects: true });

  test('a truncated snapshot', () => {
    const bytes = lockSnapshotCodec.encode(busyHarness(8, 2_000).machine);
    expect(() => lockSnapshotCodec.decode(bytes.subarray(0, bytes.byteLength - 100))).toThrow();
    expect(() => lockSnapshotCodec.decode(bytes.subarray(0, 200))).toThrow();
  });

  test('values that are not a snapshot', () => {
    expect(() => lockSnapshotCodec.decode(packr.pack('hello'))).toThrow(/starts with an object/);
    expect(() => lockSnapshotCodec.decode(packr.pack({ part: 'sessions' }))).toThrow(/header/);
    expect(() => lockSnapshotCodec.decode(Buffer.concat([packr.pack({ format: 1 }), packr.pack({ format: 1 })]))).toThrow(/single value/);
    expect(() => lockSnapshotCodec.decode(packr.pack({ format: 7, sessions: [], locks: [], dedupe: [] }))).toThrow(/format/);
  });
});
