// Unit tests of elections in LockStateMachine (SPEC §4 "Election"): campaign, proclaim, resign,
// and the 'value' events observers rely on.

import { describe, expect, test } from 'vitest';
import { codeOf, LockHarness, tokenOf, valueOf } from './lock-harness.js';

describe('elections', () => {
  test('the first candidate is elected at once; later ones queue in order', () => {
    const harness = new LockHarness();
    const first = harness.open();
    const second = harness.open();
    const third = harness.open();
    const elected = harness.campaign(first, 'scheduler', '10.0.0.1:8080');
    expect(valueOf(elected)).toEqual({ state: 'acquired', kind: 'election', name: 'scheduler', token: elected.index, sessionId: first });
    expect(valueOf(harness.campaign(second, 'scheduler', '10.0.0.2:8080'))).toEqual({ state: 'queued', kind: 'election', name: 'scheduler', position: 1 });
    expect(valueOf(harness.campaign(third, 'scheduler', '10.0.0.3:8080'))).toEqual({ state: 'queued', kind: 'election', name: 'scheduler', position: 2 });
    expect(harness.machine.getLock('election', 'scheduler')?.holder?.value).toBe('10.0.0.1:8080');
  });

  test('electing a leader emits acquired then value, so observers see the value', () => {
    const harness = new LockHarness();
    const first = harness.open();
    const elected = harness.campaign(first, 'scheduler', 'v1', 'campaign-1');
    expect(elected.events).toEqual([
      { index: elected.index, type: 'acquired', kind: 'election', name: 'scheduler', sessionId: first, token: elected.index, requestId: 'campaign-1', value: 'v1' },
      { index: elected.index, type: 'value', kind: 'election', name: 'scheduler', sessionId: first, token: elected.index, value: 'v1' },
    ]);
  });

  test('proclaim changes the leader value, keeps the token and emits value', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const token = tokenOf(harness.campaign(leader, 'scheduler', 'old'));
    const proclaimed = harness.proclaim(leader, 'scheduler', token, 'new');
    expect(valueOf(proclaimed)).toEqual({ proclaimed: true });
    expect(proclaimed.events).toEqual([{ index: proclaimed.index, type: 'value', kind: 'election', name: 'scheduler', sessionId: leader, token, value: 'new' }]);
    expect(harness.machine.getLock('election', 'scheduler')?.holder).toMatchObject({ token, value: 'new' });
  });

  test('proclaim by a candidate that is not the leader, or with a wrong token, is NOT_HOLDER', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const candidate = harness.open();
    const token = tokenOf(harness.campaign(leader, 'scheduler', 'leader'));
    harness.campaign(candidate, 'scheduler', 'candidate');
    expect(codeOf(harness.proclaim(candidate, 'scheduler', token, 'usurp'))).toBe('NOT_HOLDER');
    expect(codeOf(harness.proclaim(leader, 'scheduler', token + 1, 'x'))).toBe('NOT_HOLDER');
    expect(codeOf(harness.proclaim(leader, 'no-such-election', token, 'x'))).toBe('NOT_HOLDER');
    expect(harness.machine.getLock('election', 'scheduler')?.holder?.value).toBe('leader');
  });

  test('proclaim applies to elections only: a plain lock of the same name is not led', () => {
    const harness = new LockHarness();
    const alice = harness.open();
    const token = tokenOf(harness.acquire(alice, 'shared'));
    expect(codeOf(harness.proclaim(alice, 'shared', token, 'v'))).toBe('NOT_HOLDER');
  });

  test('a proclaimed value over 4 KiB is TOO_LARGE', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const token = tokenOf(harness.campaign(leader, 'e', 'v'));
    expect(codeOf(harness.proclaim(leader, 'e', token, 'x'.repeat(4097)))).toBe('TOO_LARGE');
  });

  test('resign promotes the next candidate with its own value and emits released, acquired, value', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const next = harness.open();
    const token = tokenOf(harness.campaign(leader, 'scheduler', 'leader-value'));
    harness.campaign(next, 'scheduler', 'next-value', 'next-campaign');
    const resigned = harness.release(leader, 'scheduler', token, 'election');
    expect(valueOf(resigned)).toEqual({ released: true });
    expect(resigned.events).toEqual([
      { index: resigned.index, type: 'released', kind: 'election', name: 'scheduler', sessionId: leader, token },
      { index: resigned.index, type: 'acquired', kind: 'election', name: 'scheduler', sessionId: next, token: resigned.index, requestId: 'next-campaign', value: 'next-value' },
      { index: resigned.index, type: 'value', kind: 'election', name: 'scheduler', sessionId: next, token: resigned.index, value: 'next-value' },
    ]);
    expect(harness.machine.dedupeLookup('next-campaign')).toEqual({ ok: true, value: { state: 'acquired', kind: 'election', name: 'scheduler', token: resigned.index, sessionId: next } });
  });

  test('resigning the last candidate leaves the election without a leader', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const token = tokenOf(harness.campaign(leader, 'scheduler', 'v'));
    harness.release(leader, 'scheduler', token, 'election');
    expect(harness.machine.getLock('election', 'scheduler')).toBeUndefined();
    expect(harness.machine.stats().elections).toBe(0);
  });

  test('a leader whose session expires loses the election to the next live candidate', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const lapsed = harness.open();
    const live = harness.open();
    harness.campaign(leader, 'scheduler', 'leader');
    harness.campaign(lapsed, 'scheduler', 'lapsed');
    harness.campaign(live, 'scheduler', 'live');
    harness.expire(lapsed);
    const expired = harness.expire(leader);
    expect(expired.events.map((event) => [event.type, event.sessionId, event.value])).toEqual([
      ['expired', leader, undefined],
      ['acquired', live, 'live'],
      ['value', live, 'live'],
    ]);
  });

  test('a queued candidate can withdraw with CancelWait', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const candidate = harness.open();
    harness.campaign(leader, 'scheduler', 'a');
    harness.campaign(candidate, 'scheduler', 'b', 'candidate-campaign');
    const cancelled = harness.cancelWait(candidate, 'scheduler', 'election');
    expect(valueOf(cancelled)).toEqual({ cancelled: true });
    expect(cancelled.events).toEqual([{ index: cancelled.index, type: 'cancelled', kind: 'election', name: 'scheduler', sessionId: candidate, requestId: 'candidate-campaign' }]);
    expect(harness.machine.dedupeLookup('candidate-campaign')).toEqual({ ok: false, code: 'TIMEOUT', message: 'wait cancelled' });
  });

  test('campaigning again while leading or queued is ALREADY_HELD', () => {
    const harness = new LockHarness();
    const leader = harness.open();
    const candidate = harness.open();
    harness.campaign(leader, 'scheduler', 'a');
    harness.campaign(candidate, 'scheduler', 'b');
    expect(codeOf(harness.campaign(leader, 'scheduler', 'a2'))).toBe('ALREADY_HELD');
    expect(codeOf(harness.campaign(candidate, 'scheduler', 'b2'))).toBe('ALREADY_HELD');
  });
});
