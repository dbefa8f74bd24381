// Property tests of incremental snapshots (LockSnapshotCursor) and format-2 restores
// (LockSnapshotLoader): a walk stepped a few records at a time while entries keep applying writes
// exactly the parts a walk run to completion at its begin writes; those parts restore a machine
// indistinguishable from the original at that index, which then applies the rest of the log alike.
// Random logs (fast-check, fixed seeds) open, close and expire sessions, queue, cancel and grant
// waiters, delete and recreate locks and evict dedupe entries, before and during the walk.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { defaultLockLimits, type LockCommand, type LockKind, type LockLimits } from './lock-commands.js';
import type { LockSnapshotPart } from './lock-snapshot.js';
import { LockStateMachine } from './lock-state-machine.js';

/** Small limits and few names so short logs reach queues, refusals, recreations and eviction. */
const limits: LockLimits = { ...defaultLockLimits, maxSessions: 5, maxLocks: 8, maxWaitersPerLock: 3, maxWaitsPerSession: 4, maxDedupeEntries: 6 };
const names = ['a', 'b', 'c', 'jobs/1', 'jobs/2'];
const kinds: readonly LockKind[] = ['lock', 'election'];

/** One random decision: which command (or snapshot step) and the numbers it picks from. */
interface Roll {
  readonly what: number;
  readonly first: number;
  readonly second: number;
}

const rollArbitrary = fc.record({ what: fc.nat(99), first: fc.nat(1_000), second: fc.nat(1_000) });

function pick<Item>(items: readonly Item[], choice: number): Item {
  const item = items[choice % items.length];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

/** Turns rolls into plausible commands against the machine's current state (valid ones mostly). */
class Commands {
  private requestCount = 0;
  private timeMs = 1_000;
  private readonly past: LockCommand[] = [];

  constructor(private readonly machine: LockStateMachine) {}

  next({ what, first, second }: Roll): LockCommand {
    this.timeMs += first % 7;
    const sessions = this.machine.listSessions().map((session) => session.sessionId);
    const sessionId = sessions.length > 0 && first % 10 !== 0 ? pick(sessions, first) : `${900 + (first % 3)}`;
    const kind = pick(kinds, second);
    const name = pick(names, first + second);
    const holder = this.machine.getLock(kind, name)?.holder;
    const command = ((): LockCommand => {
      if (what < 5 && this.past.length > 0) return pick(this.past.slice(-12), second); // a retry
      if (what < 17) return { type: 'OpenSession', requestId: this.requestId(), ttlMs: 1_000, clientName: `c${second % 3}`, leaderTimeMs: this.timeMs };
      if (what < 20) return { type: 'CloseSession', requestId: this.requestId(), sessionId };
      if (what < 23) return { type: 'ExpireSession', sessionId, leaderTimeMs: this.timeMs };
      if (what < 62) {
        const value = kind === 'election' ? `v${second % 4}` : '';
        const mode = second % 4 === 0 ? 'try' : 'wait';
        return { type: 'Acquire', requestId: this.requestId(), sessionId, kind, name, mode, metadata: `m${first % 3}`, value, leaderTimeMs: this.timeMs };
      }
      if (what < 67) {
        const waiters = this.machine.getLock(kind, name)?.waiters ?? [];
        const waiting = waiters.length > 0 ? pick(waiters, second).sessionId : sessionId;
        return { type: 'CancelWait', requestId: this.requestId(), sessionId: waiting, kind, name };
      }
      if (what < 85) {
        return { type: 'Release', requestId: this.requestId(), sessionId: holder?.sessionId ?? sessionId, kind, name, token: holder?.token ?? first };
      }
      if (what < 90) return { type: 'ForceRelease', requestId: this.requestId(), kind, name };
      if (what < 97) {
        return { type: 'Proclaim', requestId: this.requestId(), sessionId: holder?.sessionId ?? sessionId, name, token: holder?.token ?? first, value: `p${second % 5}` };
      }
      return { type: 'Noop' };
    })();
    if ('requestId' in command) this.past.push(command);
    return command;
  }

  private requestId(): string {
    this.requestCount++;
    return `request-${this.requestCount}`;
  }
}

/** Runs a walk to completion at once and returns its parts. */
function walkAtOnce(machine: LockStateMachine, recordsPerPart: number): LockSnapshotPart[] {
  const parts: LockSnapshotPart[] = [];
  const cursor = machine.beginSnapshot(recordsPerPart);
  expect(cursor.step(Number.MAX_SAFE_INTEGER, (part) => parts.push(part))).toBe(true);
  return parts;
}

/** A machine rebuilt from parts that went through JSON, to prove they are plain data. */
function restoreParts(parts: readonly LockSnapshotPart[]): LockStateMachine {
  const loader = LockStateMachine.beginRestore(limits);
  for (const part of JSON.parse(JSON.stringify(parts)) as LockSnapshotPart[]) loader.add(part);
  return loader.finish();
}

/** What a client can observe of a machine, through its queries. */
function observable(machine: LockStateMachine): unknown {
  return {
    applied: machine.lastAppliedIndex(),
    stats: machine.stats(),
    sessions: machine.listSessions(),
    locks: kinds.map((kind) => machine.listLocks(kind, '', 100)),
  };
}

const scenarioArbitrary = fc.record({
  before: fc.array(rollArbitrary, { minLength: 20, maxLength: 150, size: 'large' }),
  /** Each entry applied during the walk follows one step one time in four (budget 1 to 3 records). */
  during: fc.array(fc.tuple(rollArbitrary, fc.nat(3), fc.nat(2)), { minLength: 1, maxLength: 150, size: 'large' }),
  after: fc.array(rollArbitrary, { maxLength: 40 }),
  recordsPerPart: fc.integer({ min: 1, max: 6 }),
});

describe('incremental snapshots', () => {
  test('a walk stepped between applies writes exactly the parts of a walk run at its begin, and they restore that state', () => {
    let preservedTotal = 0;
    let walksFinishedDuringLog = 0;
    fc.assert(
      fc.property(scenarioArbitrary, ({ before, during, after, recordsPerPart }) => {
        const machine = new LockStateMachine(limits);
        const commands = new Commands(machine);
        let index = 0;
        const apply = (roll: Roll): void => {
          index += 1 + (roll.second % 2); // gaps, as Raft's own entries leave
          machine.apply(index, commands.next(roll));
        };
        for (const roll of before) apply(roll);
        const expectedState = machine.serialize();
        const expectedObservable = observable(machine);
        const expectedParts = walkAtOnce(machine, recordsPerPart);

        const cursor = machine.beginSnapshot(recordsPerPart);
        const parts: LockSnapshotPart[] = [];
        let done = false;
        for (const [roll, stepChance, budget] of during) {
          if (stepChance === 0 && !done) done = cursor.step(1 + budget, (part) => parts.push(part));
          apply(roll);
        }
        walksFinishedDuringLog += done ? 1 : 0;
        while (!done) done = cursor.step(1 + (index % 3), (part) => parts.push(part));
        preservedTotal += cursor.preserved;
        machine.checkInvariants();

        expect(parts).toEqual(expectedParts);
        const restored = restoreParts(parts);
        restored.checkInvariants();
        expect(restored.serialize()).toEqual(expectedState);
        expect(observable(restored)).toEqual(expectedObservable);
        // A walk of the restored copy writes the same parts again (grant sub-positions included).
        expect(walkAtOnce(restored, recordsPerPart)).toEqual(expectedParts);

        // Later walks see later states; the machine keeps working after one.
        for (const roll of after) apply(roll);
        const laterParts = walkAtOnce(machine, recordsPerPart);
        expect(restoreParts(laterParts).serialize()).toEqual(machine.serialize());
      }),
      { seed: 20_260_612, numRuns: 300 },
    );
    // The runs did exercise copy-on-write and walks that outlived the interleaved log.
    expect(preservedTotal).toBeGreaterThan(200);
    expect(walksFinishedDuringLog).toBeGreaterThan(10);
  });

  test('a restored machine applies the rest of a log exactly like the original', () => {
    fc.assert(
      fc.property(fc.array(rollArbitrary, { maxLength: 150 }), fc.array(rollArbitrary, { maxLength: 150 }), (before, after) => {
        const original = new LockStateMachine(limits);
        const commands = new Commands(original);
        let index = 0;
        for (const roll of before) original.apply(++index, commands.next(roll));
        const restored = restoreParts(walkAtOnce(original, 4));
        for (const roll of after) {
          const command = commands.next(roll);
          index++;
          expect(restored.apply(index, command)).toEqual(original.apply(index, command));
        }
        restored.checkInvariants();
        expect(restored.serialize()).toEqual(original.serialize());
        expect(observable(restored)).toEqual(observable(original));
      }),
      { seed: 7_340_001, numRuns: 200 },
    );
  });
});

describe('snapshot walks', () => {
  function busyMachine(): LockStateMachine {
    const machine = new LockStateMachine(defaultLockLimits);
    machine.apply(1, { type: 'OpenSession', requestId: 'o1', ttlMs: 1_000, clientName: 'a', leaderTimeMs: 5 });
    machine.apply(2, { type: 'OpenSession', requestId: 'o2', ttlMs: 1_000, clientName: 'b', leaderTimeMs: 6 });
    machine.apply(3, { type: 'Acquire', requestId: 'r3', sessionId: '1', kind: 'lock', name: 'x', mode: 'wait', metadata: 'm', value: '', leaderTimeMs: 7 });
    machine.apply(4, { type: 'Acquire', requestId: 'r4', sessionId: '2', kind: 'lock', name: 'x', mode: 'wait', metadata: 'n', value: '', leaderTimeMs: 8 });
    machine.apply(5, { type: 'Acquire', requestId: 'r5', sessionId: '2', kind: 'election', name: 'e', mode: 'wait', metadata: '', value: 'v', leaderTimeMs: 9 });
    return machine;
  }

  test('a walk leaves out records created after it began and writes deleted ones as they were', () => {
    const machine = busyMachine();
    const expected = walkAtOnce(machine, 1024);
    const cursor = machine.beginSnapshot();
    machine.apply(6, { type: 'CloseSession', requestId: 'r6', sessionId: '1' }); // x passes to session 2
    machine.apply(7, { type: 'Acquire', requestId: 'r7', sessionId: '2', kind: 'lock', name: 'new', mode: 'try', metadata: '', value: '', leaderTimeMs: 10 });
    machine.apply(8, { type: 'Release', requestId: 'r8', sessionId: '2', kind: 'election', name: 'e', token: 5 });
    const parts: LockSnapshotPart[] = [];
    expect(cursor.step(Number.MAX_SAFE_INTEGER, (part) => parts.push(part))).toBe(true);
    expect(parts).toEqual(expected);
    expect(cursor.preserved).toBe(2);
    expect(parts.find((part) => part.part === 'header')).toMatchObject({ appliedIndex: 5, sessionCount: 2, lockCount: 1, electionCount: 1, dedupeCount: 5 });
  });

  test('one walk at a time; abort ends one early and the next starts afresh', () => {
    const machine = busyMachine();
    const cursor = machine.beginSnapshot();
    expect(cursor.step(1, () => undefined)).toBe(false);
    expect(() => machine.beginSnapshot()).toThrow(/one snapshot walk at a time/);
    cursor.abort();
    expect(cursor.done).toBe(true);
    machine.apply(6, { type: 'CloseSession', requestId: 'r6', sessionId: '1' });
    expect(restoreParts(walkAtOnce(machine, 2)).serialize()).toEqual(machine.serialize());
  });

  test('a walk stepped one record at a time makes as many steps as records, and its parts hold at most the part size', () => {
    const machine = busyMachine();
    const cursor = machine.beginSnapshot(2);
    const parts: LockSnapshotPart[] = [];
    let steps = 0;
    while (!cursor.step(1, (part) => parts.push(part))) steps++;
    // header, 2 sessions, lock x (two records with its waiter, written whole in one step),
    // election e, 5 dedupe entries
    expect(steps + 1).toBe(1 + 2 + 1 + 1 + 5);
    expect(parts.map((part) => part.part)).toEqual(['header', 'sessions', 'locks', 'locks', 'dedupe', 'dedupe', 'dedupe']);
  });

  test('the loader refuses parts out of order, dangling references and counts that do not match', () => {
    const parts = walkAtOnce(busyMachine(), 1024);
    const restore = (edited: readonly LockSnapshotPart[]) => () => {
      const loader = LockStateMachine.beginRestore(limits);
      for (const part of edited) loader.add(part);
      return loader.finish();
    };
    expect(restore(parts)).not.toThrow();
    expect(restore(parts.slice(1))).toThrow(/header/);
    expect(restore([...parts].reverse())).toThrow(/invariant violated/);
    expect(restore(parts.slice(0, -1))).toThrow(/dedupe entries as its header says/);
    const edit = (kind: string, change: (part: Record<string, unknown>) => Record<string, unknown>) =>
      parts.map((part) => (part.part === 'locks' && part.kind === kind ? (change({ ...part }) as unknown as LockSnapshotPart) : part));
    expect(restore(edit('lock', (part) => ({ ...part, holders: [7] })))).toThrow(/session of the snapshot/);
    expect(restore(edit('lock', (part) => ({ ...part, tokens: [99] })))).toThrow(/applied entry/);
    expect(restore(edit('lock', (part) => ({ ...part, waiterSessions: [0] })))).toThrow(/holder does not also wait/);
    expect(restore(edit('lock', (part) => ({ ...part, names: [1] })))).toThrow(/name is a string/);
    expect(restore(edit('election', (part) => ({ ...part, metadata: [] })))).toThrow(/one entry per record/);
    expect(restore([{ ...parts[0], format: 3 } as unknown as LockSnapshotPart, ...parts.slice(1)])).toThrow(/format/);
  });
});
