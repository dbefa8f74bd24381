// Unit tests of LockStateMachine for plain locks: mutual exclusion, FIFO hand-over, fencing tokens,
// try vs wait, the holder checks, cancel, force release, argument validation, limits and queries.
// Sessions, elections, dedupe and determinism have their own files.

import { describe, expect, test } from 'vitest';
import { defaultLockLimits } from './lock-commands.js';
import { codeOf, LockHarness, tokenOf, valueOf } from './lock-harness.js';
import { LockStateMachine } from './lock-state-machine.js';

describe('mutual exclusion and FIFO', () => {
  test('a free lock is granted at once and a second session queues behind the holder', () => {
    const harness = new LockHarness();
    const alice = harness.open('alice');
    const bob = harness.open('bob');
    const first = harness.acquire(alice, 'orders/42', { metadata: 'alice pid 7' });
    const second = harness.acquire(bob, 'orders/42');
    expect(valueOf(first)).toEqual({ state: 'acquired', kind: 'lock', name: 'orders/42', token: first.index, sessionId: alice });
    expect(valueOf(second)).toEqual({ state: 'queued', kind: 'lock', name: 'orders/42', position: 1 });
    expect(harness.machine.getLock('lock', 'orders/42')?.holder?.sessionId).toBe(alice);
    harness.machine.checkInvariants();
  });

  test('releasing hands the lock to waiters in arrival order', () => {
    const harness = new LockHarness();
    const [holder, first, second, third] = ['h', 'a', 'b', 'c'].map((name) => harness.open(name)) as [string, string, string, string];
    let token = tokenOf(harness.acquire(holder, 'jobs'));
    const queued = [first, second, third].map((session) => valueOf(harness.acquire(session, 'jobs')));
    expect(queued.map((value) => ('position' in value ? value.position : 0))).toEqual([1, 2, 3]);
    const grantedOrder: string[] = [];
    for (const current of [holder, first, second]) {
      const released = harness.release(current, 'jobs', token);
      const acquired = released.events.find((event) => event.type === 'acquired');
      expect(acquired).toBeDefined();
      grantedOrder.push(acquired?.sessionId ?? '');
      token = acquired?.token ?? 0;
      expect(harness.machine.getLock('lock', 'jobs')?.holder?.sessionId).toBe(acquired?.sessionId);
    }
    expect(grantedOrder).toEqual([first, second, third]);
    harness.release(third, 'jobs', token);
    expect(harness.machine.getLock('lock', 'jobs')).toBeUndefined();
  });

  test('a release emits released then acquired, with the waiter request id on the grant', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a', { metadata: 'm-alice' }));
    harness.acquire(bob, 'a', { requestId: 'bob-wants-a', metadata: 'm-bob' });
    const released = harness.release(alice, 'a', token);
    expect(released.events).toEqual([
      { index: released.index, type: 'released', kind: 'lock', name: 'a', sessionId: alice, token },
      { index: released.index, type: 'acquired', kind: 'lock', name: 'a', sessionId: bob, token: released.index, requestId: 'bob-wants-a', metadata: 'm-bob' },
    ]);
  });

  test('acquire and queue emit acquired and queued events with metadata', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const granted = harness.acquire(alice, 'x', { requestId: 'r-a', metadata: 'meta-a' });
    const queued = harness.acquire(bob, 'x', { requestId: 'r-b', metadata: 'meta-b' });
    expect(granted.events).toEqual([{ index: granted.index, type: 'acquired', kind: 'lock', name: 'x', sessionId: alice, token: granted.index, requestId: 'r-a', metadata: 'meta-a' }]);
    expect(queued.events).toEqual([{ index: queued.index, type: 'queued', kind: 'lock', name: 'x', sessionId: bob, requestId: 'r-b', metadata: 'meta-b' }]);
  });

  test('different names and kinds are independent locks', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(alice, 'shared');
    expect(codeOf(harness.acquire(bob, 'other', { mode: 'try' }))).toBe('ok');
    expect(codeOf(harness.acquire(bob, 'shared', { kind: 'election', mode: 'try' }))).toBe('ok');
    expect(harness.machine.stats()).toEqual({ sessions: 2, locksHeld: 2, waiters: 0, elections: 1 });
  });
});

describe('fencing tokens', () => {
  test('the token is the index of the entry that granted the lock, for immediate and promoted grants', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.skipIndexes(5);
    const granted = harness.acquire(alice, 'r');
    expect(tokenOf(granted)).toBe(granted.index);
    harness.acquire(bob, 'r');
    harness.skipIndexes(3);
    const released = harness.release(alice, 'r', granted.index);
    expect(harness.machine.getLock('lock', 'r')?.holder).toMatchObject({ sessionId: bob, token: released.index, sinceIndex: released.index });
  });

  test('tokens of one lock strictly increase across releases, force releases, expiries and re-creation', () => {
    const harness = new LockHarness();
    const sessions = Array.from({ length: 6 }, (_, position) => harness.open(`s${position}`));
    const tokens: number[] = [];
    const holderToken = () => harness.machine.getLock('lock', 'fenced')?.holder?.token ?? 0;
    tokens.push(tokenOf(harness.acquire(sessions[0] ?? '', 'fenced')));
    for (const session of sessions.slice(1)) harness.acquire(session, 'fenced');
    harness.release(sessions[0] ?? '', 'fenced', holderToken());
    tokens.push(holderToken());
    harness.forceRelease('fenced');
    tokens.push(holderToken());
    harness.expire(sessions[2] ?? '');
    tokens.push(holderToken());
    harness.close(sessions[3] ?? '');
    tokens.push(holderToken());
    harness.release(sessions[4] ?? '', 'fenced', holderToken());
    tokens.push(holderToken());
    harness.release(sessions[5] ?? '', 'fenced', holderToken());
    expect(harness.machine.getLock('lock', 'fenced')).toBeUndefined();
    tokens.push(tokenOf(harness.acquire(sessions[5] ?? '', 'fenced')));
    for (let position = 1; position < tokens.length; position++) expect(tokens[position]).toBeGreaterThan(tokens[position - 1] ?? Infinity);
  });

  test('apply refuses an index that does not increase', () => {
    const machine = new LockStateMachine(defaultLockLimits);
    machine.apply(3, { type: 'Noop' });
    expect(() => machine.apply(3, { type: 'Noop' })).toThrow(/strictly increase/);
    expect(() => machine.apply(2, { type: 'Noop' })).toThrow(/strictly increase/);
    expect(machine.lastAppliedIndex()).toBe(3);
  });

  test('a noop only advances the applied index', () => {
    const machine = new LockStateMachine(defaultLockLimits);
    expect(machine.apply(1, { type: 'Noop' })).toEqual({ result: undefined, events: [] });
    expect(machine.lastAppliedIndex()).toBe(1);
    expect(machine.stats()).toEqual({ sessions: 0, locksHeld: 0, waiters: 0, elections: 0 });
  });
});

describe('try and wait', () => {
  test('try on a lock held by another session answers LOCK_HELD and does not queue', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(alice, 'a');
    const attempt = harness.acquire(bob, 'a', { mode: 'try' });
    expect(codeOf(attempt)).toBe('LOCK_HELD');
    expect(attempt.events).toEqual([]);
    expect(harness.machine.getLock('lock', 'a')?.waiters).toEqual([]);
  });

  test('try on a free lock acquires it', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const attempt = harness.acquire(alice, 'a', { mode: 'try' });
    expect(tokenOf(attempt)).toBe(attempt.index);
  });

  test('asking again for a held lock is ALREADY_HELD, in either mode', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    harness.acquire(alice, 'a');
    expect(codeOf(harness.acquire(alice, 'a'))).toBe('ALREADY_HELD');
    expect(codeOf(harness.acquire(alice, 'a', { mode: 'try' }))).toBe('ALREADY_HELD');
  });

  test('asking again while already waiting is ALREADY_HELD and does not queue twice', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(alice, 'a');
    harness.acquire(bob, 'a');
    expect(codeOf(harness.acquire(bob, 'a'))).toBe('ALREADY_HELD');
    expect(harness.machine.getLock('lock', 'a')?.waiters).toHaveLength(1);
  });
});

describe('release', () => {
  test('a wrong token is NOT_HOLDER and leaves the holder in place', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    const attempt = harness.release(alice, 'a', token + 1);
    expect(codeOf(attempt)).toBe('NOT_HOLDER');
    expect(attempt.events).toEqual([]);
    expect(harness.machine.getLock('lock', 'a')?.holder?.token).toBe(token);
  });

  test('a session that does not hold the lock gets NOT_HOLDER, even with the right token', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    harness.acquire(bob, 'a');
    expect(codeOf(harness.release(bob, 'a', token))).toBe('NOT_HOLDER');
    expect(codeOf(harness.release(bob, 'missing', token))).toBe('NOT_HOLDER');
  });

  test('a stale holder cannot release with its old token after the lock moved on', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const oldToken = tokenOf(harness.acquire(alice, 'a'));
    harness.forceRelease('a');
    harness.acquire(alice, 'a', { mode: 'try' });
    harness.acquire(bob, 'a');
    expect(codeOf(harness.release(alice, 'a', oldToken))).toBe('NOT_HOLDER');
  });

  test('release by an unknown session is SESSION_EXPIRED', () => {
    const harness = new LockHarness();
    expect(codeOf(harness.release('999', 'a', 1))).toBe('SESSION_EXPIRED');
  });
});

describe('force release', () => {
  test('force release promotes the next waiter and names the previous holder', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'a'));
    harness.acquire(bob, 'a', { requestId: 'bob-a' });
    const forced = harness.forceRelease('a');
    expect(valueOf(forced)).toEqual({ released: true, previousSessionId: alice });
    expect(forced.events.map((event) => [event.type, event.sessionId])).toEqual([
      ['released', alice],
      ['acquired', bob],
    ]);
    expect(forced.events[0]?.token).toBe(token);
    expect(harness.machine.getLock('lock', 'a')?.holder).toMatchObject({ sessionId: bob, token: forced.index });
    expect(harness.machine.getSession(alice)?.heldLocks).toBe(0);
  });

  test('force release of a free lock reports nothing released', () => {
    const harness = new LockHarness();
    const forced = harness.forceRelease('nobody/holds/this');
    expect(valueOf(forced)).toEqual({ released: false });
    expect(forced.events).toEqual([]);
  });
});

describe('cancel wait', () => {
  test('cancel removes the waiter, emits cancelled with its request id, and keeps the others in order', () => {
    const harness = new LockHarness();
    const [holder, first, second, third] = ['h', 'a', 'b', 'c'].map((name) => harness.open(name)) as [string, string, string, string];
    harness.acquire(holder, 'q');
    harness.acquire(first, 'q');
    harness.acquire(second, 'q', { requestId: 'second-wants-q' });
    harness.acquire(third, 'q');
    const cancelled = harness.cancelWait(second, 'q');
    expect(valueOf(cancelled)).toEqual({ cancelled: true });
    expect(cancelled.events).toEqual([{ index: cancelled.index, type: 'cancelled', kind: 'lock', name: 'q', sessionId: second, requestId: 'second-wants-q' }]);
    expect(harness.machine.getLock('lock', 'q')?.waiters.map((waiter) => waiter.sessionId)).toEqual([first, third]);
    expect(harness.machine.getSession(second)?.waits).toBe(0);
    expect(harness.machine.stats().waiters).toBe(2);
  });

  test('cancel when not waiting answers cancelled false, also when the grant won the race', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const token = tokenOf(harness.acquire(alice, 'q'));
    expect(valueOf(harness.cancelWait(bob, 'q'))).toEqual({ cancelled: false });
    harness.acquire(bob, 'q');
    harness.release(alice, 'q', token);
    const late = harness.cancelWait(bob, 'q');
    expect(valueOf(late)).toEqual({ cancelled: false });
    expect(late.events).toEqual([]);
    expect(harness.machine.getLock('lock', 'q')?.holder?.sessionId).toBe(bob);
  });

  test('cancel by an unknown session is SESSION_EXPIRED', () => {
    const harness = new LockHarness();
    expect(codeOf(harness.cancelWait('42', 'q'))).toBe('SESSION_EXPIRED');
  });

  test('a cancelled waiter is never granted', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    const carol = harness.open();
    const token = tokenOf(harness.acquire(alice, 'q'));
    harness.acquire(bob, 'q');
    harness.acquire(carol, 'q');
    harness.cancelWait(bob, 'q');
    harness.release(alice, 'q', token);
    expect(harness.machine.getLock('lock', 'q')?.holder?.sessionId).toBe(carol);
  });
});

describe('validation', () => {
  test.each([
    ['empty', ''],
    ['257 bytes', 'x'.repeat(257)],
    ['129 two-byte characters (258 bytes)', 'é'.repeat(129)],
    ['a NUL', 'a\u0000b'],
    ['a newline', 'a\nb'],
    ['a unit separator', 'a\u001fb'],
    ['a DEL', 'a\u007fb'],
    ['a lone surrogate', 'a\ud800b'],
  ])('a name with %s is INVALID_ARGUMENT on every lock command', (_label, name) => {
    const harness = new LockHarness();
    const alice = harness.open();
    expect(codeOf(harness.acquire(alice, name))).toBe('INVALID_ARGUMENT');
    expect(codeOf(harness.acquire(alice, name, { kind: 'election', value: 'v' }))).toBe('INVALID_ARGUMENT');
    expect(codeOf(harness.release(alice, name, 1))).toBe('INVALID_ARGUMENT');
    expect(codeOf(harness.cancelWait(alice, name))).toBe('INVALID_ARGUMENT');
    expect(codeOf(harness.forceRelease(name))).toBe('INVALID_ARGUMENT');
    expect(codeOf(harness.proclaim(alice, name, 1, 'v'))).toBe('INVALID_ARGUMENT');
    expect(harness.machine.stats().locksHeld).toBe(0);
  });

  test.each([
    ['one byte', 'a'],
    ['256 bytes', 'x'.repeat(256)],
    ['64 four-byte emoji (256 bytes)', '🔒'.repeat(64)],
    ['slashes and spaces', 'orders/eu west/42'],
  ])('a name of %s is accepted', (_label, name) => {
    const harness = new LockHarness();
    const alice = harness.open();
    expect(codeOf(harness.acquire(alice, name))).toBe('ok');
  });

  test('metadata over 1 KiB of UTF-8 is TOO_LARGE; exactly 1 KiB is accepted', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    expect(codeOf(harness.acquire(alice, 'a', { metadata: 'x'.repeat(1025) }))).toBe('TOO_LARGE');
    expect(codeOf(harness.acquire(alice, 'a', { metadata: 'ü'.repeat(513) }))).toBe('TOO_LARGE');
    expect(codeOf(harness.acquire(alice, 'a', { metadata: 'x'.repeat(1024) }))).toBe('ok');
  });

  test('an election value over 4 KiB of UTF-8 is TOO_LARGE; exactly 4 KiB is accepted', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    expect(codeOf(harness.campaign(alice, 'e', '€'.repeat(1366)))).toBe('TOO_LARGE');
    expect(codeOf(harness.campaign(alice, 'e', 'v'.repeat(4096)))).toBe('ok');
  });

  test('a plain lock with a value is INVALID_ARGUMENT: locks carry metadata', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    expect(codeOf(harness.acquire(alice, 'a', { value: 'not for locks' }))).toBe('INVALID_ARGUMENT');
  });

  test('acquire by an unknown session is SESSION_EXPIRED and creates nothing', () => {
    const harness = new LockHarness();
    expect(codeOf(harness.acquire('77', 'a'))).toBe('SESSION_EXPIRED');
    expect(harness.machine.getLock('lock', 'a')).toBeUndefined();
  });
});

describe('limits', () => {
  test('a full wait queue answers RATE_LIMITED', () => {
    const harness = new LockHarness({ maxWaitersPerLock: 2 });
    const sessions = Array.from({ length: 4 }, () => harness.open());
    harness.acquire(sessions[0] ?? '', 'a');
    expect(codeOf(harness.acquire(sessions[1] ?? '', 'a'))).toBe('ok');
    expect(codeOf(harness.acquire(sessions[2] ?? '', 'a'))).toBe('ok');
    expect(codeOf(harness.acquire(sessions[3] ?? '', 'a'))).toBe('RATE_LIMITED');
    expect(codeOf(harness.acquire(sessions[3] ?? '', 'a', { mode: 'try' }))).toBe('LOCK_HELD');
  });

  test('a session waiting on too many locks answers RATE_LIMITED', () => {
    const harness = new LockHarness({ maxWaitsPerSession: 1 });
    const holder = harness.open();
    const waiter = harness.open();
    harness.acquire(holder, 'a');
    harness.acquire(holder, 'b');
    expect(codeOf(harness.acquire(waiter, 'a'))).toBe('ok');
    expect(codeOf(harness.acquire(waiter, 'b'))).toBe('RATE_LIMITED');
  });

  test('the lock and election count limit answers RATE_LIMITED for new records only', () => {
    const harness = new LockHarness({ maxLocks: 2 });
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(alice, 'a');
    harness.campaign(alice, 'e', 'v');
    expect(codeOf(harness.acquire(alice, 'b'))).toBe('RATE_LIMITED');
    expect(codeOf(harness.acquire(bob, 'a'))).toBe('ok');
  });

  test('the session limit answers RATE_LIMITED, and closing one makes room', () => {
    const harness = new LockHarness({ maxSessions: 1 });
    const alice = harness.open();
    const refused = harness.apply({ type: 'OpenSession', requestId: 'second', ttlMs: 1000, clientName: 'b', leaderTimeMs: 0 });
    expect(codeOf(refused)).toBe('RATE_LIMITED');
    harness.close(alice);
    expect(() => harness.open()).not.toThrow();
  });

  test('limits are checked when the machine is built', () => {
    expect(() => new LockStateMachine({ ...defaultLockLimits, maxLocks: 0 })).toThrow(/at least 1/);
    expect(() => new LockStateMachine({ ...defaultLockLimits, maxSessions: 1.5 })).toThrow(/integers/);
  });
});

describe('queries', () => {
  test('getLock shows the holder with its client name, time and metadata, and the waiters in order', () => {
    const harness = new LockHarness();
    const alice = harness.open('alice');
    const bob = harness.open('bob');
    harness.leaderTimeMs = 5_000;
    const granted = harness.acquire(alice, 'a', { metadata: 'pid 1' });
    const queued = harness.acquire(bob, 'a', { requestId: 'bob-a' });
    expect(harness.machine.getLock('lock', 'a')).toEqual({
      kind: 'lock',
      name: 'a',
      holder: { sessionId: alice, clientName: 'alice', token: granted.index, sinceIndex: granted.index, sinceTimeMs: 5_000, metadata: 'pid 1', value: '' },
      waiters: [{ sessionId: bob, clientName: 'bob', requestId: 'bob-a', sinceIndex: queued.index }],
    });
    expect(harness.machine.getLock('election', 'a')).toBeUndefined();
  });

  test('listLocks returns one kind, names with the prefix, in name order, up to the limit', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    for (const name of ['orders/9', 'orders/10', 'orders/1', 'order', 'ordersX', 'users/1', 'orders/']) harness.acquire(alice, name);
    harness.campaign(alice, 'orders/e', 'v');
    const names = (prefix: string, limit: number) => harness.machine.listLocks('lock', prefix, limit).map((lock) => lock.name);
    expect(names('orders/', 100)).toEqual(['orders/', 'orders/1', 'orders/10', 'orders/9']);
    expect(names('orders/', 2)).toEqual(['orders/', 'orders/1']);
    expect(names('', 3)).toEqual(['order', 'orders/', 'orders/1']);
    expect(names('zzz', 10)).toEqual([]);
    expect(names('orders/', 0)).toEqual([]);
    expect(harness.machine.listLocks('election', '', 10).map((lock) => lock.name)).toEqual(['orders/e']);
  });

  test('listLocks forgets released locks', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const token = tokenOf(harness.acquire(alice, 'p/a'));
    harness.acquire(alice, 'p/b');
    harness.release(alice, 'p/a', token);
    expect(harness.machine.listLocks('lock', 'p/', 10).map((lock) => lock.name)).toEqual(['p/b']);
  });

  test('stats count sessions, held locks, waiters and elections with a leader', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const bob = harness.open();
    harness.acquire(alice, 'a');
    harness.acquire(bob, 'a');
    harness.campaign(alice, 'e', 'v1');
    harness.campaign(bob, 'e', 'v2');
    expect(harness.machine.stats()).toEqual({ sessions: 2, locksHeld: 1, waiters: 2, elections: 1 });
  });

  test('query results are copies: changing them does not change the state', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    harness.acquire(alice, 'a');
    const info = harness.machine.getLock('lock', 'a');
    info?.waiters.push({ sessionId: 'x', clientName: 'x', requestId: 'x', sinceIndex: 1 });
    expect(harness.machine.getLock('lock', 'a')?.waiters).toEqual([]);
    harness.machine.checkInvariants();
  });
});
