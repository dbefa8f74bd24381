// Unit tests of exactly-once (SPEC §3.4) in LockStateMachine and its DedupeTable: a retried request
// id returns the remembered result and applies nothing; a queued wait's result follows its outcome;
// the table is bounded with oldest-first eviction.

import { describe, expect, test } from 'vitest';
import { DedupeTable } from './dedupe-table.js';
import { defaultLockLimits } from './lock-commands.js';
import type { LockCommand } from './lock-commands.js';
import { codeOf, LockHarness, tokenOf, valueOf } from './lock-harness.js';
import type { LockSnapshotPart } from './lock-snapshot.js';
import { LockStateMachine } from './lock-state-machine.js';
import { withFingerprint } from './request-fingerprint.js';
import { failure, success } from './lock-results.js';

describe('retries through the state machine', () => {
  test('a retried OpenSession returns the same session and opens only one', () => {
    const harness = new LockHarness();
    const command: LockCommand = { type: 'OpenSession', requestId: 'open-once', ttlMs: 1000, clientName: 'c', leaderTimeMs: 0 };
    const first = harness.apply(command);
    const retry = harness.apply(command);
    expect(retry.result).toEqual(first.result);
    expect(retry.events).toEqual([]);
    expect(harness.machine.stats().sessions).toBe(1);
  });

  test('a retried Acquire returns the original grant and does not queue the holder behind itself', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const first = harness.acquire(alice, 'a', { requestId: 'acquire-a' });
    const retry = harness.acquire(alice, 'a', { requestId: 'acquire-a' });
    expect(retry.result).toEqual(first.result);
    expect(retry.events).toEqual([]);
    expect(codeOf(harness.acquire(alice, 'a'))).toBe('ALREADY_HELD');
  });

  test('a retried Release after the lock moved on still answers released and releases nothing else', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    harness.acquire(bob, 'a');
    const release: LockCommand = { type: 'Release', requestId: 'release-a', sessionId: alice, kind: 'lock', name: 'a', token };
    const first = harness.apply(release);
    const retry = harness.apply(release);
    expect(valueOf(retry)).toEqual({ released: true });
    expect(retry.result).toBe(first.result);
    expect(retry.events).toEqual([]);
    expect(harness.machine.getLock('lock', 'a')?.holder?.sessionId).toBe(bob);
  });

  test('an error result is remembered too, so a retry answers the same even after the state changed', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    expect(codeOf(harness.acquire(bob, 'a', { mode: 'try', requestId: 'try-a' }))).toBe('LOCK_HELD');
    harness.release(alice, 'a', token);
    const retry = harness.acquire(bob, 'a', { mode: 'try', requestId: 'try-a' });
    expect(codeOf(retry)).toBe('LOCK_HELD');
    expect(harness.machine.getLock('lock', 'a')).toBeUndefined();
  });

  test('a queued wait is remembered as queued, then as acquired with its token once granted', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    const queued = harness.acquire(bob, 'a', { requestId: 'bob-waits' });
    expect(harness.acquire(bob, 'a', { requestId: 'bob-waits' }).result).toEqual(queued.result);
    const released = harness.release(alice, 'a', token);
    const granted = { ok: true, value: { state: 'acquired', kind: 'lock', name: 'a', token: released.index, sessionId: bob } };
    expect(harness.machine.dedupeLookup('bob-waits')).toEqual(granted);
    const retry = harness.acquire(bob, 'a', { requestId: 'bob-waits' });
    expect(retry.result).toEqual(granted);
    expect(retry.events).toEqual([]);
  });

  test('a cancelled wait is remembered as TIMEOUT "wait cancelled"', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(alice, 'a');
    harness.acquire(bob, 'a', { requestId: 'bob-waits' });
    harness.cancelWait(bob, 'a');
    expect(harness.acquire(bob, 'a', { requestId: 'bob-waits' }).result).toEqual({ ok: false, code: 'TIMEOUT', message: 'wait cancelled' });
    expect(harness.machine.getLock('lock', 'a')?.waiters).toEqual([]);
  });

  test('a wait whose session expires or closes is remembered as SESSION_EXPIRED', () => {
    const harness = new LockHarness();
    const holder = harness.open();
    const expiring = harness.open();
    const closing = harness.open();
    harness.acquire(holder, 'a');
    harness.acquire(expiring, 'a', { requestId: 'expiring-waits' });
    harness.acquire(closing, 'a', { requestId: 'closing-waits' });
    harness.expire(expiring);
    harness.close(closing);
    expect(codeOf(harness.acquire(expiring, 'a', { requestId: 'expiring-waits' }))).toBe('SESSION_EXPIRED');
    expect(codeOf(harness.acquire(closing, 'a', { requestId: 'closing-waits' }))).toBe('SESSION_EXPIRED');
  });

  test('a deduplicated entry still advances the applied index', () => {
    const harness = new LockHarness();
    harness.open();
    const retry = harness.apply({ type: 'OpenSession', requestId: 'request-1', ttlMs: 1000, clientName: 'c', leaderTimeMs: 0 });
    expect(harness.machine.lastAppliedIndex()).toBe(retry.index);
  });

  test('the oldest request ids are evicted beyond maxDedupeEntries, and an evicted id applies again', () => {
    const harness = new LockHarness({ maxDedupeEntries: 3 });
    const alice = harness.open(); // request-1
    for (const name of ['a', 'b', 'c']) harness.acquire(alice, name, { requestId: `acquire-${name}` });
    expect(harness.machine.dedupeLookup('request-1')).toBeUndefined();
    expect(harness.machine.dedupeLookup('acquire-a')).toBeDefined();
    harness.acquire(alice, 'd', { requestId: 'acquire-d' });
    expect(harness.machine.dedupeLookup('acquire-a')).toBeUndefined();
    expect(codeOf(harness.acquire(alice, 'a', { requestId: 'acquire-a' }))).toBe('ALREADY_HELD');
  });

  test('a waiter whose dedupe entry was evicted is still granted; its result is simply not remembered', () => {
    const harness = new LockHarness({ maxDedupeEntries: 2 });
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    harness.acquire(bob, 'a', { requestId: 'bob-waits' });
    harness.open();
    harness.open();
    expect(harness.machine.dedupeLookup('bob-waits')).toBeUndefined();
    const released = harness.release(alice, 'a', token);
    expect(released.events.find((event) => event.type === 'acquired')).toMatchObject({ sessionId: bob, requestId: 'bob-waits' });
    expect(harness.machine.dedupeLookup('bob-waits')).toBeUndefined();
  });

  test('a later reuse of an evicted request id is not overwritten when the old waiter is granted', () => {
    const harness = new LockHarness({ maxDedupeEntries: 2 });
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    harness.acquire(bob, 'a', { requestId: 'reused' });
    harness.open();
    harness.open(); // evicts 'reused'
    const reuse = harness.apply({ type: 'OpenSession', requestId: 'reused', ttlMs: 1000, clientName: 'c', leaderTimeMs: 0 });
    harness.release(alice, 'a', token);
    expect(harness.machine.dedupeLookup('reused')).toEqual(reuse.result);
  });
});

describe('a different request under a spent request id', () => {
  const reusedMessage = /^request id "spent" was already used by a different request/;

  test('is refused INVALID_ARGUMENT and changes nothing, whatever the first request answered', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    // The first request under the id failed: before fingerprints, any request reusing the id was
    // answered with this NOT_HOLDER, and nothing above the state machine could tell.
    const first = harness.apply({ type: 'Release', requestId: 'spent', sessionId: bob, kind: 'lock', name: 'a', token });
    expect(codeOf(first)).toBe('NOT_HOLDER');
    const before = harness.machine.serialize();
    const reuses: LockCommand[] = [
      { type: 'OpenSession', requestId: 'spent', ttlMs: 1000, clientName: 'c', leaderTimeMs: 0 },
      { type: 'Acquire', requestId: 'spent', sessionId: bob, kind: 'lock', name: 'b', mode: 'try', metadata: '', value: '', leaderTimeMs: 0 },
      { type: 'Release', requestId: 'spent', sessionId: alice, kind: 'lock', name: 'a', token },
      { type: 'Release', requestId: 'spent', sessionId: bob, kind: 'lock', name: 'a', token: token + 1 },
      { type: 'ForceRelease', requestId: 'spent', kind: 'lock', name: 'a' },
      { type: 'CloseSession', requestId: 'spent', sessionId: alice },
    ];
    for (const command of reuses) {
      const reused = harness.apply(command);
      expect(reused.result).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT', message: expect.stringMatching(reusedMessage) });
      expect(reused.events).toEqual([]);
    }
    expect({ ...harness.machine.serialize(), appliedIndex: before.appliedIndex }).toEqual(before); // only the applied index moved
    // The request itself, retried, still gets its own answer.
    expect(harness.apply({ type: 'Release', requestId: 'spent', sessionId: bob, kind: 'lock', name: 'a', token }).result).toEqual(first.result);
  });

  test("a retry is still the same request though the leader stamped it anew (leaderTimeMs) or its lock's metadata differs", () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const first = harness.acquire(alice, 'a', { requestId: 'spent', metadata: 'first attempt' });
    harness.leaderTimeMs += 5_000;
    expect(harness.acquire(alice, 'a', { requestId: 'spent', metadata: 'second attempt' }).result).toEqual(first.result);
  });

  test('another session waiting under a queued wait\'s id is refused, and the grant goes to the waiter that queued', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const carol = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    expect(valueOf(harness.acquire(bob, 'a', { requestId: 'spent' }))).toMatchObject({ state: 'queued' });
    expect(codeOf(harness.acquire(carol, 'a', { requestId: 'spent' }))).toBe('INVALID_ARGUMENT');
    const released = harness.release(alice, 'a', token);
    expect(released.events.find((event) => event.type === 'acquired')).toMatchObject({ sessionId: bob, requestId: 'spent' });
    expect(harness.machine.getLock('lock', 'a')?.waiters).toEqual([]);
  });

  test("entries an older leader proposed carry no fingerprint and answer any reuse by id, as they did, on every member", () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const first = harness.applyAsProposed({ type: 'Acquire', requestId: 'spent', sessionId: alice, kind: 'lock', name: 'a', mode: 'try', metadata: '', value: '', leaderTimeMs: 0 });
    expect(valueOf(first)).toMatchObject({ state: 'acquired' });
    // A new leader's reuse (fingerprinted) of the unfingerprinted entry's id: the old answer.
    expect(harness.acquire(alice, 'b', { requestId: 'spent', mode: 'try' }).result).toEqual(first.result);
    // And a member that restarts from a snapshot replays the same entries to the same table.
    const replayed = LockStateMachine.restore(harness.machine.serialize(), defaultLockLimits);
    expect(replayed.dedupeLookup('spent')).toEqual(first.result);
    expect(replayed.serialize()).toEqual(harness.machine.serialize());
  });

  test('fingerprints survive a snapshot; entries of a snapshot written before them answer any reuse, as they did', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    harness.acquire(alice, 'a', { requestId: 'spent' });
    const parts: LockSnapshotPart[] = [];
    expect(harness.machine.beginSnapshot().step(Number.MAX_SAFE_INTEGER, (part) => parts.push(part))).toBe(true);
    const restore = (snapshotParts: readonly LockSnapshotPart[]) => {
      const loader = LockStateMachine.beginRestore(defaultLockLimits);
      for (const part of snapshotParts) loader.add(part);
      return loader.finish();
    };
    const reuse = withFingerprint<LockCommand & { type: 'Acquire' }>({ type: 'Acquire', requestId: 'spent', sessionId: alice, kind: 'lock', name: 'b', mode: 'try', metadata: '', value: '', leaderTimeMs: 0 });
    const index = harness.machine.lastAppliedIndex() + 1;
    const restored = restore(parts);
    expect(restored.serialize()).toEqual(harness.machine.serialize());
    expect(restored.apply(index, reuse).result).toMatchObject({ ok: false, code: 'INVALID_ARGUMENT' });

    const withoutFingerprints = parts.map((part) => (part.part === 'dedupe' ? { part: part.part, requestIds: part.requestIds, indexes: part.indexes, results: part.results } : part));
    const older = restore(withoutFingerprints);
    expect(older.dedupeLookup('spent')).toEqual(harness.machine.dedupeLookup('spent'));
    expect(older.apply(index, reuse).result).toEqual(harness.machine.dedupeLookup('spent'));
  });
});

describe('DedupeTable', () => {
  const queued = success({ state: 'queued', kind: 'lock', name: 'a', position: 1 });

  test('lookup returns what record stored, and unknown ids are undefined', () => {
    const table = new DedupeTable(10);
    table.record('r1', 1, 7, success({ closed: true }));
    expect(table.lookup('r1')).toEqual({ ok: true, value: { closed: true } });
    expect(table.lookup('r2')).toBeUndefined();
  });

  test('recording the same id twice or out of index order is a programmer error', () => {
    const table = new DedupeTable(10);
    table.record('r1', 5, 7, success({ closed: true }));
    expect(() => table.record('r1', 6, 7, success({ closed: true }))).toThrow(/recorded once/);
    expect(() => table.record('r2', 5, 7, success({ closed: true }))).toThrow(/increasing index/);
  });

  test('eviction removes the oldest index first, even after a result was resolved', () => {
    const table = new DedupeTable(2);
    table.record('old', 1, 7, queued);
    table.record('middle', 2, 7, success({ closed: true }));
    expect(table.resolve('old', 1, failure('TIMEOUT', 'wait cancelled'))).toBe(true);
    table.record('new', 3, 7, success({ closed: true }));
    expect(table.serialize().map((entry) => entry.requestId)).toEqual(['middle', 'new']);
  });

  test('resolve only replaces the entry recorded at the given index', () => {
    const table = new DedupeTable(4);
    table.record('r', 7, 7, queued);
    expect(table.resolve('r', 6, failure('TIMEOUT', 'x'))).toBe(false);
    expect(table.resolve('missing', 7, failure('TIMEOUT', 'x'))).toBe(false);
    expect(table.lookup('r')).toEqual(queued);
  });

  test('restore keeps the order and evicts down to a smaller bound', () => {
    const table = new DedupeTable(5);
    for (let index = 1; index <= 4; index++) table.record(`r${index}`, index, 7, success({ expired: true }));
    const restored = DedupeTable.restore(table.serialize(), 2);
    expect(restored.serialize()).toEqual(table.serialize().slice(2));
    restored.record('r5', 5, 7, success({ expired: false }));
    expect(restored.serialize().map((entry) => entry.requestId)).toEqual(['r4', 'r5']);
  });

  test('results are frozen, so a caller cannot change what a retry will see', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const acquired = harness.acquire(alice, 'a', { requestId: 'frozen' });
    expect(Object.isFrozen(acquired.result)).toBe(true);
    expect(Object.isFrozen(valueOf(acquired))).toBe(true);
  });
});
