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
  readonly heldLocks: number;
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
  readonly role: 'leader' | 'follower' | 'candidate' | 'preCandidate' | 'unknown';
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
}

export type OperationName = keyof Operations;
export type OperationArgs<Op extends OperationName> = Operations[Op]['args'];
export type OperationResult<Op extends OperationName> = Operations[Op]['result'];

/** Ops that change the replicated state: they go through the log and are deduplicated by request id. */
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

export type ServerMessage = ClientReply | ServerPush;
