// Snapshots: consistent backups of the replicated state (`client.snapshot.save(path)`), in the file
// format of @raftlock/protocol's snapshot-file.ts, which `raftlockd --restore FILE` reads.
//
// The leader takes a fresh snapshot for chunk 0 and serves it chunk by chunk; each chunk is written
// to FILE.tmp as it arrives, so memory stays at one chunk (≤ 512 KiB) whatever the state's size.
// When the leader's snapshot moves on meanwhile (it took a newer one, or leadership moved), the
// next chunk is answered UNAVAILABLE and the save starts again from chunk 0, a bounded number of
// times. FILE appears only complete: FILE.tmp is fsynced, then renamed over FILE, then the directory
// is fsynced; on any failure FILE.tmp is removed and FILE is left as it was.
//
// Invariants: the chunks written all carry the same index, term, chunkCount and totalBytes; they are
// written in order with none skipped; exactly totalBytes bytes of data follow the header.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  encodeSnapshotFileHeader,
  InternalError,
  isRetriable,
  isServiceError,
  isWholeNumber,
  protocolLimits,
  UnavailableError,
  type ErrorCode,
  type MemberInfo,
  type SnapshotChunk,
  type SnapshotFileHeader,
} from '@raftlock/protocol';
import type { ClientCall } from './members.js';

export interface SaveSnapshotOptions {
  readonly signal?: AbortSignal;
  /** Called after each chunk is written; `restarts` counts starts-over after the snapshot changed. */
  readonly onProgress?: (progress: SnapshotProgress) => void;
}

export interface SnapshotProgress {
  readonly index: number;
  readonly writtenBytes: number;
  readonly totalBytes: number;
  readonly restarts: number;
}

export interface SavedSnapshot {
  readonly path: string;
  /** The last log index the backup covers, and its term. */
  readonly index: number;
  readonly term: number;
  /** The configuration at index, as written in the file's header. */
  readonly members: readonly MemberInfo[];
  /** Snapshot data bytes, and the whole file's size (header included). */
  readonly totalBytes: number;
  readonly fileBytes: number;
  readonly createdAt: string;
  /** How many times the save started over because the leader's snapshot changed. */
  readonly restarts: number;
}

/** Starts-over after which the save gives up: the leader keeps changing its snapshot or its leadership. */
const maxRestarts = 3;

/** Chunk 0's `UNAVAILABLE` means no leader yet (retry); a later chunk's means the snapshot changed (start over). */
const retryLaterChunk = (code: ErrorCode): boolean => code !== 'UNAVAILABLE' && isRetriable(code);

type Attempt = { readonly kind: 'saved'; readonly header: SnapshotFileHeader; readonly fileBytes: number } | { readonly kind: 'changed' };

export class Snapshots {
  /** Use client.snapshot. */
  constructor(
    private readonly call: ClientCall,
    private readonly requestTimeoutMs: number,
  ) {}

  /**
   * Save a consistent backup of the replicated state to `path` (for `raftlockd --restore`). Admin.
   * Each request is retried until the client's requestTimeoutMs; the whole save takes as long as the
   * state needs.
   */
  async save(path: string, options: SaveSnapshotOptions = {}): Promise<SavedSnapshot> {
    const temporaryPath = `${path}.tmp`;
    try {
      for (let restarts = 0; ; restarts++) {
        options.signal?.throwIfAborted();
        const attempt = await this.writeAttempt(temporaryPath, restarts, options);
        if (attempt.kind === 'saved') {
          await rename(temporaryPath, path);
          await syncDirectory(dirname(path));
          const { header } = attempt;
          return { path, index: header.index, term: header.term, members: header.members, totalBytes: header.totalBytes, fileBytes: attempt.fileBytes, createdAt: header.createdAt, restarts };
        }
        if (restarts >= maxRestarts) throw new UnavailableError(`snapshot save: the leader's snapshot changed ${restarts + 1} times while it was being read; try again later`);
      }
    } catch (error) {
      await rm(temporaryPath, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** One pass from chunk 0 into temporaryPath (truncated first): saved, or the snapshot changed under it. */
  private async writeAttempt(temporaryPath: string, restarts: number, options: SaveSnapshotOptions): Promise<Attempt> {
    const first = await this.readChunk({ chunk: 0 }, undefined, options);
    const members = first.members ?? (await this.currentMembers(first.index, options));
    if (members === undefined) return { kind: 'changed' };
    const header: SnapshotFileHeader = { index: first.index, term: first.term, members, totalBytes: first.totalBytes, createdAt: new Date().toISOString() };
    const prefix = encodeSnapshotFileHeader(header);
    const file = await open(temporaryPath, 'w', 0o600);
    try {
      await writeAll(file, prefix);
      await writeAll(file, first.data);
      let writtenBytes = first.data.byteLength;
      options.onProgress?.({ index: first.index, writtenBytes, totalBytes: first.totalBytes, restarts });
      for (let chunk = 1; chunk < first.chunkCount; chunk++) {
        let next: SnapshotChunk;
        try {
          next = await this.readChunk({ chunk, index: first.index }, first, options);
        } catch (error) {
          if (isServiceError(error) && error.code === 'UNAVAILABLE') return { kind: 'changed' };
          throw error;
        }
        if (writtenBytes + next.data.byteLength > first.totalBytes) throw new InternalError(`snapshot save: chunk ${chunk} goes past the snapshot's ${first.totalBytes} bytes`);
        await writeAll(file, next.data);
        writtenBytes += next.data.byteLength;
        options.onProgress?.({ index: first.index, writtenBytes, totalBytes: first.totalBytes, restarts });
      }
      if (writtenBytes !== first.totalBytes) throw new InternalError(`snapshot save: the ${first.chunkCount} chunks hold ${writtenBytes} bytes, not the snapshot's ${first.totalBytes}`);
      await file.sync();
      return { kind: 'saved', header, fileBytes: prefix.byteLength + writtenBytes };
    } finally {
      await file.close();
    }
  }

  /**
   * The configuration at the snapshot's index, for a member that does not send it with chunk 0: the
   * current one, unless a change was applied after the snapshot was taken (undefined: take a newer
   * snapshot, which includes it).
   */
  private async currentMembers(index: number, options: SaveSnapshotOptions): Promise<readonly MemberInfo[] | undefined> {
    const { result } = await this.call('members.list', {}, { deadlineMs: performance.now() + this.requestTimeoutMs, ...signalOf(options) });
    return result.configIndex > index ? undefined : result.members;
  }

  /** One chunk, checked against what chunk 0 said (a member that breaks the contract is a bug, not a retry). */
  private async readChunk(args: { chunk: number; index?: number }, first: SnapshotChunk | undefined, options: SaveSnapshotOptions): Promise<SnapshotChunk> {
    const { result } = await this.call('snapshot.read', args, {
      deadlineMs: performance.now() + this.requestTimeoutMs,
      ...(first === undefined ? {} : { retryOn: retryLaterChunk }),
      ...signalOf(options),
    });
    const problem = chunkProblem(result, args.chunk, first);
    if (problem !== undefined) throw new InternalError(`snapshot save: the member's chunk ${args.chunk} ${problem}`);
    return result;
  }
}

function chunkProblem(chunk: SnapshotChunk, expected: number, first: SnapshotChunk | undefined): string | undefined {
  if (typeof chunk !== 'object' || chunk === null) return 'is not a map';
  if (chunk.chunk !== expected) return `says it is chunk ${String(chunk.chunk)}`;
  if (!isWholeNumber(chunk.index) || !isWholeNumber(chunk.term) || !isWholeNumber(chunk.totalBytes) || !isWholeNumber(chunk.chunkCount)) return 'has a malformed index, term, totalBytes or chunkCount';
  if (!(chunk.data instanceof Uint8Array)) return 'has no binary data';
  if (chunk.data.byteLength > protocolLimits.maxSnapshotChunkBytes) return `carries ${chunk.data.byteLength} bytes (at most ${protocolLimits.maxSnapshotChunkBytes})`;
  // Every chunk carries data, so chunkCount bounds the work by totalBytes (an empty snapshot is one empty chunk).
  if (chunk.chunkCount < 1 || chunk.chunkCount > Math.max(1, chunk.totalBytes)) return `claims ${chunk.chunkCount} chunks for ${chunk.totalBytes} bytes`;
  if (chunk.data.byteLength === 0 && chunk.totalBytes > 0) return 'is empty';
  if (chunk.members !== undefined && !Array.isArray(chunk.members)) return 'has a malformed members list';
  if (first === undefined) return undefined;
  if (chunk.index !== first.index || chunk.term !== first.term) return `is of the snapshot at index ${chunk.index} (term ${chunk.term}), not ${first.index} (term ${first.term})`;
  if (chunk.chunkCount !== first.chunkCount || chunk.totalBytes !== first.totalBytes) return 'disagrees with chunk 0 on chunkCount or totalBytes';
  return undefined;
}

function signalOf(options: SaveSnapshotOptions): { signal?: AbortSignal } {
  return options.signal === undefined ? {} : { signal: options.signal };
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.byteLength - offset);
    if (bytesWritten <= 0) throw new Error('snapshot save: the file took no bytes');
    offset += bytesWritten;
  }
}

/** Make the rename durable: fsync the directory entry (not possible on every platform: skipped there). */
async function syncDirectory(directory: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(directory, 'r');
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw error;
  } finally {
    await handle?.close();
  }
}
