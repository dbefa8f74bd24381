// WsFrameSplitter: cuts a WebSocket byte stream (RFC 6455 §5.2) into whole frames, so the fault
// proxy can drop or delay a frame without corrupting the stream: dropping bytes mid-frame would
// desynchronise the framing and close the connection, while dropping whole frames is message loss,
// which Raft tolerates by design.
//
// Invariants: frames come out in stream order, each exactly as it came in (header, mask and payload
// untouched); no byte is emitted twice or lost; a partial frame waits for its remaining bytes.

export interface WsFrame {
  /** The whole frame, header included. */
  readonly bytes: Buffer;
  readonly opcode: number;
  readonly fin: boolean;
}

/** Opcodes 0x8–0xF are control frames (close, ping, pong): never fragmented. */
export function isControlOpcode(opcode: number): boolean {
  return opcode >= 0x8;
}

/** A frame larger than this is not a raftlock frame (peers cap at 16 MiB): treat the stream as broken. */
const maxFrameBytes = 64 * 1024 * 1024;

export class WsFrameSplitter {
  private pending: Buffer = Buffer.alloc(0);

  /** Add bytes; returns every frame they complete. Throws on a frame no member would send. */
  push(chunk: Buffer): WsFrame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: WsFrame[] = [];
    for (;;) {
      const frameLength = frameLengthOf(this.pending);
      if (frameLength === undefined || this.pending.length < frameLength) break;
      const bytes = this.pending.subarray(0, frameLength);
      this.pending = this.pending.subarray(frameLength);
      const first = bytes[0] as number;
      frames.push({ bytes, opcode: first & 0x0f, fin: (first & 0x80) !== 0 });
    }
    return frames;
  }

  /** Bytes of an incomplete frame still waiting for the rest. */
  get bufferedByteCount(): number {
    return this.pending.length;
  }
}

/** Total length of the frame at the start of buffer, or undefined while its header is incomplete. */
function frameLengthOf(buffer: Buffer): number | undefined {
  if (buffer.length < 2) return undefined;
  const second = buffer[1] as number;
  const masked = (second & 0x80) !== 0;
  const shortLength = second & 0x7f;
  let headerLength = 2;
  let payloadLength = shortLength;
  if (shortLength === 126) {
    if (buffer.length < 4) return undefined;
    headerLength = 4;
    payloadLength = buffer.readUInt16BE(2);
  } else if (shortLength === 127) {
    if (buffer.length < 10) return undefined;
    headerLength = 10;
    const long = buffer.readBigUInt64BE(2);
    if (long > BigInt(maxFrameBytes)) throw new RangeError(`a ${long}-byte WebSocket frame is beyond any raftlock frame`);
    payloadLength = Number(long);
  }
  if (masked) headerLength += 4;
  return headerLength + payloadLength;
}
