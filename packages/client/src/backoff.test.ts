import { expect, test } from 'vitest';
import { Backoff, backoffDelayMs } from './backoff.js';

test('backoff delays double up to the cap, with half of each delay jittered', () => {
  const options = { initialDelayMs: 20, maxDelayMs: 500 };
  expect(backoffDelayMs(options, 0, () => 0)).toBe(10);
  expect(backoffDelayMs(options, 0, () => 0.999)).toBeCloseTo(20, 1);
  expect(backoffDelayMs(options, 3, () => 0)).toBe(80);
  expect(backoffDelayMs(options, 10, () => 0)).toBe(250);
  expect(backoffDelayMs(options, 1_000, () => 1)).toBe(500);
  const backoff = new Backoff(options);
  const delays = Array.from({ length: 12 }, () => backoff.next());
  for (const [attempt, delay] of delays.entries()) {
    const ceiling = Math.min(500, 20 * 2 ** attempt);
    expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
    expect(delay).toBeLessThanOrEqual(ceiling);
  }
  backoff.reset();
  expect(backoff.next()).toBeLessThanOrEqual(20);
  expect(() => new Backoff({ initialDelayMs: 0, maxDelayMs: 1 })).toThrow(RangeError);
});
