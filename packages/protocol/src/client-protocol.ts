// The client protocol on /v1/client (SPEC §5): one msgpack-encoded message per binary WebSocket
// frame. A request is `{ id, op, args }`; its reply `{ id, ok: true, result }` or
// `{ id, ok: false, error }`; a server push `{ watch, events }`. The request id doubles as the
// exactly-once key of a mutating request: a retry reuses it and gets the original result.
//
// Every op's arguments and result are typed here, once, for the server, the SDK and the CLI.

import type { WireError } from './service-error.js';

export type LockKind = 'lock' | 'election';

export interface HolderInfo {
  readonly sessionId: string;
  readonly clientName: string;
  /** The fencing token: the log index of the entry that granted this hold. */
  readonly token: number;
  readonly sinceIndex: number;
  /** The leader's wall clock when it proposed the grant: for display only, never for a decision. */
  readonly sinceTimeMs: number;
  readonly metadata: string;
  /** Elections: the leader's value. */
  readonly value: string;
}

export interface WaiterInfo {
  readonly sessionId: string;
  readonly clientName: string;
  readonly sinceIndex: number;
}

export interface LockInfo {
  readonly kind: LockKind;
  readonly name: string;
  readonly holder: HolderInfo | null;
  readonly waiters: readonly WaiterInfo[];
}

export interface SessionInfo {
  readonly sessionId: string;
  readonly clientName: string;
  readonly ttlMs: number;
  readonly createdIndex: number;
  readonly createdTimeMs: number;
  /** Locks it holds plus elections it leads (both are holds of a name). */
  readonly heldLocks: number;
  /** Locks and elections it is queued on. */
  readonly waits: number;
}

export type WatchEventType = 'acquired' | 'released' | 'expired' | 'queued' | 'cancelled' | 'value';

export interface WatchEvent {
  /** The log index of the entry that caused the event; events arrive in log order. */
  readonly index: number;
  readonly type: WatchEventType;
  readonly kind: LockKind;
  readonly name: string;
  readonly sessionId: string;
  readonly token?: number;
  readonly value?: string;
  readonly metadata?: string;
}

export interface MemberStatus {
  readonly id: string;
  readonly address: string;
  /** 'learner': a non-voting member catching up (members.add promotes it to voter once it has). */
  readonly role: 'leader' | 'follower' | 'candidate' | 'preCandidate' | 'learner' | 'unknown';
  readonly reachable: boolean;
  /** Leader's view of the member's log (matchIndex), when this member is the leader. */
  readonly matchIndex?: number;
}

export interface ClusterStatus {
  readonly nodeId: string;
  readonly address: string;
  readonly role: 'leader' | 'follower' | 'candidate' | 'preCandidate';
  readonly leaderId: string | null;
  readonly leaderAddress: string | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly members: readonly MemberStatus[];
}

/** One member of the cluster's configuration (its Raft membership). */
export interface MemberInfo {
  /** [a-z0-9-]{1,32}, as given to raftlockd --id. */
  readonly id: string;
  /** host:port that members and clients use to reach it (its --advertise address). */
  readonly address: string;
  /** Learners receive the log but do not vote and do not count toward a majority. */
  readonly role: 'voter' | 'learner';
}

/** One chunk of the leader's snapshot (snapshot.read), for backups (`raftlock snapshot save`). */
export interface SnapshotChunk {
  /** The last log index the snapshot covers; the same in every chunk of one snapshot. */
  readonly index: number;
  /** The term of the entry at index. */
  readonly term: number;
  /** 0-based position of this chunk. */
  readonly chunk: number;
  readonly chunkCount: number;
  /** The snapshot's whole size: the chunks' data, concatenated in order, is exactly this long. */
  readonly totalBytes: number;
  /** At most protocolLimits.maxSnapshotChunkBytes. */
  readonly data: Uint8Array;
  /**
   * The configuration at index (the snapshot's own), when the member reports it; a backup's header
   * takes it from here, else from members.list when no configuration change is newer than index.
   */
  readonly members?: readonly MemberInfo[];
}

/**
 * Membership changes and leadership transfers wait for the cluster; timeoutMs (100 ms–10 min) bounds
 * the wait, after which the member answers TIMEOUT. The SDK sends its own deadline here.
 */
interface AdminWaitArgs {
  readonly timeoutMs?: number;
}

/** Reads are linearizable (ReadIndex through the leader) unless `stale` asks any member to answer. */
interface ReadArgs {
  readonly stale?: boolean;
}

/** Every op: its arguments and its result. */
export interface Operations {
  'session.open': { args: { ttlMs?: number; name?: string }; result: { sessionId: string; ttlMs: number } };
  'session.keepalive': { args: { sessionId: string }; result: { ttlMs: number } };
  'session.close': { args: { sessionId: string }; result: { closed: true } };
  'session.list': { args: ReadArgs; result: { sessions: SessionInfo[]; index: number; stale: boolean } };
  'lock.acquire': {
    args: { sessionId: string; name: string; mode: 'wait' | 'try'; metadata?: string };
    result: { name: string; sessionId: string; token: number };
  };
  'lock.cancel': { args: { sessionId: string; name: string }; result: { cancelled: boolean } };
  'lock.release': { args: { sessionId: string; name: string; token: number }; result: { released: true } };
  'lock.forceRelease': { args: { name: string }; result: { released: boolean; previousSessionId: string | null } };
  'lock.get': { args: ReadArgs & { name: string }; result: { lock: LockInfo | null; index: number; stale: boolean } };
  'lock.list': { args: ReadArgs & { prefix?: string; limit?: number }; result: { locks: LockInfo[]; index: number; stale: boolean } };
  'election.campaign': { args: { sessionId: string; name: string; value: string }; result: { name: string; sessionId: string; token: number } };
  'election.cancel': { args: { sessionId: string; name: string }; result: { cancelled: boolean } };
  'election.proclaim': { args: { sessionId: string; name: string; token: number; value: string }; result: { proclaimed: true } };
  'election.resign': { args: { sessionId: string; name: string; token: number }; result: { released: true } };
  'election.leader': { args: ReadArgs & { name: string }; result: { leader: HolderInfo | null; index: number; stale: boolean } };
  'watch.start': {
    args: { kind?: LockKind; prefix: string; fromIndex?: number };
    /** `snapshot` is present when the watch starts fresh (no fromIndex, or it was compacted away). */
    result: { watchId: string; index: number; snapshot: LockInfo[] | null };
  };
  'watch.cancel': { args: { watchId: string }; result: { cancelled: boolean } };
  'cluster.status': { args: Record<string, never>; result: ClusterStatus };
  /** The configuration as this member knows it (like cluster.status, answered by any member). */
  'members.list': { args: Record<string, never>; result: { members: MemberInfo[]; leaderId: string | null; configIndex: number } };
  /** Adds the member as a learner, waits for it to catch up, then promotes it to voter. Leader only. */
  'members.add': { args: AdminWaitArgs & { id: string; address: string }; result: { members: MemberInfo[] } };
  'members.remove': { args: AdminWaitArgs & { id: string }; result: { members: MemberInfo[] } };
  /** Without id: to the most up-to-date voter. Resolves once another member leads. */
  'members.transferLeader': { args: AdminWaitArgs & { id?: string }; result: { leaderId: string } };
  /**
   * Chunk 0 without index takes a fresh snapshot first; later chunks pass the index chunk 0 gave.
   * When the leader's snapshot has moved on (or leadership moved) meanwhile: UNAVAILABLE, start again.
   */
  'snapshot.read': { args: { chunk: number; index?: number }; result: SnapshotChunk };
}

export type OperationName = keyof Operations;
export type OperationArgs<Op extends OperationName> = Operations[Op]['args'];
export type OperationResult<Op extends OperationName> = Operations[Op]['result'];

/**
 * Ops that change the replicated state: they go through the log and are deduplicated by request id.
 * The members.* changes are not here: they are Raft configuration changes, not lock commands, and a
 * retry of one is made safe by the server treating "already done" as done, not by a dedupe table.
 */
export const mutatingOperations: ReadonlySet<OperationName> = new Set<OperationName>([
  'session.open',
  'session.close',
  'lock.acquire',
  'lock.cancel',
  'lock.release',
  'lock.forceRelease',
  'election.campaign',
  'election.cancel',
  'election.proclaim',
  'election.resign',
]);

export interface ClientRequest<Op extends OperationName = OperationName> {
  readonly id: string;
  readonly op: Op;
  readonly args: OperationArgs<Op>;
}

export type ClientReply =
  | { readonly id: string; readonly ok: true; readonly result: unknown }
  | { readonly id: string; readonly ok: false; readonly error: WireError };

export interface ServerPush {
  readonly watch: string;
  readonly events: readonly WatchEvent[];
  /**
   * Set when the server ends the watch (e.g. the member lost leadership or fell behind): resume with
   * `fromIndex` = the last index seen.
   */
  readonly ended?: WireError;
}

/**
 * A member's last message before it closes the connection on purpose (SIGTERM): reconnect now, to
 * `leader` when it is given (the member it handed leadership to, or the leader it follows), instead
 * of searching the endpoints. Additive: a client that does not know it ignores it, since it carries
 * neither `id` nor `watch`; the close that follows is what such a client acts on.
 */
export interface GoAwayNotice {
  readonly goAway: { readonly reason: string; readonly leader?: string };
}

export type ServerMessage = ClientReply | ServerPush | GoAwayNotice;
