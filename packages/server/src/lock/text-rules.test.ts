// Unit tests of the string rules: the name rule of SPEC §4, and owned copies.

import { describe, expect, test } from 'vitest';
import { nameProblem, ownedText } from './text-rules.js';

describe('nameProblem', () => {
  test('accepts 1 to 256 bytes without control characters', () => {
    expect(nameProblem('a', 256, false)).toBeUndefined();
    expect(nameProblem('ü'.repeat(128), 256, false)).toBeUndefined();
    expect(nameProblem('a b/c-d_e.f:g', 256, false)).toBeUndefined();
  });

  test('refuses empty names unless allowed, oversize names, control characters and lone surrogates', () => {
    expect(nameProblem('', 256, false)).toMatch(/empty/);
    expect(nameProblem('', 256, true)).toBeUndefined();
    expect(nameProblem('ü'.repeat(129), 256, false)).toMatch(/256 bytes/);
    expect(nameProblem('tab\there', 256, false)).toMatch(/control/);
    expect(nameProblem('del\u007f', 256, false)).toMatch(/control/);
    // C1 is refused by request validation, not here: committed entries must replay as they applied.
    expect(nameProblem('\u0080 and \u009b pass the replicated rule', 256, false)).toBeUndefined();
    expect(nameProblem('\ud83d', 256, false)).toMatch(/surrogate/);
    expect(nameProblem('\ude00x', 256, false)).toMatch(/surrogate/);
    expect(nameProblem('\ud83d\udd12', 256, false)).toBeUndefined();
  });
});

describe('ownedText', () => {
  test('returns the same text for every string, short, long, non-ASCII or with lone surrogates', () => {
    for (const text of ['', 'a', 'orders/42', 'orders/customer-42/item-7', 'ünïcødé ✓ 😀 and some more', 'lone \ud800 surrogate here', '"quoted\\"\n']) {
      expect(ownedText(text)).toBe(text);
    }
  });
});
