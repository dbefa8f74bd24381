// SnapshotChunk: a piece of a snapshot's bytes on its way to a follower (paper §7's InstallSnapshot
// `offset`/`data`/`done`, split from the metadata). Only the transports of the two members see it:
// the sender streams chunks 0..chunkCount-1 in order, then the core's InstallSnapshot message; the
// receiver stages the chunks and hands InstallSnapshot to its core only once every chunk of that
// snapshot has arrived, so the core never sees a snapshot whose bytes are not all here.

import type { NodeId, Term } from '../ids.js';
import type { LogIndex } from '../ids.js';
import type { Message } from '../raft/messages.js';

export interface SnapshotChunk {
  readonly type: 'SnapshotChunk';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  readonly snapshotIndex: LogIndex;
  readonly snapshotTerm: Term;
  readonly chunk: number;
  readonly chunkCount: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
}

/** What travels between members' transports. */
export type PeerWireMessage = Message | SnapshotChunk;
