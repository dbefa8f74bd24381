// Resumable watches (SPEC §4 Watches) and election observation built on them.
//
// A watch is (re)started on every new socket with fromIndex = the last log index it delivered, so a
// reconnect — to the same member or another — neither drops nor repeats an event: the member
// replays what came after that index, or answers with a fresh snapshot when the index has left its
// history (the stream then yields that snapshot, so the consumer can start over).
//
// Invariants:
//   - delivered event indexes never decrease, and no event at or below an index already delivered
//     by an earlier push is delivered again (all events of one log entry arrive in one push);
//   - at most one watch.start is in flight per stream; pushes are taken only for the current watch id.

import { performance } from 'node:perf_hooks';
import { nanoid } from 'nanoid';
import type { LockKind, OperationResult, ServerPush } from '@raftlock/protocol';
import { AsyncQueue } from './async-queue.js';
import type { Connection } from './connection.js';
import { toLockState, toWatchEventItem, type ElectionLeader, type WatchEventItem, type WatchItem, type WatchSnapshotItem } from './views.js';

export interface WatchOptions {
  /** Only locks or only elections; both by default. */
  readonly kind?: LockKind;
  /** Resume after this log index (the last one you saw) instead of starting with a snapshot. */
  readonly fromIndex?: number;
  /** End the stream with an error when the consumer falls this many items behind (default 100 000). */
  readonly maxBufferedItems?: number;
}

export interface ObserveOptions {
  readonly maxBufferedItems?: number;
}

const defaultMaxBufferedItems = 100_000;

/** The plumbing of one watch: delivers snapshots and events in order, across reconnects. */
class ResumableWatch {
  private lastIndex: number | undefined;
  private watchId: string | undefined;
  private subscribing = false;
  private stopped = false;
  /** The id of the watch.start in flight, if any. */
  private startId: string | undefined;
  private detachPush: (() => void) | undefined;
  private readonly detachReady: () => void;

  constructor(
    private readonly connection: Connection,
    private readonly prefix: string,
    private readonly kind: LockKind | undefined,
    fromIndex: number | undefined,
    private readonly sink: { snapshot(item: WatchSnapshotItem): void; events(items: readonly WatchEventItem[]): void; fail(error: unknown): void },
  ) {
    this.lastIndex = fromIndex;
    this.detachReady = connection.onReady(() => this.subscribe());
    this.subscribe();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    // A start never sent is dropped; one already sent is cancelled when its answer comes (onResult).
    if (this.startId !== undefined && !this.connection.wasSent(this.startId)) this.connection.abandon(this.startId, new Error('watch stopped'));
    this.detachReady();
    this.detachPush?.();
    const watchId = this.watchId;
    this.watchId = undefined;
    if (watchId !== undefined) this.cancelOnServer(watchId);
  }

  private cancelOnServer(watchId: string): void {
    if (this.connection.isReady) this.connection.call('watch.cancel', { watchId }, { deadlineMs: performance.now() + 5000 }).catch(() => undefined);
  }

  private subscribe(): void {
    if (this.stopped || this.subscribing) return;
    this.subscribing = true;
    this.detachPush?.();
    this.watchId = undefined;
    const args = { prefix: this.prefix, ...(this.kind === undefined ? {} : { kind: this.kind }), ...(this.lastIndex === undefined ? {} : { fromIndex: this.lastIndex }) };
    const onResult = (result: OperationResult<'watch.start'>) => {
      // Synchronously with the reply: the replayed events may be in the very next frame.
      this.subscribing = false;
      this.startId = undefined;
      if (this.stopped) {
        this.cancelOnServer(result.watchId);
        return;
      }
      this.watchId = result.watchId;
      this.detachPush = this.connection.onPush(result.watchId, (push) => this.onPush(push));
      if (result.snapshot !== null) {
        this.lastIndex = result.index;
        this.sink.snapshot({ type: 'snapshot', index: result.index, locks: result.snapshot.map(toLockState) });
      }
    };
    this.startId = nanoid();
    this.connection.call('watch.start', args, { id: this.startId, onResult }).catch((error: unknown) => {
      this.subscribing = false;
      this.startId = undefined;
      if (!this.stopped) this.sink.fail(error);
    });
  }

  private onPush(push: ServerPush): void {
    if (this.stopped || push.watch !== this.watchId) return;
    const threshold = this.lastIndex ?? -1;
    const fresh = push.events.filter((event) => event.index > threshold);
    if (fresh.length > 0) {
      this.lastIndex = Math.max(threshold, ...fresh.map((event) => event.index));
      this.sink.events(fresh.map(toWatchEventItem));
    }
    if (push.ended !== undefined) {
      // The member ended the watch (it fell behind or stepped down): resume from the last index.
      this.watchId = undefined;
      this.detachPush?.();
      this.subscribe();
    }
  }
}

/** A stream of watch items for a prefix: a snapshot first (unless fromIndex), then every event. */
export function openWatch(connection: Connection, prefix: string, options: WatchOptions = {}): AsyncIterableIterator<WatchItem> {
  const stopper: { stop?: () => void } = {};
  const queue = new AsyncQueue<WatchItem>(options.maxBufferedItems ?? defaultMaxBufferedItems, () => stopper.stop?.());
  const watch = new ResumableWatch(connection, prefix, options.kind, options.fromIndex, {
    snapshot: (item) => queue.push(item),
    events: (items) => {
      for (const item of items) queue.push(item);
    },
    fail: (error) => queue.end(error),
  });
  stopper.stop = () => watch.stop();
  return queue;
}

/**
 * Every change of an election's leader or value, starting with the current state: an
 * ElectionLeader, or null while nobody leads. Each change is yielded once, in log order, across
 * reconnects. Changes made by one log entry (a resignation that promotes the next candidate) are
 * one change.
 */
export function observeElection(connection: Connection, name: string, options: ObserveOptions = {}): AsyncIterableIterator<ElectionLeader | null> {
  const stopper: { stop?: () => void } = {};
  const queue = new AsyncQueue<ElectionLeader | null>(options.maxBufferedItems ?? defaultMaxBufferedItems, () => stopper.stop?.());
  let current: ElectionLeader | null = null;
  let yielded: { leader: ElectionLeader | null } | undefined;
  const publish = () => {
    if (yielded !== undefined && sameLeader(yielded.leader, current)) return;
    yielded = { leader: current };
    queue.push(current);
  };
  const watch = new ResumableWatch(connection, name, 'election', undefined, {
    snapshot: (item) => {
      const holder = item.locks.find((lock) => lock.name === name)?.holder ?? null;
      current = holder ? { name, sessionId: holder.sessionId, token: holder.token, value: holder.value, index: holder.sinceIndex } : null;
      publish();
    },
    events: (items) => {
      let index: number | undefined;
      for (const event of items) {
        if (event.name !== name) continue; // the prefix also matches longer names
        if (index !== undefined && event.index !== index) publish();
        index = event.index;
        current = applyElectionEvent(current, event);
      }
      if (index !== undefined) publish();
    },
    fail: (error) => queue.end(error),
  });
  stopper.stop = () => watch.stop();
  return queue;
}

function applyElectionEvent(current: ElectionLeader | null, event: WatchEventItem): ElectionLeader | null {
  switch (event.type) {
    case 'acquired':
      return { name: event.name, sessionId: event.sessionId, token: event.token ?? 0n, value: event.value ?? '', index: event.index };
    case 'value':
      if (current === null || current.token !== event.token) return current;
      return { ...current, value: event.value ?? '', index: event.index };
    case 'released':
    case 'expired':
      return current !== null && current.token === event.token ? null : current;
    case 'queued':
    case 'cancelled':
      return current;
  }
}

function sameLeader(left: ElectionLeader | null, right: ElectionLeader | null): boolean {
  if (left === null || right === null) return left === right;
  return left.sessionId === right.sessionId && left.token === right.token && left.value === right.value;
}
