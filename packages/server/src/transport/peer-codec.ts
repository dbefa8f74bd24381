// The peer wire format: one binary WebSocket frame is one msgpack array of Messages. Owns encoding
// (what this member sends) and decoding with strict validation (what it accepts from others).
//
// Invariants: a frame holds 1..maxMessagesPerFrame messages; decodePeerFrame returns only values that
// passed validatePeerMessage and throws PeerFrameError for anything else, whatever the bytes; command
// data round-trips as a plain Uint8Array. Records (msgpackr's shared-structure extension) are off so
// every frame stands alone: a dropped frame never corrupts the next, and no decoder state carries
// over from one peer's frame to another's.

import { Packr } from 'msgpackr';
import { assert } from '../assert.js';
import type { PeerWireMessage } from './snapshot-chunk.js';
import { PeerFrameError } from './peer-frame-error.js';
import { peerFrameLimits } from './peer-frame-limits.js';
import { validatePeerMessage } from './peer-message-validator.js';

// Same settings as the client protocol's codec (@raftlock/protocol frame-codec.ts): plain objects,
// no extension types on encode, 64-bit integers as numbers (then refused unless safe integers).
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number' });

/** Encode messages this member produced. Only our own Raft core's output comes here, so shape is asserted. */
export function encodePeerFrame(messages: readonly PeerWireMessage[]): Uint8Array {
  assert(messages.length > 0, 'a frame carries at least one message');
  assert(messages.length <= peerFrameLimits.maxMessagesPerFrame, 'a frame carries at most maxMessagesPerFrame messages');
  return packr.pack(messages);
}

function unpackOrThrow(bytes: Uint8Array): unknown {
  try {
    // unpack throws when bytes remain after the first value, so a frame is exactly one value.
    return packr.unpack(bytes as Buffer);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PeerFrameError('PEER_FRAME_MALFORMED', `not one msgpack value: ${reason}`);
  }
}

/** Decode and validate one frame from a peer; throws PeerFrameError on anything but well-formed Messages. */
export function decodePeerFrame(bytes: Uint8Array): PeerWireMessage[] {
  if (bytes.byteLength === 0) throw new PeerFrameError('PEER_FRAME_MALFORMED', 'empty frame');
  const value = unpackOrThrow(bytes);
  if (!Array.isArray(value)) throw new PeerFrameError('PEER_FRAME_INVALID', 'frame: must be an array of messages');
  if (value.length === 0) throw new PeerFrameError('PEER_FRAME_INVALID', 'frame: must hold at least one message');
  if (value.length > peerFrameLimits.maxMessagesPerFrame) {
    throw new PeerFrameError('PEER_FRAME_INVALID', `frame: has ${value.length} messages, at most ${peerFrameLimits.maxMessagesPerFrame} allowed`);
  }
  const messages = value.map((item, position) => validatePeerMessage(item, `frame[${position}]`));
  assert(messages.length === value.length, 'every decoded message was validated');
  return messages;
}
