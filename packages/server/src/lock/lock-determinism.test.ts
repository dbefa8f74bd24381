// Property-style tests of LockStateMachine over random command sequences from a seeded PRNG:
// determinism (two members agree on everything), snapshot round trips (a restored member is
// indistinguishable from one that applied the log), and safety checked from the event stream
// (one holder per lock, tokens = granting index and increasing, grants only to live sessions).
// On failure the test name carries the seed that reproduces it.

import { describe, expect, test } from 'vitest';
import { defaultLockLimits, type ClientCommand, type LockCommand, type LockKind, type LockLimits } from './lock-commands.js';
import type { LockEvent } from './lock-events.js';
import type { ApplyOutcome } from './lock-results.js';
import type { LockSnapshot } from './lock-snapshot.js';
import { LockStateMachine } from './lock-state-machine.js';
import { withFingerprint } from './request-fingerprint.js';

/** mulberry32: a tiny, well-mixed 32-bit PRNG; the whole run follows from its seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

/** Small limits so random runs hit every refusal path. */
const tightLimits: LockLimits = { ...defaultLockLimits, maxSessions: 6, maxLocks: 7, maxWaitersPerLock: 3, maxWaitsPerSession: 3, maxDedupeEntries: 25 };

const names = ['a', 'b', 'jobs/1', 'jobs/2', 'jobs/10'];
const kinds: readonly LockKind[] = ['lock', 'election'];

/** Generates plausible commands, some invalid, some retries, against what a machine currently holds. */
class CommandGenerator {
  private readonly random: () => number;
  private readonly sessionIds: string[] = ['999'];
  private readonly past: ClientCommand[] = [];
  private requestCount = 0;
  private timeMs = 1_000;

  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  /** Feeds back what the log did, so later commands name real sessions and tokens. */
  observe(index: number, command: LockCommand): void {
    if (command.type === 'OpenSession') this.sessionIds.push(String(index));
    if ('requestId' in command) this.past.push(command);
  }

  next(machine: LockStateMachine): LockCommand {
    const roll = this.random();
    this.timeMs += this.integer(50);
    if (roll < 0.06 && this.past.length > 0) return this.pick(this.past.slice(-40)); // a client retry, mostly of recent requests
    const command = this.fresh(machine, roll);
    if (command.type === 'Noop' || command.type === 'ExpireSession') return command;
    // Now and then a different request under a spent id (a client bug the table must not answer
    // with another request's result); most entries come from a leader that fingerprints them, some
    // from an older one that does not.
    const reused = this.random() < 0.04 && this.past.length > 0 ? { ...command, requestId: this.pick(this.past.slice(-40)).requestId } : command;
    return this.random() < 0.8 ? withFingerprint(reused) : reused;
  }

  private fresh(machine: LockStateMachine, roll: number): LockCommand {
    if (roll < 0.14) return { type: 'OpenSession', requestId: this.requestId(), ttlMs: this.pick([500, 10_000, 300_000, 499]), clientName: this.pick(['a', 'b', '']), leaderTimeMs: this.timeMs };
    if (roll < 0.165) return { type: 'CloseSession', requestId: this.requestId(), sessionId: this.session(machine) };
    if (roll < 0.19) return { type: 'ExpireSession', sessionId: this.session(machine), leaderTimeMs: this.timeMs };
    if (roll < 0.58) return this.acquire(machine);
    if (roll < 0.66) return this.cancelWait(machine);
    if (roll < 0.84) return this.release(machine);
    if (roll < 0.88) return { type: 'ForceRelease', requestId: this.requestId(), kind: this.pick(kinds), name: this.name() };
    if (roll < 0.96) return this.proclaim(machine);
    return { type: 'Noop' };
  }

  gap(): number {
    return this.random() < 0.2 ? 1 + this.integer(3) : 1;
  }

  private acquire(machine: LockStateMachine): LockCommand {
    const kind = this.pick(kinds);
    return {
      type: 'Acquire',
      requestId: this.requestId(),
      sessionId: this.session(machine),
      kind,
      name: this.name(),
      mode: this.random() < 0.7 ? 'wait' : 'try',
      metadata: this.random() < 0.02 ? 'm'.repeat(1025) : `meta-${this.integer(9)}`,
      value: kind === 'election' ? `value-${this.integer(9)}` : '',
      leaderTimeMs: this.timeMs,
    };
  }

  /** Mostly a waiter that is really queued, sometimes anyone. */
  private cancelWait(machine: LockStateMachine): LockCommand {
    const kind = this.pick(kinds);
    const name = this.name();
    const waiters = name === '' ? [] : (machine.getLock(kind, name)?.waiters ?? []);
    const sessionId = waiters.length > 0 && this.random() < 0.8 ? this.pick(waiters).sessionId : this.session(machine);
    return { type: 'CancelWait', requestId: this.requestId(), sessionId, kind, name };
  }

  private release(machine: LockStateMachine): LockCommand {
    const kind = this.pick(kinds);
    const name = this.name();
    const holder = name === '' ? undefined : machine.getLock(kind, name)?.holder;
    // Mostly the real holder with its token, sometimes a stale or wrong one.
    const sessionId = holder !== undefined && this.random() < 0.8 ? holder.sessionId : this.session(machine);
    const token = holder !== undefined && this.random() < 0.85 ? holder.token : this.integer(200);
    return { type: 'Release', requestId: this.requestId(), sessionId, kind, name, token };
  }

  private proclaim(machine: LockStateMachine): LockCommand {
    const name = this.name();
    const holder = name === '' ? undefined : machine.getLock('election', name)?.holder;
    const sessionId = holder !== undefined && this.random() < 0.8 ? holder.sessionId : this.session(machine);
    return { type: 'Proclaim', requestId: this.requestId(), sessionId, name, token: holder?.token ?? this.integer(200), value: `proclaimed-${this.integer(9)}` };
  }

  /** Mostly a live session; sometimes one that is gone (or never was), to hit SESSION_EXPIRED. */
  private session(machine: LockStateMachine): string {
    const live = machine.listSessions();
    if (live.length > 0 && this.random() < 0.9) return this.pick(live).sessionId;
    return this.pick(this.sessionIds);
  }

  /** Mostly a valid name; now and then the empty one, to hit INVALID_ARGUMENT. */
  private name(): string {
    return this.random() < 0.03 ? '' : this.pick(names);
  }

  private requestId(): string {
    this.requestCount++;
    return `request-${this.requestCount}`;
  }

  private integer(maxExclusive: number): number {
    return Math.floor(this.random() * maxExclusive);
  }

  private pick<Item>(items: readonly Item[]): Item {
    const item = items[this.integer(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
}

interface LoggedEntry {
  readonly index: number;
  readonly command: LockCommand;
}

function randomLog(seed: number, length: number): LoggedEntry[] {
  const generator = new CommandGenerator(seed);
  const machine = new LockStateMachine(tightLimits);
  const log: LoggedEntry[] = [];
  let index = 0;
  for (let step = 0; step < length; step++) {
    index += generator.gap();
    const command = generator.next(machine);
    machine.apply(index, command);
    generator.observe(index, command);
    log.push({ index, command });
  }
  return log;
}

/** Everything a reader can observe, gathered through the public queries. */
function observable(machine: LockStateMachine, requestIds: readonly string[]): unknown {
  return {
    applied: machine.lastAppliedIndex(),
    stats: machine.stats(),
    sessions: machine.listSessions(),
    ttls: [...machine.sessionTtls()],
    locks: kinds.map((kind) => machine.listLocks(kind, '', 1000)),
    lookups: names.flatMap((name) => kinds.map((kind) => machine.getLock(kind, name))),
    dedupe: requestIds.map((requestId) => machine.dedupeLookup(requestId) ?? null),
  };
}

function requestIdsOf(log: readonly LoggedEntry[]): string[] {
  return log.flatMap(({ command }) => ('requestId' in command ? [command.requestId] : []));
}

/** Checks safety from the event stream alone, as a watcher of every lock would see it. */
class EventChecker {
  private readonly holders = new Map<string, { sessionId: string; token: number }>();
  private readonly lastTokens = new Map<string, number>();

  check(index: number, outcome: ApplyOutcome, machine: LockStateMachine): void {
    for (const event of outcome.events) {
      expect(event.index).toBe(index);
      this.checkEvent(event, machine);
    }
    for (const [key, holder] of this.holders) {
      const [kind, name] = key.split('\u0000') as [LockKind, string];
      expect(machine.getLock(kind, name)?.holder).toMatchObject(holder);
    }
    expect(this.holders.size).toBe(machine.stats().locksHeld + machine.stats().elections);
  }

  private checkEvent(event: LockEvent, machine: LockStateMachine): void {
    const key = `${event.kind}\u0000${event.name}`;
    const isHolderEvent = (event.type === 'released' || event.type === 'expired') && event.token !== undefined;
    if (event.type === 'acquired') {
      expect(this.holders.has(key), `mutual exclusion on ${key}`).toBe(false);
      expect(event.token).toBe(event.index);
      expect(event.token ?? 0).toBeGreaterThan(this.lastTokens.get(key) ?? 0);
      expect(machine.getSession(event.sessionId), 'a grant goes to a live session').toBeDefined();
      this.holders.set(key, { sessionId: event.sessionId, token: event.token ?? 0 });
      this.lastTokens.set(key, event.token ?? 0);
    } else if (isHolderEvent) {
      expect(this.holders.get(key)).toEqual({ sessionId: event.sessionId, token: event.token });
      this.holders.delete(key);
    }
  }
}

const seeds = Array.from({ length: 24 }, (_, position) => position + 1);

describe('determinism and snapshots over random command sequences', () => {
  test.each(seeds)('two machines fed the same commands produce identical results, events and snapshots (seed=%i)', (seed) => {
    const log = randomLog(seed, 400);
    const left = new LockStateMachine(tightLimits);
    const right = new LockStateMachine(tightLimits);
    for (const { index, command } of log) {
      expect(right.apply(index, command)).toEqual(left.apply(index, command));
    }
    expect(right.serialize()).toEqual(left.serialize());
    expect(observable(right, requestIdsOf(log))).toEqual(observable(left, requestIdsOf(log)));
  });

  test.each(seeds)('safety holds at every entry: one holder, increasing tokens, live grantees, consistent state (seed=%i)', (seed) => {
    const log = randomLog(seed, 400);
    const machine = new LockStateMachine(tightLimits);
    const checker = new EventChecker();
    for (const { index, command } of log) {
      const outcome = machine.apply(index, command);
      machine.checkInvariants();
      checker.check(index, outcome, machine);
    }
  });

  test.each(seeds)('a machine restored from a snapshot at any point is indistinguishable and applies the rest identically (seed=%i)', (seed) => {
    const log = randomLog(seed, 300);
    const requestIds = requestIdsOf(log);
    const original = new LockStateMachine(tightLimits);
    const cutPoints = new Set([0, 37, 150, 299].map((point) => Math.min(point, log.length)));
    const restored: LockStateMachine[] = [];
    log.forEach(({ index, command }, position) => {
      if (cutPoints.has(position)) {
        // Through JSON, to prove the snapshot is plain data a codec can carry.
        const snapshot = JSON.parse(JSON.stringify(original.serialize())) as LockSnapshot;
        const copy = LockStateMachine.restore(snapshot, tightLimits);
        expect(copy.serialize()).toEqual(original.serialize());
        expect(observable(copy, requestIds)).toEqual(observable(original, requestIds));
        restored.push(copy);
      }
      const expected = original.apply(index, command);
      for (const copy of restored) expect(copy.apply(index, command)).toEqual(expected);
    });
    for (const copy of restored) {
      expect(copy.serialize()).toEqual(original.serialize());
      expect(observable(copy, requestIds)).toEqual(observable(original, requestIds));
    }
  });
});

describe('snapshots', () => {
  test('a fresh machine round-trips to an empty snapshot', () => {
    const machine = new LockStateMachine(defaultLockLimits);
    const snapshot = machine.serialize();
    expect(snapshot).toEqual({ format: 1, appliedIndex: 0, leaderTimeMs: 0, sessions: [], locks: [], dedupe: [] });
    expect(LockStateMachine.restore(snapshot, defaultLockLimits).serialize()).toEqual(snapshot);
  });

  test('a snapshot does not change when the machine it came from moves on', () => {
    const machine = new LockStateMachine(defaultLockLimits);
    machine.apply(1, { type: 'OpenSession', requestId: 'r1', ttlMs: 1000, clientName: 'c', leaderTimeMs: 0 });
    machine.apply(2, { type: 'Acquire', requestId: 'r2', sessionId: '1', kind: 'election', name: 'e', mode: 'wait', metadata: '', value: 'v1', leaderTimeMs: 0 });
    const snapshot = machine.serialize();
    const before = JSON.stringify(snapshot);
    machine.apply(3, { type: 'Proclaim', requestId: 'r3', sessionId: '1', name: 'e', token: 2, value: 'v2' });
    machine.apply(4, { type: 'CloseSession', requestId: 'r4', sessionId: '1' });
    expect(JSON.stringify(snapshot)).toBe(before);
  });

  test('restore refuses a snapshot of an unknown format or with inconsistent references', () => {
    const machine = new LockStateMachine(defaultLockLimits);
    machine.apply(1, { type: 'OpenSession', requestId: 'r1', ttlMs: 1000, clientName: 'c', leaderTimeMs: 0 });
    machine.apply(2, { type: 'Acquire', requestId: 'r2', sessionId: '1', kind: 'lock', name: 'a', mode: 'wait', metadata: '', value: '', leaderTimeMs: 0 });
    const snapshot = machine.serialize();
    expect(() => LockStateMachine.restore({ ...snapshot, format: 2 as 1 }, defaultLockLimits)).toThrow(/format/);
    const orphaned = { ...snapshot, sessions: snapshot.sessions.map((session) => ({ ...session, held: [] })) };
    expect(() => LockStateMachine.restore(orphaned, defaultLockLimits)).toThrow(/invariant violated/);
  });

  test('a restored machine keeps refusing indexes at or below the snapshot index', () => {
    const machine = new LockStateMachine(defaultLockLimits);
    machine.apply(7, { type: 'Noop' });
    const restored = LockStateMachine.restore(machine.serialize(), defaultLockLimits);
    expect(restored.lastAppliedIndex()).toBe(7);
    expect(() => restored.apply(7, { type: 'Noop' })).toThrow(/strictly increase/);
  });
});
