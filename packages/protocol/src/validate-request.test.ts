import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, test } from 'vitest';
import { decodeFrame, encodeFrame, FrameDecodeError } from './frame-codec.js';
import { protocolLimits } from './limits.js';
import { isMutatingOperation, validateRequest } from './validate-request.js';

const valid = (op: string, args: Record<string, unknown>) => validateRequest({ id: 'r1', op, args });
const codeOf = (op: string, args: Record<string, unknown>) => {
  const result = valid(op, args);
  return result.ok ? 'OK' : result.error.code;
};

describe('validateRequest', () => {
  test('accepts a well-formed request of every kind of argument', () => {
    expect(codeOf('session.open', { ttlMs: 10_000, name: 'worker-3' })).toBe('OK');
    expect(codeOf('session.open', {})).toBe('OK');
    expect(codeOf('lock.acquire', { sessionId: '12', name: 'orders/42', mode: 'wait', metadata: 'pid 7' })).toBe('OK');
    expect(codeOf('lock.release', { sessionId: '12', name: 'orders/42', token: 99 })).toBe('OK');
    expect(codeOf('lock.list', { prefix: '', limit: 10, stale: true })).toBe('OK');
    expect(codeOf('election.campaign', { sessionId: '1', name: 'scheduler', value: '' })).toBe('OK');
    expect(codeOf('cluster.status', {})).toBe('OK');
  });

  test('refuses unknown ops, unknown arguments and missing required ones with INVALID_ARGUMENT', () => {
    expect(codeOf('lock.steal', {})).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.get', { name: 'a', extra: 1 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.acquire', { sessionId: '1', name: 'a' })).toBe('INVALID_ARGUMENT');
    const result = valid('lock.acquire', { sessionId: '1', name: 'a' });
    expect(!result.ok && result.error.message).toContain('"mode"');
  });

  test('refuses wrong types and out-of-range numbers with INVALID_ARGUMENT', () => {
    expect(codeOf('lock.release', { sessionId: '1', name: 'a', token: '5' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.release', { sessionId: '1', name: 'a', token: 1.5 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('session.open', { ttlMs: 100 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('session.open', { ttlMs: 300_001 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.acquire', { sessionId: '1', name: 'a', mode: 'maybe' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.get', { name: 'a', stale: 'yes' })).toBe('INVALID_ARGUMENT');
  });

  test('lock names: empty or with control characters are invalid, over 256 bytes too large', () => {
    expect(codeOf('lock.get', { name: '' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.get', { name: 'a\nb' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.get', { name: 'a\u009bb' })).toBe('INVALID_ARGUMENT'); // C1 (CSI) too
    expect(codeOf('lock.get', { name: 'a\u00a0b' })).toBe('OK');
    expect(codeOf('lock.get', { name: 'é'.repeat(128) })).toBe('OK');
    expect(codeOf('lock.get', { name: 'é'.repeat(129) })).toBe('TOO_LARGE');
    expect(codeOf('lock.get', { name: `${'€'.repeat(85)}a` })).toBe('OK'); // 256 bytes in 86 code units
    expect(codeOf('lock.get', { name: '€'.repeat(86) })).toBe('TOO_LARGE'); // 258 bytes
    expect(codeOf('lock.get', { name: '🔒'.repeat(64) })).toBe('OK'); // 256 bytes in 128 code units
    expect(codeOf('lock.get', { name: `${'🔒'.repeat(64)}a` })).toBe('TOO_LARGE');
    // Lone surrogates: the lock state machine refuses them too; refused here, they cost no log entry.
    expect(codeOf('lock.get', { name: 'a\ud800b' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.get', { name: '\udc00' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('lock.get', { name: '\u{1f512}/ok' })).toBe('OK');
  });

  test('client names follow the same rules as lock names, empty allowed', () => {
    expect(codeOf('session.open', { name: '' })).toBe('OK');
    expect(codeOf('session.open', { name: 'worker \u{1f512}' })).toBe('OK');
    expect(codeOf('session.open', { name: 'tab\there' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('session.open', { name: 'x\ud800' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('session.open', { name: 'x'.repeat(129) })).toBe('TOO_LARGE');
  });

  test('metadata over 1 KiB and election values over 4 KiB are TOO_LARGE', () => {
    expect(codeOf('lock.acquire', { sessionId: '1', name: 'a', mode: 'try', metadata: 'x'.repeat(1024) })).toBe('OK');
    expect(codeOf('lock.acquire', { sessionId: '1', name: 'a', mode: 'try', metadata: 'x'.repeat(1025) })).toBe('TOO_LARGE');
    expect(codeOf('election.campaign', { sessionId: '1', name: 'a', value: 'x'.repeat(4097) })).toBe('TOO_LARGE');
  });

  test('a request without a usable id is refused without an id to answer to', () => {
    for (const frame of [null, 7, 'x', [], { op: 'cluster.status' }, { id: '', op: 'cluster.status' }, { id: 'x'.repeat(65), op: 'cluster.status' }]) {
      const result = validateRequest(frame);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.id).toBe(undefined);
    }
  });

  test('args that msgpack extensions decode to objects (timestamp, 0xC1, Error, RegExp, Set, typed array) are not maps', () => {
    const extensions = new Packr({ useRecords: false, moreTypes: true });
    const timestamp = Uint8Array.from([0xd6, 0xff, 0, 0, 0, 1]);
    const frames = [
      // {id: 'r', op: 'cluster.status', args: <timestamp>} and args: 0xC1, built by hand.
      Uint8Array.from([...encodeFrame({ id: 'r', op: 'cluster.status', args: 0 }).slice(0, -1), ...timestamp]),
      Uint8Array.from([...encodeFrame({ id: 'r', op: 'lock.list', args: 0 }).slice(0, -1), 0xc1]),
      ...[new TypeError('x'), /a+/, new Set([1]), new Float64Array(1), new Date(0)].map((args) => extensions.pack({ id: 'r', op: 'session.open', args })),
    ];
    for (const frame of frames) {
      const result = validateRequest(decodeFrame(frame));
      expect(result.ok, JSON.stringify(result)).toBe(false);
      expect(!result.ok && result.error.code).toBe('INVALID_ARGUMENT');
      expect(!result.ok && result.error.message).toContain('"args" must be a map');
    }
    expect(validateRequest(decodeFrame(extensions.pack({ id: 'r', op: 'session.open', args: { name: 'ok' } }))).ok).toBe(true);
    expect(validateRequest({ id: 'r', op: 'session.open', args: Object.assign(Object.create(null) as object, { name: 'ok' }) }).ok).toBe(true);
  });

  test('never throws on arbitrary decoded values (fuzz)', () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true, withMap: true, withSet: true }), (value) => {
        validateRequest(value);
        validateRequest({ id: 'r', op: 'lock.acquire', args: value });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('validateRequest: membership and snapshot ops', () => {
  test('members.list takes no arguments', () => {
    expect(codeOf('members.list', {})).toBe('OK');
    expect(codeOf('members.list', { stale: true })).toBe('INVALID_ARGUMENT');
  });

  test('members.add needs an id like --id and a host:port address', () => {
    expect(codeOf('members.add', { id: 'n4', address: '10.0.0.4:7070' })).toBe('OK');
    expect(codeOf('members.add', { id: 'n-4', address: 'raft-4.example.com:7070', timeoutMs: 60_000 })).toBe('OK');
    expect(codeOf('members.add', { id: 'n4', address: '[::1]:7074' })).toBe('OK');
    expect(codeOf('members.add', { id: 'x'.repeat(32), address: 'h:1' })).toBe('OK');
    for (const id of ['', 'N4', 'n_4', 'n 4', 'x'.repeat(33), 'ñ4']) expect(codeOf('members.add', { id, address: 'h:1' }), id).toBe('INVALID_ARGUMENT');
    for (const address of ['', '10.0.0.4', ':7070', '10.0.0.4:0', '10.0.0.4:65536', 'ws://10.0.0.4:7070', '10.0.0.4:7070 ', 'a b:1']) {
      expect(codeOf('members.add', { id: 'n4', address }), address).toBe('INVALID_ARGUMENT');
    }
    expect(codeOf('members.add', { id: 'n4' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('members.add', { address: 'h:1' })).toBe('INVALID_ARGUMENT');
    const result = valid('members.add', { id: 'n4', address: 'nope' });
    expect(!result.ok && result.error.message).toBe('members.add: argument "address" must be host:port');
  });

  test('members.remove needs an id; members.transferLeader may name one', () => {
    expect(codeOf('members.remove', { id: 'n3' })).toBe('OK');
    expect(codeOf('members.remove', {})).toBe('INVALID_ARGUMENT');
    expect(codeOf('members.remove', { id: 'N3' })).toBe('INVALID_ARGUMENT');
    expect(codeOf('members.transferLeader', {})).toBe('OK');
    expect(codeOf('members.transferLeader', { id: 'n2' })).toBe('OK');
    expect(codeOf('members.transferLeader', { id: null })).toBe('OK');
    expect(codeOf('members.transferLeader', { id: 'n2!' })).toBe('INVALID_ARGUMENT');
  });

  test('the timeout of a membership change is 100 ms to 10 minutes', () => {
    expect(codeOf('members.remove', { id: 'n3', timeoutMs: protocolLimits.minAdminTimeoutMs })).toBe('OK');
    expect(codeOf('members.remove', { id: 'n3', timeoutMs: protocolLimits.maxAdminTimeoutMs })).toBe('OK');
    expect(codeOf('members.remove', { id: 'n3', timeoutMs: 99 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('members.transferLeader', { timeoutMs: protocolLimits.maxAdminTimeoutMs + 1 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('members.add', { id: 'n4', address: 'h:1', timeoutMs: '5s' })).toBe('INVALID_ARGUMENT');
  });

  test('snapshot.read: chunk 0 may come without an index, every later chunk needs the one chunk 0 gave', () => {
    expect(codeOf('snapshot.read', { chunk: 0 })).toBe('OK');
    expect(codeOf('snapshot.read', { chunk: 0, index: 41 })).toBe('OK');
    expect(codeOf('snapshot.read', { chunk: 3, index: 41 })).toBe('OK');
    expect(codeOf('snapshot.read', { chunk: 3, index: null })).toBe('INVALID_ARGUMENT');
    const result = valid('snapshot.read', { chunk: 1 });
    expect(!result.ok && result.error.message).toMatch(/^snapshot\.read: argument "index" is required after chunk 0/);
    expect(codeOf('snapshot.read', {})).toBe('INVALID_ARGUMENT');
    expect(codeOf('snapshot.read', { chunk: -1 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('snapshot.read', { chunk: 0.5 })).toBe('INVALID_ARGUMENT');
    expect(codeOf('snapshot.read', { chunk: 1, index: -1 })).toBe('INVALID_ARGUMENT');
  });

  test('membership and snapshot ops are not deduplicated lock commands', () => {
    for (const op of ['members.list', 'members.add', 'members.remove', 'members.transferLeader', 'snapshot.read'] as const) expect(isMutatingOperation(op)).toBe(false);
  });

  test('never throw on arbitrary arguments (fuzz)', () => {
    fc.assert(
      fc.property(fc.constantFrom('members.add', 'members.remove', 'members.transferLeader', 'snapshot.read'), fc.anything({ withBigInt: true, withTypedArray: true, withNullPrototype: true }), (op, value) => {
        validateRequest({ id: 'r', op, args: value });
        validateRequest({ id: 'r', op, args: { id: value, address: value, chunk: value, index: value, timeoutMs: value } });
      }),
      { numRuns: 1000 },
    );
  });
});

describe('frame codec', () => {
  test('round-trips a request with unicode and binary-safe strings', () => {
    const request = { id: 'abc', op: 'lock.acquire', args: { sessionId: '5', name: 'ördërs/42', mode: 'try', metadata: '\u{1f512}' } };
    expect(decodeFrame(encodeFrame(request))).toEqual(request);
  });

  test('rejects empty, truncated, trailing-garbage and oversize frames with FrameDecodeError', () => {
    const good = encodeFrame({ id: 'a', op: 'cluster.status', args: {} });
    expect(() => decodeFrame(new Uint8Array())).toThrow(FrameDecodeError);
    expect(() => decodeFrame(good.subarray(0, good.length - 3))).toThrow(FrameDecodeError);
    expect(() => decodeFrame(new Uint8Array([...good, 0x01]))).toThrow(FrameDecodeError);
    expect(() => decodeFrame(new Uint8Array(protocolLimits.maxFrameBytes + 1))).toThrow(FrameDecodeError);
  });

  test('random bytes either decode to a value or throw FrameDecodeError, never anything else (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (bytes) => {
        try {
          decodeFrame(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(FrameDecodeError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  test('deeply nested input is refused cleanly rather than overflowing the stack', () => {
    const depth = 200_000;
    const bytes = new Uint8Array(depth + 1).fill(0x91); // fixarray of length 1, nested
    bytes[depth] = 0xc0;
    try {
      decodeFrame(bytes);
    } catch (error) {
      expect(error).toBeInstanceOf(FrameDecodeError);
    }
  });
});
