// ChaosObserver: the run's eyes on the cluster, through its own SDK client (never faulted by the
// nemesis). It records into the History
//   - every watch event under the chaos prefix, in log order, across its own reconnects, and every
//     snapshot the watch had to start over with (a gap: events in it were not seen);
//   - the session list every couple of seconds (stale reads: any committed state will do), so a
//     session.open applied twice shows up as two sessions with one name;
// and reads the final state (locks, election leaders, sessions) with linearizable reads.

import { connect, type Client, type WatchItem } from '@raftlock/client';
import { sleep } from '../e2e/local-cluster.js';
import type { FinalLock, FinalSession, History, HistoryEntry } from './history.js';

export interface ChaosObserverOptions {
  readonly endpoints: readonly string[];
  readonly token: string;
  readonly history: History;
  readonly prefix: string;
  readonly requestTimeoutMs: number;
  readonly sessionPollIntervalMs: number;
}

export class ChaosObserver {
  private lastIndex: number | undefined;
  private stopped = false;
  private currentWatch: AsyncIterableIterator<WatchItem> | undefined;
  private readonly watching: Promise<void>;
  private readonly polling: Promise<void>;

  private constructor(
    readonly client: Client,
    private readonly options: ChaosObserverOptions,
  ) {
    this.watching = this.watchLoop();
    this.polling = this.pollLoop();
  }

  static async start(options: ChaosObserverOptions): Promise<ChaosObserver> {
    const client = await connect({ endpoints: options.endpoints, token: options.token, requestTimeoutMs: options.requestTimeoutMs });
    return new ChaosObserver(client, options);
  }

  /** The index of the last event or snapshot delivered. */
  get lastDeliveredIndex(): number | undefined {
    return this.lastIndex;
  }

  /** Wait until a recorded watch event satisfies predicate; false after timeoutMs. */
  async waitForEvent(predicate: (event: Extract<HistoryEntry, { kind: 'watch-event' }>) => boolean, timeoutMs: number): Promise<boolean> {
    const deadlineMs = performance.now() + timeoutMs;
    const entries = this.options.history.entries;
    for (let scanned = 0; ; ) {
      for (; scanned < entries.length; scanned++) {
        const entry = entries[scanned] as HistoryEntry;
        if (entry.kind === 'watch-event' && predicate(entry)) return true;
      }
      if (performance.now() > deadlineMs) return false;
      await sleep(50);
    }
  }

  /** Locks under the prefix, the election leaders, and every session: linearizable reads. */
  async readFinal(electionNames: readonly string[]): Promise<{ locks: FinalLock[]; sessions: FinalSession[] }> {
    const lockStates = await this.client.locks({ prefix: this.options.prefix });
    const locks: FinalLock[] = lockStates.map((state) => ({
      kind: 'lock',
      name: state.name,
      holder: state.holder ? { sessionId: state.holder.sessionId, token: Number(state.holder.token), metadata: state.holder.metadata, value: state.holder.value } : null,
      waiterSessionIds: state.waiters.map((waiter) => waiter.sessionId),
    }));
    for (const name of electionNames) {
      const leader = await this.client.leader(name);
      if (leader) locks.push({ kind: 'election', name, holder: { sessionId: leader.sessionId, token: Number(leader.token), metadata: '', value: leader.value }, waiterSessionIds: [] });
    }
    const sessions = (await this.client.sessions()).map((session) => ({ sessionId: session.sessionId, clientName: session.clientName, heldLocks: session.heldLocks, waits: session.waits }));
    return { locks, sessions };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.currentWatch?.return?.();
    await Promise.allSettled([this.watching, this.polling]);
    await this.client.close();
  }

  private async watchLoop(): Promise<void> {
    const { history } = this.options;
    while (!this.stopped) {
      // The SDK resumes across reconnects by itself; a new stream is needed only if one ends.
      const watch = this.client.watch(this.options.prefix, this.lastIndex === undefined ? {} : { fromIndex: this.lastIndex });
      this.currentWatch = watch;
      try {
        for await (const item of watch) {
          if (item.type === 'snapshot') {
            history.record({ kind: 'watch-snapshot', index: item.index, afterIndex: this.lastIndex ?? null });
          } else {
            history.record({
              kind: 'watch-event',
              index: item.index,
              type: item.type,
              lockKind: item.kind,
              name: item.name,
              session: item.sessionId,
              ...(item.token === undefined ? {} : { token: Number(item.token) }),
              ...(item.metadata === undefined ? {} : { metadata: item.metadata }),
              ...(item.value === undefined ? {} : { value: item.value }),
            });
          }
          this.lastIndex = item.index;
        }
        if (!this.stopped) history.record({ kind: 'watch-ended', reason: 'the stream ended' });
      } catch (error) {
        if (!this.stopped) history.record({ kind: 'watch-ended', reason: error instanceof Error ? error.message : String(error) });
      }
      if (!this.stopped) await sleep(100);
    }
  }

  private async pollLoop(): Promise<void> {
    while (!this.stopped) {
      await sleep(this.options.sessionPollIntervalMs);
      if (this.stopped) return;
      try {
        const sessions = await this.client.sessions({ stale: true });
        this.options.history.record({ kind: 'sessions-seen', sessions: sessions.map((session) => ({ sessionId: session.sessionId, clientName: session.clientName })) });
      } catch {
        // Under chaos a read may fail; the next poll tries again.
      }
    }
  }
}
