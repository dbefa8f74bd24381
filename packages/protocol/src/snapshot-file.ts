// The backup file that `raftlock snapshot save` writes and `raftlockd --restore` reads:
//
//   bytes 0–7    the magic "RLSNAP01" (ASCII; the last two digits are the format's version)
//   bytes 8–11   N, the header's length in bytes, unsigned 32-bit big-endian
//   next N       the header: one msgpack map { index, term, members: [{ id, address, role }],
//                totalBytes, createdAt } (SnapshotFileHeader)
//   the rest     exactly totalBytes bytes of snapshot data: the snapshot.read chunks, in order
//
// So a file's size is exactly 12 + N + totalBytes; anything else is a truncated or damaged file.
// Pure functions only: this package does no I/O. The SDK writes the file, the server reads it.
// Readers ignore header fields they do not know (they may be added); a change that old readers
// must not accept gets a new magic.

import { decodeFrame, encodeFrame, FrameDecodeError } from './frame-codec.js';
import type { MemberInfo } from './client-protocol.js';
import { protocolLimits } from './limits.js';
import { memberAddressProblem, memberIdProblem } from './member-address.js';
import { isWholeNumber } from './whole-number.js';

export const snapshotFileMagic = 'RLSNAP01';
/** The magic and the header length: what to read first to learn how long the header is. */
export const snapshotFilePrefixBytes = 12;
/** The header is one msgpack value of at most one frame. */
export const maxSnapshotFileHeaderBytes = protocolLimits.maxFrameBytes;

export interface SnapshotFileHeader {
  /** The last log index the snapshot covers. */
  readonly index: number;
  /** The term of the entry at index. */
  readonly term: number;
  /** The cluster's configuration at index. */
  readonly members: readonly MemberInfo[];
  /** How many bytes of snapshot data follow the header. */
  readonly totalBytes: number;
  /** When the backup was saved (ISO 8601, UTC), for people. */
  readonly createdAt: string;
}

export class SnapshotFileError extends Error {
  override readonly name = 'SnapshotFileError';
}

const magicBytes = new TextEncoder().encode(snapshotFileMagic);

function memberProblem(value: unknown, position: number): string | undefined {
  const where = `members[${position}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${where} must be a map`;
  const member = value as Record<string, unknown>;
  if (typeof member.id !== 'string') return `${where}.id must be a string`;
  const idProblem = memberIdProblem(member.id);
  if (idProblem !== undefined) return `${where}.id ${idProblem}`;
  if (typeof member.address !== 'string') return `${where}.address must be a string`;
  const addressProblem = memberAddressProblem(member.address);
  if (addressProblem !== undefined) return `${where}.address ${addressProblem}`;
  if (member.role !== 'voter' && member.role !== 'learner') return `${where}.role must be voter or learner`;
  return undefined;
}

/** What is wrong with a decoded header, or undefined when it is a valid SnapshotFileHeader. */
export function snapshotFileHeaderProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) return 'the header must be a map';
  const header = value as Record<string, unknown>;
  if (!isWholeNumber(header.index)) return 'header.index must be an integer ≥ 0';
  if (!isWholeNumber(header.term)) return 'header.term must be an integer ≥ 0';
  if (!isWholeNumber(header.totalBytes)) return 'header.totalBytes must be an integer ≥ 0';
  if (typeof header.createdAt !== 'string' || Number.isNaN(Date.parse(header.createdAt))) return 'header.createdAt must be an ISO 8601 time';
  if (!Array.isArray(header.members)) return 'header.members must be a list';
  const members: unknown[] = header.members;
  for (const [position, member] of members.entries()) {
    const problem = memberProblem(member, position);
    if (problem !== undefined) return `header.${problem}`;
  }
  const typed = members as MemberInfo[];
  if (!typed.some((member) => member.role === 'voter')) return 'header.members must name at least one voter';
  if (new Set(typed.map((member) => member.id)).size !== typed.length) return 'header.members lists a member id twice';
  if (new Set(typed.map((member) => member.address)).size !== typed.length) return 'header.members lists an address twice';
  return undefined;
}

/** Everything that precedes the snapshot data: magic, header length, header. */
export function encodeSnapshotFileHeader(header: SnapshotFileHeader): Uint8Array {
  const problem = snapshotFileHeaderProblem(header);
  if (problem !== undefined) throw new SnapshotFileError(`cannot write a snapshot file: ${problem}`);
  const known: SnapshotFileHeader = {
    index: header.index,
    term: header.term,
    members: header.members.map((member) => ({ id: member.id, address: member.address, role: member.role })),
    totalBytes: header.totalBytes,
    createdAt: header.createdAt,
  };
  const encoded = encodeFrame(known);
  if (encoded.byteLength > maxSnapshotFileHeaderBytes) throw new SnapshotFileError(`cannot write a snapshot file: its header would be ${encoded.byteLength} bytes (at most ${maxSnapshotFileHeaderBytes})`);
  const bytes = new Uint8Array(snapshotFilePrefixBytes + encoded.byteLength);
  bytes.set(magicBytes, 0);
  new DataView(bytes.buffer).setUint32(magicBytes.byteLength, encoded.byteLength, false);
  bytes.set(encoded, snapshotFilePrefixBytes);
  return bytes;
}

/** From the file's first 12 bytes (at least): the header's length N. Throws on a file that is not a backup. */
export function decodeSnapshotFileHeaderLength(prefix: Uint8Array): number {
  if (prefix.byteLength < snapshotFilePrefixBytes) throw new SnapshotFileError(`not a raftlock snapshot file: shorter than ${snapshotFilePrefixBytes} bytes`);
  for (let position = 0; position < magicBytes.byteLength; position++) {
    if (prefix[position] !== magicBytes[position]) throw new SnapshotFileError(`not a raftlock snapshot file: it does not start with ${snapshotFileMagic}`);
  }
  const headerBytes = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength).getUint32(magicBytes.byteLength, false);
  if (headerBytes === 0 || headerBytes > maxSnapshotFileHeaderBytes) throw new SnapshotFileError(`damaged snapshot file: a header of ${headerBytes} bytes (1–${maxSnapshotFileHeaderBytes} expected)`);
  return headerBytes;
}

export interface DecodedSnapshotFileHeader {
  readonly header: SnapshotFileHeader;
  /** Where the snapshot data starts: 12 + N. */
  readonly dataOffset: number;
  /** The size the whole file must have: dataOffset + totalBytes. */
  readonly fileBytes: number;
}

/** Decode the header from the file's first 12 + N bytes (more may follow; they are not looked at). */
export function decodeSnapshotFileHeader(bytes: Uint8Array): DecodedSnapshotFileHeader {
  const headerBytes = decodeSnapshotFileHeaderLength(bytes);
  const dataOffset = snapshotFilePrefixBytes + headerBytes;
  if (bytes.byteLength < dataOffset) throw new SnapshotFileError(`truncated snapshot file: the header needs ${dataOffset} bytes, there are ${bytes.byteLength}`);
  let value: unknown;
  try {
    value = decodeFrame(bytes.subarray(snapshotFilePrefixBytes, dataOffset));
  } catch (error) {
    if (!(error instanceof FrameDecodeError)) throw error;
    throw new SnapshotFileError(`damaged snapshot file: the header is not msgpack (${error.message})`);
  }
  const problem = snapshotFileHeaderProblem(value);
  if (problem !== undefined) throw new SnapshotFileError(`damaged snapshot file: ${problem}`);
  const decoded = value as SnapshotFileHeader;
  const header: SnapshotFileHeader = {
    index: decoded.index,
    term: decoded.term,
    members: decoded.members.map((member) => ({ id: member.id, address: member.address, role: member.role })),
    totalBytes: decoded.totalBytes,
    createdAt: decoded.createdAt,
  };
  return { header, dataOffset, fileBytes: dataOffset + header.totalBytes };
}
