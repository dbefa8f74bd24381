// Unit tests of sessions in LockStateMachine: ids, TTL validation, and what closing or expiring a
// session does to its locks and waits, including the Jepsen etcd lock scenario.

import { describe, expect, test } from 'vitest';
import { codeOf, LockHarness, tokenOf, valueOf } from './lock-harness.js';
import { defaultLockLimits } from './lock-commands.js';
import { LockStateMachine } from './lock-state-machine.js';
import { withFingerprint } from './request-fingerprint.js';

describe('opening sessions', () => {
  test('the session id is the index of the OpenSession entry, with its TTL and creation index', () => {
    const harness = new LockHarness();
    harness.skipIndexes(9);
    const opened = harness.apply({ type: 'OpenSession', requestId: 'r1', ttlMs: 2_500, clientName: 'billing-worker-3', leaderTimeMs: 42 });
    expect(valueOf(opened)).toEqual({ sessionId: '10', ttlMs: 2_500, createdIndex: 10 });
    expect(harness.machine.getSession('10')).toEqual({ sessionId: '10', ttlMs: 2_500, clientName: 'billing-worker-3', createdIndex: 10, createdTimeMs: 42, heldLocks: 0, waits: 0 });
  });

  test.each([499, 300_001, 1000.5, Number.NaN, -1])('a TTL of %d ms is INVALID_ARGUMENT', (ttlMs) => {
    const harness = new LockHarness();
    const opened = harness.apply({ type: 'OpenSession', requestId: 'r', ttlMs, clientName: 'c', leaderTimeMs: 0 });
    expect(codeOf(opened)).toBe('INVALID_ARGUMENT');
    expect(harness.machine.stats().sessions).toBe(0);
  });

  test.each([500, 10_000, 300_000])('a TTL of %d ms is accepted', (ttlMs) => {
    const harness = new LockHarness();
    expect(harness.machine.getSession(harness.open('c', ttlMs))?.ttlMs).toBe(ttlMs);
  });

  test('a client name with control characters or over 256 bytes is INVALID_ARGUMENT; empty is fine', () => {
    const harness = new LockHarness();
    const open = (clientName: string) => codeOf(harness.apply({ type: 'OpenSession', requestId: harness.nextRequestId(), ttlMs: 1000, clientName, leaderTimeMs: 0 }));
    expect(open('bad\nname')).toBe('INVALID_ARGUMENT');
    expect(open('n'.repeat(257))).toBe('INVALID_ARGUMENT');
    expect(open('')).toBe('ok');
  });

  test('listSessions and sessionTtls list live sessions in creation order', () => {
    const harness = new LockHarness();
    const first = harness.open('a', 1000);
    const second = harness.open('b', 2000);
    const third = harness.open('c', 3000);
    harness.close(second);
    expect(harness.machine.listSessions().map((session) => session.sessionId)).toEqual([first, third]);
    expect([...harness.machine.sessionTtls()]).toEqual([
      [first, 1000],
      [third, 3000],
    ]);
  });
});

describe('closing and expiring sessions', () => {
  test('closing a session releases every lock it holds, each to its next waiter, and removes its waits', () => {
    const harness = new LockHarness();
    const alice = harness.open('alice');
    const bob = harness.open('bob');
    const carol = harness.open('carol');
    harness.acquire(alice, 'a');
    harness.acquire(alice, 'b');
    harness.acquire(bob, 'c');
    harness.acquire(bob, 'a', { requestId: 'bob-a' });
    harness.acquire(alice, 'c', { requestId: 'alice-c' });
    harness.campaign(carol, 'e', 'carol');
    harness.campaign(alice, 'e', 'alice', 'alice-e');
    const closed = harness.close(alice);
    expect(valueOf(closed)).toEqual({ closed: true });
    expect(closed.events.map((event) => [event.type, event.kind, event.name, event.sessionId])).toEqual([
      ['cancelled', 'lock', 'c', alice],
      ['cancelled', 'election', 'e', alice],
      ['released', 'lock', 'a', alice],
      ['acquired', 'lock', 'a', bob],
      ['released', 'lock', 'b', alice],
    ]);
    expect(harness.machine.getSession(alice)).toBeUndefined();
    expect(harness.machine.getLock('lock', 'a')?.holder).toMatchObject({ sessionId: bob, token: closed.index });
    expect(harness.machine.getLock('lock', 'b')).toBeUndefined();
    expect(harness.machine.getLock('lock', 'c')?.waiters).toEqual([]);
    expect(harness.machine.getLock('election', 'e')?.waiters).toEqual([]);
    expect(harness.machine.dedupeLookup('alice-c')).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    harness.machine.checkInvariants();
  });

  test('expiring a session reports its locks and waits as expired', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    harness.acquire(bob, 'b');
    harness.acquire(alice, 'b', { requestId: 'alice-b' });
    const expired = harness.expire(alice);
    expect(valueOf(expired)).toEqual({ expired: true });
    expect(expired.events).toEqual([
      { index: expired.index, type: 'expired', kind: 'lock', name: 'b', sessionId: alice, requestId: 'alice-b' },
      { index: expired.index, type: 'expired', kind: 'lock', name: 'a', sessionId: alice, token },
    ]);
    expect(harness.machine.stats()).toEqual({ sessions: 1, locksHeld: 1, waiters: 0, elections: 0 });
  });

  test('expiring a session that is already gone reports expired false and changes nothing', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    harness.expire(alice);
    const again = harness.expire(alice);
    expect(valueOf(again)).toEqual({ expired: false });
    expect(again.events).toEqual([]);
    expect(valueOf(harness.expire('12345'))).toEqual({ expired: false });
  });

  test('closing an unknown session is SESSION_EXPIRED', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    harness.expire(alice);
    expect(codeOf(harness.close(alice))).toBe('SESSION_EXPIRED');
  });

  test('a closed or expired session can no longer acquire, release or proclaim', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    const electionToken = tokenOf(harness.campaign(alice, 'e', 'v'));
    harness.expire(alice);
    expect(codeOf(harness.acquire(alice, 'a'))).toBe('SESSION_EXPIRED');
    expect(codeOf(harness.release(alice, 'a', token))).toBe('SESSION_EXPIRED');
    expect(codeOf(harness.proclaim(alice, 'e', electionToken, 'v2'))).toBe('SESSION_EXPIRED');
    expect(codeOf(harness.cancelWait(alice, 'a'))).toBe('SESSION_EXPIRED');
  });

  test('Jepsen etcd lock: when waiter A expires and then the holder releases, B gets the lock, never A', () => {
    // etcd's lock recipe granted a lock to a waiter whose lease had lapsed (jepsen.io etcd 3.4.3).
    const harness = new LockHarness();
    const holder = harness.open('holder');
    const waiterA = harness.open('A');
    const waiterB = harness.open('B');
    const token = tokenOf(harness.acquire(holder, 'resource'));
    harness.acquire(waiterA, 'resource', { requestId: 'A-wants' });
    harness.acquire(waiterB, 'resource', { requestId: 'B-wants' });
    const expired = harness.expire(waiterA);
    expect(expired.events.map((event) => event.type)).toEqual(['expired']);
    expect(harness.machine.getLock('lock', 'resource')?.holder?.sessionId).toBe(holder);
    const released = harness.release(holder, 'resource', token);
    expect(released.events.filter((event) => event.type === 'acquired').map((event) => event.sessionId)).toEqual([waiterB]);
    expect(harness.machine.getLock('lock', 'resource')?.holder?.sessionId).toBe(waiterB);
    expect(harness.machine.dedupeLookup('A-wants')).toMatchObject({ ok: false, code: 'SESSION_EXPIRED' });
    expect(harness.machine.dedupeLookup('B-wants')).toMatchObject({ ok: true, value: { state: 'acquired', token: released.index } });
  });

  test('a session that both holds a lock and waits on another never receives a lock while ending', () => {
    // Alice holds x and waits for y; Bob holds y and waits for x. Expiring Alice must not hand x
    // to anyone dead, and Bob, alive, gets x.
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(alice, 'x');
    harness.acquire(bob, 'y');
    harness.acquire(alice, 'y');
    harness.acquire(bob, 'x');
    const expired = harness.expire(alice);
    expect(expired.events.map((event) => [event.type, event.name, event.sessionId])).toEqual([
      ['expired', 'y', alice],
      ['expired', 'x', alice],
      ['acquired', 'x', bob],
    ]);
    expect(harness.machine.getSession(bob)).toMatchObject({ heldLocks: 2, waits: 0 });
    harness.machine.checkInvariants();
  });

  test('expiring a holder whose next waiters are all alive promotes only the first of them', () => {
    const harness = new LockHarness();
    const sessions = Array.from({ length: 4 }, () => harness.open());
    for (const session of sessions) harness.acquire(session, 'chain');
    const expired = harness.expire(sessions[0] ?? '');
    expect(harness.machine.getLock('lock', 'chain')).toMatchObject({ holder: { sessionId: sessions[1], token: expired.index } });
    expect(harness.machine.getLock('lock', 'chain')?.waiters.map((waiter) => waiter.sessionId)).toEqual(sessions.slice(2));
  });

  test('getSession counts held locks and waits', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(bob, 'w');
    harness.acquire(alice, 'a');
    harness.acquire(alice, 'b');
    harness.acquire(alice, 'w');
    expect(harness.machine.getSession(alice)).toMatchObject({ heldLocks: 2, waits: 1 });
  });
});

describe('ending a session that holds many locks, in parts', () => {
  /** Two identical machines: alice holds `count` locks and elections, others wait on some, and alice waits too. */
  function twins(count: number): [LockHarness, LockHarness, string] {
    const made = [new LockHarness(), new LockHarness()] as const;
    let alice = '';
    for (const harness of made) {
      alice = harness.open('alice');
      const bob = harness.open('bob');
      const carol = harness.open('carol');
      harness.acquire(carol, 'carols');
      for (let position = 0; position < count; position++) {
        harness.acquire(alice, `lock-${position}`, { kind: position % 5 === 0 ? 'election' : 'lock' });
        // Every seventh lock has waiters: its release in a later part hands it on.
        if (position % 7 === 3) {
          harness.acquire(bob, `lock-${position}`);
          harness.acquire(carol, `lock-${position}`);
        }
      }
      harness.acquire(alice, 'carols');
    }
    return [made[0], made[1], alice];
  }

  test.each(['CloseSession', 'ExpireSession'] as const)('%s applied in parts leaves the state and events of applying it at once, and a valid state between parts', (type) => {
    const [atOnce, inParts, alice] = twins(100);
    const command = type === 'CloseSession' ? ({ type, requestId: 'close-alice', sessionId: alice } as const) : ({ type, sessionId: alice, leaderTimeMs: 5 } as const);
    const whole = atOnce.apply(command);
    const index = whole.index;
    const first = inParts.machine.apply(index, type === 'CloseSession' ? withFingerprint({ type, requestId: 'close-alice', sessionId: alice }) : command, 9);
    expect(first).toBeUndefined();
    let parts = 1;
    let outcome = first;
    while (outcome === undefined) {
      // Between parts: the machine is consistent, alice still listed with what she has left, and her waits gone.
      expect(inParts.machine.applyUnfinished()).toBe(true);
      inParts.machine.checkInvariants();
      const left = inParts.machine.getSession(alice);
      expect(left?.heldLocks).toBe(100 - 9 * parts);
      expect(left?.waits).toBe(0);
      outcome = inParts.machine.continueApply(9);
      parts++;
    }
    expect(parts).toBe(12);
    expect(inParts.machine.applyUnfinished()).toBe(false);
    expect(outcome).toEqual({ result: whole.result, events: whole.events });
    expect(inParts.machine.serialize()).toEqual(atOnce.machine.serialize());
    inParts.machine.checkInvariants();
    expect(inParts.machine.getSession(alice)).toBeUndefined();
    // The hand-overs went to the first waiters, with the ending entry's index as their token.
    expect(inParts.machine.getLock('lock', 'lock-3')).toMatchObject({ holder: { token: index } });
    if (type === 'CloseSession') expect(inParts.machine.dedupeLookup('close-alice')).toEqual(whole.result);
  });

  test('a restored session, whose held list is in name order, ends in parts in grant order, as the original does', () => {
    const [original, , alice] = twins(100);
    const restored = LockStateMachine.restore(original.machine.serialize(), defaultLockLimits);
    restored.checkInvariants();
    const whole = original.expire(alice);
    let outcome = restored.apply(whole.index, { type: 'ExpireSession', sessionId: alice, leaderTimeMs: original.leaderTimeMs }, 16);
    while (outcome === undefined) outcome = restored.continueApply(16);
    expect(outcome).toEqual({ result: whole.result, events: whole.events });
    // Grant order, not name order: lock-0, lock-1, lock-2 ... rather than lock-0, lock-1, lock-10 ...
    expect(outcome.events.filter((event) => event.type === 'expired' && event.requestId === undefined).slice(0, 12).map((event) => event.name)).toEqual(Array.from({ length: 12 }, (_, position) => `lock-${position}`));
    expect(restored.serialize()).toEqual(original.machine.serialize());
    restored.checkInvariants();
  });

  test('a session with no more locks than one part ends in the one apply() call', () => {
    const [, harness, alice] = twins(20);
    const outcome = harness.machine.apply(1_000_000, { type: 'ExpireSession', sessionId: alice, leaderTimeMs: 5 }, 20);
    expect(outcome?.result).toEqual({ ok: true, value: { expired: true } });
    expect(harness.machine.applyUnfinished()).toBe(false);
  });

  test('nothing else applies, and no snapshot is taken, until the unfinished entry is finished', () => {
    const [, harness, alice] = twins(30);
    expect(harness.machine.apply(1_000_000, { type: 'ExpireSession', sessionId: alice, leaderTimeMs: 5 }, 10)).toBeUndefined();
    expect(() => harness.machine.apply(1_000_001, { type: 'Noop' })).toThrow(/only once the entry before it is finished/);
    expect(() => harness.machine.beginSnapshot()).toThrow(/after a whole entry/);
    expect(() => harness.machine.serialize()).toThrow(/after a whole entry/);
    while (harness.machine.continueApply(10) === undefined);
    expect(harness.machine.apply(1_000_001, { type: 'Noop' })).toEqual({ result: undefined, events: [] });
  });
});
