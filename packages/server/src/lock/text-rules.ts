// The rules for the strings the lock state machine stores: lock and election names, client names,
// and the byte sizes of metadata and values (SPEC §4). Pure functions, no TextEncoder needed.
//
// Invariants:
//   sizes are UTF-8 bytes as msgpack will write them: a lone surrogate counts 3 bytes, the size of
//   the U+FFFD an encoder writes in its place, so every member measures the same string alike
//   a valid name is 1..maxBytes bytes, well-formed UTF-16 (no lone surrogate) and has no control
//   characters U+0000..U+001F or U+007F. (Request validation refuses C1 U+0080..U+009F as well;
//   the state machine keeps the rule its log was written under, so every entry replays alike.)

import { utf8ByteLength } from '@raftlock/protocol';
import { assert } from '../assert.js';

const highSurrogateFirst = 0xd800;
const lowSurrogateFirst = 0xdc00;
const lowSurrogateLast = 0xdfff;

function isHighSurrogate(codeUnit: number): boolean {
  return codeUnit >= highSurrogateFirst && codeUnit < lowSurrogateFirst;
}

function isLowSurrogate(codeUnit: number): boolean {
  return codeUnit >= lowSurrogateFirst && codeUnit <= lowSurrogateLast;
}

/**
 * C0 controls and DEL. Deliberately not C1, which request validation refuses before anything is
 * proposed: a rule applied to committed entries can never change, or a member replaying an entry an
 * older version accepted (a restart after an upgrade) would build another state than the others.
 */
function isControlCharacter(codeUnit: number): boolean {
  return codeUnit <= 0x1f || codeUnit === 0x7f;
}


/**
 * Why a name is refused, or undefined when it is fine. Lone surrogates are refused because such a
 * name does not survive a UTF-8 round trip: a client could never name that lock again.
 */
export function nameProblem(name: string, maxBytes: number, allowEmpty: boolean): string | undefined {
  assert(maxBytes > 0, 'a name limit allows at least one byte');
  if (name.length === 0) return allowEmpty ? undefined : 'must not be empty';
  for (let position = 0; position < name.length; position++) {
    const codeUnit = name.charCodeAt(position);
    if (isControlCharacter(codeUnit)) return 'must not contain control characters';
    if (isHighSurrogate(codeUnit) && isLowSurrogate(name.charCodeAt(position + 1))) {
      position++;
    } else if (isHighSurrogate(codeUnit) || isLowSurrogate(codeUnit)) {
      return 'must be well-formed Unicode (no lone surrogates)';
    }
  }
  if (utf8ByteLength(name) > maxBytes) return `must be at most ${maxBytes} bytes of UTF-8`;
  return undefined;
}

/**
 * Strings at least this long may be a slice of another string: V8 copies shorter slices, and shares
 * the characters of longer ones with the string they were cut from.
 */
const slicedStringMinLength = 13;

/**
 * A copy of text that shares no memory with any other string, for strings the state keeps for long
 * (lock names, metadata, values, request ids, client names). Strings that msgpackr decodes are cut
 * from a string holding every string of the message, and one kept alive keeps the whole message's
 * text alive: 220 bytes more per held lock, measured (459 instead of ~240 per lock at 1M locks).
 * A JSON round trip is the quickest full copy JavaScript offers (~0.3 µs), and exact for every
 * string, lone surrogates included. Short strings are copied by V8 already and returned as they are.
 */
export function ownedText(text: string): string {
  if (text.length < slicedStringMinLength) return text;
  const copy = JSON.parse(JSON.stringify(text)) as unknown;
  assert(copy === text, 'an owned copy has the same text');
  return copy;
}

