import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encodeFrame } from './frame-codec.js';
import {
  decodeSnapshotFileHeader,
  decodeSnapshotFileHeaderLength,
  encodeSnapshotFileHeader,
  snapshotFileHeaderProblem,
  SnapshotFileError,
  snapshotFileMagic,
  snapshotFilePrefixBytes,
  type SnapshotFileHeader,
} from './snapshot-file.js';

const header: SnapshotFileHeader = {
  index: 812,
  term: 4,
  members: [
    { id: 'n1', address: '10.0.0.1:7070', role: 'voter' },
    { id: 'n2', address: '10.0.0.2:7070', role: 'voter' },
    { id: 'n4', address: '[fd00::4]:7070', role: 'learner' },
  ],
  totalBytes: 5,
  createdAt: '2025-01-02T03:04:05.678Z',
};

function file(prefix: Uint8Array, data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(prefix.byteLength + data.byteLength);
  bytes.set(prefix, 0);
  bytes.set(data, prefix.byteLength);
  return bytes;
}

describe('snapshot file', () => {
  test('starts with RLSNAP01 and the big-endian header length, then the msgpack header', () => {
    const prefix = encodeSnapshotFileHeader(header);
    expect(new TextDecoder().decode(prefix.subarray(0, 8))).toBe(snapshotFileMagic);
    const headerBytes = prefix.byteLength - snapshotFilePrefixBytes;
    expect([...prefix.subarray(8, 12)]).toEqual([(headerBytes >>> 24) & 0xff, (headerBytes >>> 16) & 0xff, (headerBytes >>> 8) & 0xff, headerBytes & 0xff]);
    expect(decodeSnapshotFileHeaderLength(prefix.subarray(0, 12))).toBe(headerBytes);
  });

  test('round-trips the header and says where the data starts and how long the file must be', () => {
    const data = new Uint8Array([1, 2, 3, 4, 5]);
    const bytes = file(encodeSnapshotFileHeader(header), data);
    const decoded = decodeSnapshotFileHeader(bytes);
    expect(decoded.header).toEqual(header);
    expect(decoded.fileBytes).toBe(bytes.byteLength);
    expect([...bytes.subarray(decoded.dataOffset)]).toEqual([...data]);
  });

  test('decodes from a buffer at any offset (a slice of a larger read)', () => {
    const prefix = encodeSnapshotFileHeader(header);
    const larger = new Uint8Array(prefix.byteLength + 7);
    larger.set(prefix, 7);
    expect(decodeSnapshotFileHeader(larger.subarray(7)).header).toEqual(header);
  });

  test('unknown header fields are ignored by readers and never written', () => {
    const extra = { ...header, comment: 'nightly' } as SnapshotFileHeader;
    expect(decodeSnapshotFileHeader(encodeSnapshotFileHeader(extra)).header).toEqual(header);
    const encoded = encodeFrame({ ...header, future: [1, 2] });
    const prefix = new Uint8Array(12 + encoded.byteLength);
    prefix.set(new TextEncoder().encode(snapshotFileMagic));
    new DataView(prefix.buffer).setUint32(8, encoded.byteLength);
    prefix.set(encoded, 12);
    expect(decodeSnapshotFileHeader(prefix).header).toEqual(header);
  });

  test('refuses what is not a backup, or a damaged or truncated one, with SnapshotFileError', () => {
    const prefix = encodeSnapshotFileHeader(header);
    const refuse = (bytes: Uint8Array) => () => decodeSnapshotFileHeader(bytes);
    expect(refuse(new TextEncoder().encode('RLSNAP'))).toThrow(/shorter than 12 bytes/);
    expect(refuse(new TextEncoder().encode('RLSNAP02' + '\u0000'.repeat(20)))).toThrow(/does not start with RLSNAP01/);
    expect(refuse(prefix.subarray(0, prefix.byteLength - 1))).toThrow(/truncated snapshot file/);
    const zeroLength = prefix.slice(0, 12);
    zeroLength.set([0, 0, 0, 0], 8);
    expect(refuse(zeroLength)).toThrow(/a header of 0 bytes/);
    const huge = prefix.slice(0, 12);
    huge.set([0xff, 0xff, 0xff, 0xff], 8);
    expect(refuse(huge)).toThrow(/a header of 4294967295 bytes/);
    const garbled = prefix.slice();
    garbled[12] = 0xc1; // never used in msgpack
    expect(refuse(garbled)).toThrow(/the header is not msgpack/);
    for (const bytes of [new Uint8Array(), prefix.subarray(0, 5), garbled]) expect(refuse(bytes)).toThrow(SnapshotFileError);
  });

  test('refuses to write or read a header that could not be restored', () => {
    const bad: [Partial<Record<keyof SnapshotFileHeader, unknown>>, RegExp][] = [
      [{ index: -1 }, /header\.index/],
      [{ term: 1.5 }, /header\.term/],
      [{ totalBytes: '5' }, /header\.totalBytes/],
      [{ createdAt: 'yesterday' }, /header\.createdAt/],
      [{ members: [] }, /at least one voter/],
      [{ members: [{ id: 'n1', address: '10.0.0.1:7070', role: 'learner' }] }, /at least one voter/],
      [{ members: [{ id: 'N1', address: '10.0.0.1:7070', role: 'voter' }] }, /members\[0\]\.id must match/],
      [{ members: [{ id: 'n1', address: 'nowhere', role: 'voter' }] }, /members\[0\]\.address must be host:port/],
      [{ members: [{ id: 'n1', address: 'h:1', role: 'boss' }] }, /members\[0\]\.role/],
      [{ members: [{ id: 'n1', address: 'h:1', role: 'voter' }, { id: 'n1', address: 'h:2', role: 'voter' }] }, /member id twice/],
      [{ members: [{ id: 'n1', address: 'h:1', role: 'voter' }, { id: 'n2', address: 'h:1', role: 'voter' }] }, /address twice/],
    ];
    for (const [change, message] of bad) {
      const broken = { ...header, ...change } as SnapshotFileHeader;
      expect(snapshotFileHeaderProblem(broken)).toMatch(message);
      expect(() => encodeSnapshotFileHeader(broken)).toThrow(SnapshotFileError);
    }
    expect(snapshotFileHeaderProblem(header)).toBeUndefined();
  });

  test('any bytes either decode to a valid header or throw SnapshotFileError (fuzz)', () => {
    const prefix = encodeSnapshotFileHeader(header);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat({ max: prefix.byteLength }), (noise, at) => {
        const bytes = prefix.slice();
        bytes.set(noise.subarray(0, Math.max(0, bytes.byteLength - at)), at);
        try {
          const decoded = decodeSnapshotFileHeader(bytes);
          expect(snapshotFileHeaderProblem(decoded.header)).toBeUndefined();
        } catch (error) {
          expect(error).toBeInstanceOf(SnapshotFileError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
