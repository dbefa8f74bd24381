import { expect, test } from 'vitest';
import { protocolLimits } from '@raftlock/protocol';
import { defaultListLimit, maxListLimit, parseLimit } from './locks.js';

test("--limit's bounds are the protocol's list limits", () => {
  expect(defaultListLimit).toBe(protocolLimits.defaultListLimit);
  expect(maxListLimit).toBe(protocolLimits.maxListLimit);
});

test('--limit takes a whole number from 1 to the protocol maximum and refuses anything else', () => {
  expect(parseLimit(undefined)).toBeUndefined();
  expect(parseLimit('1')).toBe(1);
  expect(parseLimit(String(protocolLimits.maxListLimit))).toBe(protocolLimits.maxListLimit);
  for (const bad of ['0', String(protocolLimits.maxListLimit + 1), 'abc', '1.5', '-3', '']) expect(() => parseLimit(bad)).toThrow(/--limit/);
});
