// Reconnect backoff: bounded by its limits, exponential in failures, jittered.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { reconnectDelayMs } from './reconnect-backoff.js';

const limits = { reconnectBackoffMinMs: 50, reconnectBackoffMaxMs: 5_000 };

describe('reconnectDelayMs', () => {
  test('always lies between the configured minimum and maximum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.nat({ max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (minimumMs, extraMs, failedAttempts, randomUnit) => {
          const bounds = { reconnectBackoffMinMs: minimumMs, reconnectBackoffMaxMs: minimumMs + extraMs };
          const delayMs = reconnectDelayMs(failedAttempts, bounds, randomUnit);
          expect(delayMs).toBeGreaterThanOrEqual(minimumMs);
          expect(delayMs).toBeLessThanOrEqual(minimumMs + extraMs);
        },
      ),
    );
  });

  test('the ceiling doubles with each failed attempt until it reaches the maximum', () => {
    const upperBounds = [0, 1, 2, 3, 10, 50].map((attempts) => reconnectDelayMs(attempts, limits, 0.999_999));
    expect(upperBounds[0]).toBeCloseTo(50, 0);
    expect(upperBounds[1]).toBeCloseTo(100, 0);
    expect(upperBounds[2]).toBeCloseTo(200, 0);
    expect(upperBounds[3]).toBeCloseTo(400, 0);
    expect(upperBounds[4]).toBeCloseTo(5_000, 0);
    expect(upperBounds[5]).toBeCloseTo(5_000, 0);
  });

  test('jitter spreads retries over the upper half of the ceiling', () => {
    expect(reconnectDelayMs(10, limits, 0)).toBe(2_500);
    expect(reconnectDelayMs(10, limits, 0.5)).toBe(3_750);
  });
});
