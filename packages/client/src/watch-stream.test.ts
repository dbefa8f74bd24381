import { afterEach, expect, test } from 'vitest';
import type { WatchEvent } from '@raftlock/protocol';
import { connect, type Client } from './client.js';
import { FakeMember, waitUntil, type ReceivedRequest } from './fake-member.fixture.js';
import type { ElectionLeader, WatchItem } from './views.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(): Promise<{ fake: FakeMember; sdk: Client }> {
  const fake = await FakeMember.start();
  cleanups.push(() => fake.stop());
  const sdk = await connect({ endpoints: [fake.address] });
  cleanups.push(() => sdk.close());
  return { fake, sdk };
}

function event(index: number, type: WatchEvent['type'], name: string, sessionId: string, extra: Partial<WatchEvent> = {}): WatchEvent {
  return { index, type, kind: 'election', name, sessionId, ...extra };
}

/** Reply to a watch.start and push events right behind it, in the same TCP write. */
function answerWithPushes(fake: FakeMember, received: ReceivedRequest, watchId: string, result: object, events: WatchEvent[]): void {
  const raw = (received.socket as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  raw.cork();
  fake.ok(received, { watchId, ...result });
  if (events.length > 0) fake.push(received.socket, { watch: watchId, events });
  raw.uncork();
}

async function take<T>(iterator: AsyncIterableIterator<T>, count: number): Promise<T[]> {
  const items: T[] = [];
  while (items.length < count) {
    const next = await iterator.next();
    if (next.done) break;
    items.push(next.value);
  }
  return items;
}

test('a watch resumes after a reconnect from the last index it delivered, with no gap and no repeat', async () => {
  const { fake, sdk } = await setup();
  fake.script = (received, member) => {
    if (received.request.op !== 'watch.start') return;
    const starts = member.requests('watch.start').length;
    if (starts === 1) {
      answerWithPushes(member, received, 'w1', { index: 10, snapshot: [] }, [
        { ...event(11, 'acquired', 'jobs/a', 's1', { token: 11 }), kind: 'lock' },
        { ...event(12, 'released', 'jobs/a', 's1', { token: 11 }), kind: 'lock' },
        { ...event(12, 'acquired', 'jobs/a', 's2', { token: 12 }), kind: 'lock' },
      ]);
      setTimeout(() => member.dropConnections(), 50);
    } else {
      // Resumed: the member replays from fromIndex; a lagging or restarted member may send older
      // events again, which the SDK must not repeat.
      answerWithPushes(member, received, 'w2', { index: 14, snapshot: null }, [
        { ...event(12, 'acquired', 'jobs/a', 's2', { token: 12 }), kind: 'lock' },
        { ...event(13, 'queued', 'jobs/a', 's3'), kind: 'lock' },
      ]);
    }
  };
  const watch = sdk.watch('jobs/');
  const items = await take(watch, 5);
  await watch.return?.();
  expect(fake.requests('watch.start').map((received) => received.request.args)).toEqual([{ prefix: 'jobs/' }, { prefix: 'jobs/', fromIndex: 12 }]);
  expect(items.map((item: WatchItem) => `${item.index}:${item.type}`)).toEqual(['10:snapshot', '11:acquired', '12:released', '12:acquired', '13:queued']);
  expect(items[1]).toMatchObject({ token: 11n, name: 'jobs/a' });
  await waitUntil(() => fake.requests('watch.cancel').length === 1, 1_000, 'watch.cancel');
});

test('observe yields the current leader, then each change once: one entry that hands over is one change, and null when nobody leads', async () => {
  const { fake, sdk } = await setup();
  fake.script = (received, member) => {
    if (received.request.op !== 'watch.start') return;
    const holder = { sessionId: 's1', clientName: 'a', token: 5, sinceIndex: 5, sinceTimeMs: 0, metadata: '', value: 'a:80' };
    answerWithPushes(member, received, 'w1', { index: 9, snapshot: [{ kind: 'election', name: 'sched', holder, waiters: [] }] }, [
      event(10, 'queued', 'sched', 's2', { value: 'b:80' }),
      event(10, 'acquired', 'scheduler-2', 's9', { token: 10, value: 'other election, same prefix' }),
      event(11, 'value', 'sched', 's1', { token: 5, value: 'a:81' }),
      event(12, 'expired', 'sched', 's1', { token: 5 }),
      event(12, 'acquired', 'sched', 's2', { token: 12, value: 'b:80' }),
      event(12, 'value', 'sched', 's2', { token: 12, value: 'b:80' }),
      event(13, 'released', 'sched', 's2', { token: 12 }),
    ]);
  };
  const observer = sdk.observe('sched');
  const leaders = await take(observer, 4);
  await observer.return?.();
  expect(fake.requests('watch.start')[0]?.request.args).toEqual({ prefix: 'sched', kind: 'election' });
  const summary = (leader: ElectionLeader | null) => (leader === null ? null : `${leader.sessionId}/${leader.token}/${leader.value}@${leader.index}`);
  expect(leaders.map(summary)).toEqual(['s1/5/a:80@5', 's1/5/a:81@11', 's2/12/b:80@12', null]);
});
