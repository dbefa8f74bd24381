// Property tests of the client frame decoder and of every op's argument validation (SPEC §5), in
// process against the real decodeFrame and validateRequest of @raftlock/protocol. Each generated
// request carries its oracle (request-arbitraries.ts): accepted exactly when the contract says so,
// refused with exactly the code it names, the request id echoed when it was usable. Arbitrary values
// and bytes must never make either function throw anything but FrameDecodeError, and every refusal
// carries a code documented in docs/errors.md. `pnpm fuzz` runs each property FUZZ_RUNS times.

import fc from 'fast-check';
import { decodeFrame, encodeFrame, FrameDecodeError, validateRequest } from '@raftlock/protocol';
import { afterAll, describe, expect, test } from 'vitest';
import { documentedErrorCodes, fuzzParameters, fuzzRuns, fuzzTimeoutMs } from './fuzz-budget.js';
import { anythingRequestArbitrary, byteLength, deeplyNestedFrame, edgeRequests, operationSpecs, requestArbitrary, type GeneratedRequest } from './request-arbitraries.js';

const context = { sessionIds: ['1', '42'], lockNames: ['orders/42', 'scheduler'], wellFormedOnly: false };
const wireContext = { ...context, wellFormedOnly: true };
const opNames = Object.keys(operationSpecs(context));

/** Cases checked per property, reported at the end (the long run's total is the acceptance number). */
const casesChecked = new Map<string, number>();
const count = (property: string) => casesChecked.set(property, (casesChecked.get(property) ?? 0) + 1);
afterAll(() => {
  const total = [...casesChecked.values()].reduce((sum, cases) => sum + cases, 0);
  console.log(`decoder/validator fuzz: ${total} cases (${[...casesChecked].map(([property, cases]) => `${property} ${cases}`).join(', ')})`);
});

let nextId = 0;
function withId(generated: GeneratedRequest): { frame: unknown; id: string | undefined } {
  if (!generated.idValid) return { frame: generated.frame, id: undefined };
  const id = `f${++nextId}`;
  return { frame: { ...(generated.frame as Record<string, unknown>), id }, id };
}

/** The oracle: accepted exactly when expected, refused with the expected code and the usable id. */
function checkVerdict(generated: GeneratedRequest, id: string | undefined, frame: unknown): void {
  const verdict = validateRequest(frame);
  const where = `${generated.op} (${generated.fault}): ${render(frame)}`;
  if (generated.expected === 'valid') {
    expect(verdict.ok ? 'valid' : `${verdict.error.code}: ${verdict.error.message}`, where).toBe('valid');
    if (verdict.ok) {
      expect(verdict.request.id).toBe(id);
      // Only the arguments that were given (nil is absent) reach a handler.
      const args = (frame as { args: Record<string, unknown> }).args;
      const given = Object.keys(args).filter((key) => args[key] !== null && args[key] !== undefined);
      expect(Object.keys(verdict.request.args).sort()).toEqual(given.sort());
    }
    return;
  }
  expect(verdict.ok, where).toBe(false);
  if (verdict.ok) return;
  expect(verdict.error.code, `${where}: ${verdict.error.message}`).toBe(generated.expected);
  expect(documentedErrorCodes.has(verdict.error.code)).toBe(true);
  expect(verdict.id).toBe(id);
  // A refusal names what was wrong, in one line, without echoing a huge value back.
  expect(verdict.error.message.length).toBeLessThan(400);
}

function render(frame: unknown): string {
  try {
    const text = JSON.stringify(frame, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value));
    return text === undefined ? String(frame) : text.length > 300 ? `${text.slice(0, 300)}… (${byteLength(text)} bytes)` : text;
  } catch {
    return String(frame);
  }
}

function expectRefusalOrRequest(value: unknown): void {
  const verdict = validateRequest(value);
  if (!verdict.ok) expect(documentedErrorCodes.has(verdict.error.code), verdict.error.code).toBe(true);
}

/** Decode, and when the bytes were a value, validate it: nothing but FrameDecodeError may escape. */
function decodeAndValidate(bytes: Uint8Array): 'decoded' | 'refused' {
  let value: unknown;
  try {
    value = decodeFrame(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(FrameDecodeError);
    return 'refused';
  }
  expectRefusalOrRequest(value);
  return 'decoded';
}

describe('validateRequest against the contract', () => {
  const runs = fuzzRuns(3000);
  test('every field of every op at each edge of its range, in process and through the codec', () => {
    const edges = edgeRequests(context);
    expect(edges.length).toBeGreaterThan(300);
    for (const generated of edges) {
      const { frame, id } = withId(generated);
      checkVerdict(generated, id, frame);
      count('edges');
    }
    for (const generated of edgeRequests(wireContext)) {
      const { frame, id } = withId(generated);
      checkVerdict(generated, id, decodeFrame(encodeFrame(frame)));
      count('edges through codec');
    }
  });

  test(
    'every op: accepted exactly when the contract allows, else refused with the contract code and the request id',
    () => {
      fc.assert(
        fc.property(requestArbitrary(context), (generated) => {
          const { frame, id } = withId(generated);
          checkVerdict(generated, id, frame);
          count('oracle');
        }),
        fuzzParameters(runs),
      );
    },
    fuzzTimeoutMs(runs, 2),
  );

  test(
    'the same through the real codec: encoded, decoded by decodeFrame, then validated',
    () => {
      fc.assert(
        fc.property(requestArbitrary(wireContext), (generated) => {
          const { frame, id } = withId(generated);
          const decoded = decodeFrame(encodeFrame(frame));
          checkVerdict(generated, id, decoded);
          count('oracle through codec');
        }),
        fuzzParameters(runs),
      );
    },
    fuzzTimeoutMs(runs, 2),
  );

  test(
    'arbitrary values as requests or arguments never throw, in process or through the codec, and refusals carry documented codes',
    () => {
      fc.assert(
        fc.property(anythingRequestArbitrary(opNames), (value) => {
          expectRefusalOrRequest(value);
          let bytes: Uint8Array | undefined;
          try {
            bytes = encodeFrame(value);
          } catch {
            bytes = undefined; // not every JavaScript value has a msgpack form (the in-process check stands)
          }
          if (bytes !== undefined && bytes.byteLength > 0) decodeAndValidate(bytes);
          count('anything');
        }),
        fuzzParameters(runs),
      );
    },
    fuzzTimeoutMs(runs, 2),
  );
});

describe('decodeFrame', () => {
  const runs = fuzzRuns(3000);
  test(
    'random bytes decode to one value or are refused with FrameDecodeError',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 2048 }), (bytes) => {
          decodeAndValidate(bytes);
          count('random bytes');
        }),
        fuzzParameters(runs),
      );
    },
    fuzzTimeoutMs(runs, 1),
  );

  test(
    'valid frames with bytes flipped, cut, inserted or repeated decode or are refused, never worse',
    () => {
      const mutation = fc.record({
        kind: fc.constantFrom('flip', 'truncate', 'insert', 'repeat', 'overwrite-length'),
        position: fc.nat(),
        byte: fc.integer({ min: 0, max: 255 }),
        chunk: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      });
      fc.assert(
        fc.property(requestArbitrary(wireContext), fc.array(mutation, { minLength: 1, maxLength: 4 }), (generated, mutations) => {
          let bytes = new Uint8Array(encodeFrame(withId(generated).frame));
          for (const { kind, position, byte, chunk } of mutations) {
            const at = position % Math.max(1, bytes.length);
            if (kind === 'flip') bytes[at] = (bytes[at] as number) ^ (1 << (byte % 8));
            else if (kind === 'truncate') bytes = bytes.subarray(0, Math.max(1, at));
            else if (kind === 'insert') bytes = new Uint8Array([...bytes.subarray(0, at), ...chunk, ...bytes.subarray(at)]);
            else if (kind === 'repeat') bytes = new Uint8Array([...bytes, ...bytes.subarray(at)]);
            else bytes[at] = [0xdc, 0xdd, 0xde, 0xdf, 0xc6, 0xdb, 0xff][byte % 7] as number; // a length prefix promising more than there is
          }
          decodeAndValidate(bytes);
          count('mutated frames');
        }),
        fuzzParameters(runs),
      );
    },
    fuzzTimeoutMs(runs, 2),
  );

  test(
    'deep nesting of arrays or maps, up to a frame full, is refused or decoded without overflowing the stack',
    () => {
      const nestedRuns = fuzzRuns(60, 200);
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 500_000 }), fc.boolean(), (depth, asMaps) => {
          decodeAndValidate(deeplyNestedFrame(depth, asMaps));
          count('deep nesting');
        }),
        fuzzParameters(nestedRuns),
      );
    },
    fuzzTimeoutMs(fuzzRuns(60, 200), 50),
  );
});
