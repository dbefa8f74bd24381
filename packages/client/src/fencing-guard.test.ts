import { expect, test } from 'vitest';
import { FencingGuard, StaleTokenError } from './fencing-guard.js';

test('a guard accepts the current token again and every higher one, and refuses a lower one', () => {
  const guard = new FencingGuard();
  expect(guard.highest).toBeUndefined();
  expect(guard.accept(7n)).toBe(true);
  expect(guard.accept(7n)).toBe(true); // the same holder writing twice
  expect(guard.accept(5n)).toBe(false);
  expect(guard.highest).toBe(7n);
  expect(guard.accept(12n)).toBe(true);
  expect(() => guard.check(7n)).toThrow(StaleTokenError);
  try {
    guard.check(9n);
  } catch (error) {
    expect(error).toMatchObject({ name: 'StaleTokenError', token: 9n, highest: 12n });
  }
  expect(guard.highest).toBe(12n);
});

test('a guard restored with the highest token the resource stored refuses anything older', () => {
  const guard = new FencingGuard(100n);
  expect(guard.accept(99n)).toBe(false);
  expect(guard.accept(100n)).toBe(true);
  expect(() => guard.accept(101 as unknown as bigint)).toThrow(TypeError);
});
