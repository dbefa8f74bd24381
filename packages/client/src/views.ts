// What the SDK hands out about locks, elections and watches: the wire shapes of
// @raftlock/protocol with every fencing token as a bigint (SPEC §6: `lock.token` is a bigint), so an
// application compares tokens one way everywhere. Log indexes other than tokens stay numbers.

import type { HolderInfo, LockInfo, LockKind, WaiterInfo, WatchEvent, WatchEventType } from '@raftlock/protocol';

export interface LockHolder {
  readonly sessionId: string;
  readonly clientName: string;
  /** The fencing token: the log index of the entry that granted this hold. */
  readonly token: bigint;
  readonly sinceIndex: number;
  /** The leader's wall clock when it proposed the grant: for display only. */
  readonly sinceTimeMs: number;
  readonly metadata: string;
  /** Elections: the leader's value. */
  readonly value: string;
}

export interface LockState {
  readonly kind: LockKind;
  readonly name: string;
  readonly holder: LockHolder | null;
  readonly waiters: readonly WaiterInfo[];
}

/** One leader of an election, as `observe()` and `leader()` report it. */
export interface ElectionLeader {
  readonly name: string;
  readonly sessionId: string;
  readonly token: bigint;
  readonly value: string;
  /** The log index of the change that made this the current leader or value. */
  readonly index: number;
}

export interface WatchEventItem {
  readonly type: WatchEventType;
  readonly index: number;
  readonly kind: LockKind;
  readonly name: string;
  readonly sessionId: string;
  readonly token?: bigint;
  readonly value?: string;
  readonly metadata?: string;
}

/** The state of the watched prefix at `index`: the first item of a fresh watch, or after a gap. */
export interface WatchSnapshotItem {
  readonly type: 'snapshot';
  readonly index: number;
  readonly locks: readonly LockState[];
}

export type WatchItem = WatchSnapshotItem | WatchEventItem;

export function toLockHolder(holder: HolderInfo): LockHolder {
  return { ...holder, token: BigInt(holder.token) };
}

export function toLockState(info: LockInfo): LockState {
  return { kind: info.kind, name: info.name, holder: info.holder ? toLockHolder(info.holder) : null, waiters: info.waiters };
}

export function toWatchEventItem(event: WatchEvent): WatchEventItem {
  const { token, ...rest } = event;
  return token === undefined ? rest : { ...rest, token: BigInt(token) };
}

/** Tokens go back on the wire as numbers; a token beyond 2^53 cannot have come from a server. */
export function tokenToWire(token: bigint): number {
  if (token < 1n || token > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`token ${token} is not a fencing token`);
  return Number(token);
}
