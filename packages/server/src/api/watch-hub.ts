// WatchHub: watch subscriptions and the recent event history they resume from (SPEC §4 Watches).
// Events are delivered in log order with their index. A watch that resumes from an index still in
// the history gets every later event exactly once; one whose index was evicted gets a fresh
// snapshot of its prefix instead, taken at the applied index, and then every later event.

import type { LockKind, WatchEvent, WireError } from '@raftlock/protocol';
import { assert } from '../assert.js';

export interface WatchSubscriber {
  readonly watchId: string;
  readonly kind: LockKind | undefined;
  readonly prefix: string;
  /** Events for this watch, batched per event-loop turn. */
  readonly deliver: (events: readonly WatchEvent[]) => void;
  /** The server ends the watch (the client resumes from the last index it saw). */
  readonly end?: (reason: WireError) => void;
}

interface Subscription extends WatchSubscriber {
  /** Events at or below this index were already seen by the client (resume point). */
  readonly seenThroughIndex: number;
}

export class WatchHub {
  /** Events history[historyStart..] are retained; the slots before it are evicted, compacted now and then. */
  private history: WatchEvent[] = [];
  private historyStart = 0;
  /** Events at or below this index are no longer in the history. */
  private evictedThroughIndex: number;
  private readonly subscribers = new Map<string, Subscription>();
  private readonly outbox = new Map<string, WatchEvent[]>();
  private flushScheduled = false;

  constructor(
    private readonly maxHistoryEvents: number,
    startIndex: number,
  ) {
    assert(maxHistoryEvents > 0, 'the history holds at least one event');
    this.evictedThroughIndex = startIndex;
  }

  /** Record events of one applied entry and fan them out. */
  publish(events: readonly WatchEvent[]): void {
    let previousIndex = this.history.length === this.historyStart ? 0 : (this.history.at(-1)?.index ?? 0);
    for (const event of events) {
      assert(event.index >= previousIndex, 'events arrive in log order');
      previousIndex = event.index;
    }
    if (this.subscribers.size > 0) {
      for (const event of events) {
        for (const subscriber of this.subscribers.values()) {
          // A client resuming from an index this member has not applied yet must not see it twice.
          if (event.index > subscriber.seenThroughIndex && matches(subscriber, event)) this.enqueue(subscriber.watchId, event);
        }
      }
    }
    // One entry with more events than the history holds (a session ending with a million locks)
    // would push them all only to evict them: keep its last maxHistoryEvents, the rest are evicted.
    const skipped = Math.max(0, events.length - this.maxHistoryEvents);
    const lastSkipped = events[skipped - 1];
    if (lastSkipped !== undefined) {
      this.history = [];
      this.historyStart = 0;
      this.evictedThroughIndex = lastSkipped.index;
    }
    for (let position = skipped; position < events.length; position++) this.history.push(events[position] as WatchEvent);
    // Evict by moving the start, not by Array.shift(): a full history would otherwise pay O(history)
    // for every event published. The dead prefix is dropped once it is as long as the history itself.
    while (this.history.length - this.historyStart > this.maxHistoryEvents) {
      const evicted = this.history[this.historyStart++];
      if (evicted) this.evictedThroughIndex = evicted.index;
    }
    if (this.historyStart >= this.maxHistoryEvents) {
      this.history = this.history.slice(this.historyStart);
      this.historyStart = 0;
    }
  }

  /**
   * Start a watch. With fromIndex still covered by the history, replays the events after it and
   * returns 'resumed'; otherwise returns 'snapshot' and the caller sends a snapshot of the prefix.
   */
  subscribe(subscriber: WatchSubscriber, fromIndex: number | undefined): 'resumed' | 'snapshot' {
    if (fromIndex === undefined || fromIndex < this.evictedThroughIndex) {
      this.subscribers.set(subscriber.watchId, { ...subscriber, seenThroughIndex: 0 });
      return 'snapshot';
    }
    this.subscribers.set(subscriber.watchId, { ...subscriber, seenThroughIndex: fromIndex });
    for (let position = this.historyStart; position < this.history.length; position++) {
      const event = this.history[position] as WatchEvent;
      if (event.index > fromIndex && matches(subscriber, event)) this.enqueue(subscriber.watchId, event);
    }
    return 'resumed';
  }

  /**
   * The state machine jumped to `index` by installing a snapshot: the events in between were never
   * published here, so no watch can go on as if nothing was missed. Every watch is ended (its client
   * resumes, and gets a fresh snapshot of its prefix because everything up to index is evicted).
   */
  restartAt(index: number, reason: WireError): void {
    this.history = [];
    this.historyStart = 0;
    this.evictedThroughIndex = index;
    this.outbox.clear();
    const ended = [...this.subscribers.values()];
    this.subscribers.clear();
    for (const subscriber of ended) subscriber.end?.(reason);
  }

  unsubscribe(watchId: string): boolean {
    this.outbox.delete(watchId);
    return this.subscribers.delete(watchId);
  }

  get watchCount(): number {
    return this.subscribers.size;
  }

  private enqueue(watchId: string, event: WatchEvent): void {
    let pending = this.outbox.get(watchId);
    if (!pending) {
      pending = [];
      this.outbox.set(watchId, pending);
    }
    pending.push(event);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    // Taken before delivering, so a deliver that throws cannot make the batch go out twice.
    const batches = [...this.outbox];
    this.outbox.clear();
    for (const [watchId, events] of batches) this.subscribers.get(watchId)?.deliver(events);
  }
}

function matches(subscriber: WatchSubscriber, event: WatchEvent): boolean {
  return (subscriber.kind === undefined || subscriber.kind === event.kind) && event.name.startsWith(subscriber.prefix);
}
