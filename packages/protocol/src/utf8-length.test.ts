// Unit tests of utf8ByteLength: it must count exactly what an encoder writes, for any string,
// lone surrogates included, since the validator's size limits are stated in UTF-8 bytes.

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { utf8ByteLength } from './utf8-length.js';

const encoder = new TextEncoder();

describe('utf8ByteLength', () => {
  test.each(['', 'ascii', 'é', '€uro', '🔒 lock', 'a\ud800b', '\udc00', '\ud800', 'x'.repeat(300), '日本語/ロック'])('counts %j as TextEncoder does', (text) => {
    expect(utf8ByteLength(text)).toBe(encoder.encode(text).byteLength);
  });

  test('counts any string of UTF-16 code units as TextEncoder does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)), maxLength: 64 }), (wellFormed, anyUnits) => {
        expect(utf8ByteLength(wellFormed)).toBe(encoder.encode(wellFormed).byteLength);
        expect(utf8ByteLength(anyUnits)).toBe(encoder.encode(anyUnits).byteLength);
      }),
      { numRuns: 2000 },
    );
  });
});
