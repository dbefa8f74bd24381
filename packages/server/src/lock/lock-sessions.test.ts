// Unit tests of sessions in LockStateMachine: ids, TTL validation, and what closing or expiring a
// session does to its locks and waits, including the Jepsen etcd lock scenario.

import { describe, expect, test } from 'vitest';
import { codeOf, LockHarness, tokenOf, valueOf } from './lock-harness.js';

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
