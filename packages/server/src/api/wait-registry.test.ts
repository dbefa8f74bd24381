// Unit tests of WaitRegistry: every parked request is completed exactly once, by the first of
// granted / cancelled / failed / failAll, and forget() takes it out for good.

import { NotLeaderError, UnavailableError, type ServiceError } from '@raftlock/protocol';
import { describe, expect, test } from 'vitest';
import { WaitRegistry, type GrantedLock } from './wait-registry.js';

function parked(registry: WaitRegistry, requestId: string) {
  const outcomes: ({ granted: GrantedLock } | { error: ServiceError })[] = [];
  const forget = registry.register(
    requestId,
    (granted) => outcomes.push({ granted }),
    (error) => outcomes.push({ error }),
  );
  return { outcomes, forget };
}

const grant: GrantedLock = { name: 'orders/42', sessionId: 's1', token: 17 };

describe('completing parked requests', () => {
  test('granted resolves every waiter of the request id once, and a second grant finds nobody', () => {
    const registry = new WaitRegistry();
    const first = parked(registry, 'r1');
    const retry = parked(registry, 'r1');
    registry.granted('r1', grant);
    registry.granted('r1', { ...grant, token: 99 });
    expect(first.outcomes).toEqual([{ granted: grant }]);
    expect(retry.outcomes).toEqual([{ granted: grant }]);
    expect(registry.size).toBe(0);
  });

  test('cancelled rejects with TIMEOUT, once', () => {
    const registry = new WaitRegistry();
    const waiter = parked(registry, 'r1');
    registry.cancelled('r1');
    registry.cancelled('r1');
    registry.granted('r1', grant);
    expect(waiter.outcomes).toHaveLength(1);
    expect(waiter.outcomes[0]).toMatchObject({ error: { code: 'TIMEOUT' } });
  });

  test('failed rejects with the error given, once', () => {
    const registry = new WaitRegistry();
    const waiter = parked(registry, 'r1');
    const error = new UnavailableError('gone');
    registry.failed('r1', error);
    registry.failed('r1', error);
    expect(waiter.outcomes).toEqual([{ error }]);
  });

  test('failAll rejects every parked request once, with the error given, and leaves nothing behind', () => {
    const registry = new WaitRegistry();
    const first = parked(registry, 'r1');
    const second = parked(registry, 'r2');
    const error = new NotLeaderError('deposed', '127.0.0.1:7072');
    registry.failAll(error);
    registry.failAll(error);
    registry.granted('r1', grant);
    expect(first.outcomes).toEqual([{ error }]);
    expect(second.outcomes).toEqual([{ error }]);
    expect(registry.size).toBe(0);
  });

  test('a waiter whose callback forgets itself (as Operations does) is completed once', () => {
    const registry = new WaitRegistry();
    let calls = 0;
    const forget = registry.register(
      'r1',
      () => {
        calls++;
        forget();
      },
      () => {
        calls++;
        forget();
      },
    );
    registry.failAll(new UnavailableError('gone'));
    registry.granted('r1', grant);
    expect(calls).toBe(1);
    expect(registry.size).toBe(0);
  });
});

describe('forgetting', () => {
  test('a forgotten waiter is never completed and leaves nothing behind', () => {
    const registry = new WaitRegistry();
    const waiter = parked(registry, 'r1');
    waiter.forget();
    registry.granted('r1', grant);
    registry.failAll(new UnavailableError('gone'));
    expect(waiter.outcomes).toEqual([]);
    expect(registry.size).toBe(0);
  });

  test('forgetting one of two waiters of a request id keeps the other', () => {
    const registry = new WaitRegistry();
    const gone = parked(registry, 'r1');
    const kept = parked(registry, 'r1');
    gone.forget();
    expect(registry.size).toBe(1);
    registry.granted('r1', grant);
    expect(gone.outcomes).toEqual([]);
    expect(kept.outcomes).toEqual([{ granted: grant }]);
  });

  test('forget after completion is harmless and does not remove a later registration of the same id', () => {
    const registry = new WaitRegistry();
    const first = parked(registry, 'r1');
    registry.granted('r1', grant);
    const later = parked(registry, 'r1');
    first.forget();
    first.forget();
    expect(registry.size).toBe(1);
    registry.cancelled('r1');
    expect(later.outcomes).toHaveLength(1);
  });
});
