import { describe, expect, test } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  test.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    [' 10s ', 10_000],
    ['0', 0],
  ])('%s is %i ms', (text, expectedMs) => {
    expect(parseDuration(text, '--ttl')).toBe(expectedMs);
  });

  test('a bare number is refused, with the unit it probably meant', () => {
    expect(() => parseDuration('5', '--timeout')).toThrow('--timeout: "5" needs a unit, e.g. 5s or 5ms');
  });

  test.each(['', 'abc', '5 s', '-5s', '5d', '1m 30s', 's', '5sx'])('%j is not a duration', (text) => {
    expect(() => parseDuration(text, '--wait')).toThrow(/^--wait: .* is not a duration/);
  });
});

describe('formatDuration (relative, kubectl-style)', () => {
  test.each([
    [0, '0ms'],
    [-20, '0ms'],
    [450, '450ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [9_999, '9.9s'],
    [10_000, '10s'],
    [42_300, '42s'],
    [60_000, '1m'],
    [192_000, '3m12s'],
    [599_000, '9m59s'],
    [600_000, '10m'],
    [3_599_000, '59m'],
    [3_600_000, '1h'],
    [7_500_000, '2h5m'],
    [86_400_000, '1d'],
    [3 * 86_400_000 + 4 * 3_600_000 + 59_000, '3d4h'],
  ])('%i ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});
