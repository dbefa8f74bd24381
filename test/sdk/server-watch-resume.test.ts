// What the SDK's resumable watches rely on from the member (SPEC §4): a watch resumed with
// `fromIndex` on a member that has not yet applied up to fromIndex — a follower catching up after a
// restart — is never sent the events at or below fromIndex as that member applies them. (Found
// while building the SDK; fixed in the member by 146abc1, "watch resume drops already-seen events".
// The SDK also drops such repeats by index, but raw protocol clients depend on the member.)

import { expect, test } from 'vitest';
import type { ServerPush } from '@raftlock/protocol';
import { LocalCluster, sleep } from '../e2e/local-cluster.js';
import { expectOk, ProtocolClient } from '../e2e/protocol-client.js';
import { RetryingClient } from '../e2e/retrying-client.js';
import { eventually } from './sdk-test-helpers.js';

test('a watch resumed on a member that is still catching up gets no event at or below its fromIndex', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const addresses = () => cluster.members.filter((member) => member.process).map((member) => member.address);
  const leader = await cluster.leader();
  const follower = cluster.members.find((member) => member.id !== leader.id)!;
  await cluster.kill(follower.id, 'SIGKILL');

  // Events the follower has not seen: it is down while they commit.
  const writer = new RetryingClient(addresses);
  const sessionId = String(expectOk(await writer.call('session.open', { ttlMs: 30_000, name: 'writer' })).sessionId);
  let lastIndex = 0;
  for (let round = 0; round < 5; round++) {
    const token = Number(expectOk(await writer.call('lock.acquire', { sessionId, name: 'resume/x', mode: 'try' })).token);
    expectOk(await writer.call('lock.release', { sessionId, name: 'resume/x', token }));
    lastIndex = token + 1; // the release is the next entry
  }
  writer.close();

  // A client that saw everything up to lastIndex resumes its watch on the restarted follower. The
  // other two are down meanwhile, so it cannot catch up before the watch starts (it would race its
  // own catch-up otherwise); they come back once the watch is on.
  const others = cluster.members.filter((member) => member.id !== follower.id);
  for (const member of others) await cluster.kill(member.id, 'SIGKILL');
  cluster.restart(follower.id);
  let watcher: ProtocolClient | undefined;
  for (let attempt = 0; attempt < 1_000 && watcher === undefined; attempt++) {
    watcher = await ProtocolClient.connect(follower.address).catch(() => undefined);
    if (watcher === undefined) await sleep(5);
  }
  expect(watcher).toBeDefined();
  const started = expectOk(await watcher!.request('watch.start', { prefix: 'resume/', fromIndex: lastIndex }));
  expect(started.snapshot).toBeNull(); // resumed, not restarted from a snapshot
  expect(Number(started.index)).toBeLessThan(lastIndex); // the member is behind: the case at issue
  for (const member of others) cluster.restart(member.id);
  await eventually(async () => Number(expectOk(await watcher!.request('cluster.status', {})).appliedIndex) >= lastIndex, 15_000, 'the follower to catch up');
  // Pushes for what it applied go out on the next turn: after one more round trip they are all here.
  expectOk(await watcher!.request('cluster.status', {}));
  const pushed = watcher!.pushes.flatMap((push: ServerPush) => push.events);
  watcher!.close();
  const repeated = pushed.filter((event) => event.index <= lastIndex);
  expect(repeated.map((event) => `${event.index}:${event.type}`)).toEqual([]);
});
