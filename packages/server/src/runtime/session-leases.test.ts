// Unit tests of SessionLeases: the leader's keepalive memory (SPEC §3.6). Time is plain numbers
// (monotonic milliseconds) handed in by the test; nothing here reads a clock.

import { describe, expect, test } from 'vitest';
import { AssertionError } from '../assert.js';
import { SessionLeases } from './session-leases.js';

const noLimit = Number.MAX_SAFE_INTEGER;

describe('a new reign', () => {
  test('startAll gives every session a full TTL from the election, whatever it had before', () => {
    const leases = new SessionLeases();
    leases.opened('old', 1_000, 0);
    leases.startAll([['s1', 1_000], ['s2', 5_000]], 10_000);
    expect(leases.size).toBe(2);
    expect(leases.isLive('old')).toBe(false);
    expect(leases.takeExpired(10_999, noLimit)).toEqual([]);
    expect(leases.takeExpired(11_000, noLimit)).toEqual(['s1']);
    expect(leases.takeExpired(14_999, noLimit)).toEqual([]);
    expect(leases.takeExpired(15_000, noLimit)).toEqual(['s2']);
  });

  test('startAll forgets expiries proposed in an earlier reign', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 1_000, 0);
    expect(leases.takeExpired(1_000, noLimit)).toEqual(['s1']);
    leases.startAll([['s1', 1_000]], 2_000);
    expect(leases.isLive('s1')).toBe(true);
    expect(leases.keepalive('s1', 2_500)).toBe(true);
  });

  test('clear forgets every lease (a follower keeps none)', () => {
    const leases = new SessionLeases();
    leases.startAll([['s1', 1_000]], 0);
    leases.clear();
    expect(leases.size).toBe(0);
    expect(leases.isLive('s1')).toBe(false);
    expect(leases.keepalive('s1', 10)).toBe(false);
  });
});

describe('expiry', () => {
  test('a session is not expired before TTL after its last keepalive, and is at exactly TTL', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 1_000, 0);
    expect(leases.keepalive('s1', 700)).toBe(true);
    expect(leases.takeExpired(1_699, noLimit)).toEqual([]);
    expect(leases.takeExpired(1_700, noLimit)).toEqual(['s1']);
  });

  test('a keepalive received earlier than the latest one never shortens the lease', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 1_000, 0);
    expect(leases.keepalive('s1', 900)).toBe(true);
    expect(leases.keepalive('s1', 300)).toBe(true);
    expect(leases.takeExpired(1_899, noLimit)).toEqual([]);
    expect(leases.takeExpired(1_900, noLimit)).toEqual(['s1']);
  });

  test('takeExpired returns each lapsed session once', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 100, 0);
    leases.opened('s2', 100, 0);
    expect(leases.takeExpired(100, noLimit).sort()).toEqual(['s1', 's2']);
    expect(leases.takeExpired(200, noLimit)).toEqual([]);
    expect(leases.takeExpired(10_000, noLimit)).toEqual([]);
  });

  test('takeExpired returns at most limit sessions and the rest on a later call', () => {
    const leases = new SessionLeases();
    for (const id of ['a', 'b', 'c']) leases.opened(id, 100, 0);
    const first = leases.takeExpired(100, 2);
    expect(first).toHaveLength(2);
    const second = leases.takeExpired(100, 2);
    expect(second).toHaveLength(1);
    expect([...first, ...second].sort()).toEqual(['a', 'b', 'c']);
  });

  test('a keepalive is refused once expiry was proposed, and the session is no longer live', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 100, 0);
    expect(leases.takeExpired(100, noLimit)).toEqual(['s1']);
    expect(leases.isLive('s1')).toBe(false);
    expect(leases.keepalive('s1', 100)).toBe(false);
  });

  test('expiryFailed re-arms the session: keepalives are taken again and it can be proposed again', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 100, 0);
    expect(leases.takeExpired(100, noLimit)).toEqual(['s1']);
    leases.expiryFailed('s1');
    expect(leases.isLive('s1')).toBe(true);
    expect(leases.takeExpired(150, noLimit)).toEqual(['s1']);
    leases.expiryFailed('s1');
    expect(leases.keepalive('s1', 160)).toBe(true);
    expect(leases.takeExpired(259, noLimit)).toEqual([]);
    expect(leases.takeExpired(260, noLimit)).toEqual(['s1']);
  });

  test('expiryFailed for a session that ended meanwhile does nothing', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 100, 0);
    leases.takeExpired(100, noLimit);
    leases.ended('s1');
    leases.expiryFailed('s1');
    expect(leases.size).toBe(0);
    expect(leases.isLive('s1')).toBe(false);
  });
});

describe('sessions coming and going', () => {
  test('an ended session is forgotten: not live, no TTL, never proposed for expiry', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 100, 0);
    leases.ended('s1');
    expect(leases.isLive('s1')).toBe(false);
    expect(leases.ttlOf('s1')).toBeUndefined();
    expect(leases.takeExpired(1_000, noLimit)).toEqual([]);
  });

  test('keepalive for an unknown session is refused', () => {
    expect(new SessionLeases().keepalive('nobody', 0)).toBe(false);
  });

  test('ttlOf reports the TTL the session was opened with', () => {
    const leases = new SessionLeases();
    leases.opened('s1', 2_500, 0);
    expect(leases.ttlOf('s1')).toBe(2_500);
  });

  test('opening with a TTL that is not positive is a programmer error', () => {
    expect(() => new SessionLeases().opened('s1', 0, 0)).toThrow(AssertionError);
  });
});
