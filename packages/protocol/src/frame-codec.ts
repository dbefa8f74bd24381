// One message per binary WebSocket frame, msgpack-encoded (msgpackr, which lmdb already brings).
// Records (msgpackr's shared-structure extension) are off: every frame stands alone, so any
// msgpack decoder can read it and a lost frame never corrupts the next.

import { Packr } from 'msgpackr';
import { protocolLimits } from './limits.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

export class FrameDecodeError extends Error {
  override readonly name = 'FrameDecodeError';
}

export function encodeFrame(message: unknown): Uint8Array {
  return packr.pack(message);
}

/** Decode one frame; throws FrameDecodeError for bytes that are not exactly one msgpack value. */
export function decodeFrame(bytes: Uint8Array): unknown {
  if (bytes.byteLength > protocolLimits.maxFrameBytes) throw new FrameDecodeError(`frame of ${bytes.byteLength} bytes exceeds ${protocolLimits.maxFrameBytes}`);
  if (bytes.byteLength === 0) throw new FrameDecodeError('empty frame');
  try {
    const values = packr.unpackMultiple(bytes as Buffer);
    if (!Array.isArray(values) || values.length !== 1) throw new FrameDecodeError('a frame holds exactly one message');
    return values[0];
  } catch (error) {
    if (error instanceof FrameDecodeError) throw error;
    throw new FrameDecodeError(`malformed msgpack: ${(error as Error).message}`);
  }
}
