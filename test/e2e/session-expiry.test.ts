// Sessions are leases (SPEC §3.6): one that stops sending keepalives is expired by the leader and
// its lock passes to the next waiter in FIFO order; one that keeps sending survives a leader change.

import { performance } from 'node:perf_hooks';
import { expect, test } from 'vitest';
import { eventually } from '../sdk/sdk-test-helpers.js';
import { LocalCluster, sleep } from './local-cluster.js';
import { expectOk, type Reply } from './protocol-client.js';
import { RetryingClient } from './retrying-client.js';

function keepAlive(client: RetryingClient, sessionId: string, everyMs: number): { stop: () => void; failures: string[] } {
  let running = true;
  const failures: string[] = [];
  const loop = async () => {
    while (running) {
      try {
        const reply = await client.call('session.keepalive', { sessionId }, { deadlineMs: everyMs * 2 });
        if (running && !reply.ok && reply.error.code === 'SESSION_EXPIRED') failures.push(reply.error.message);
      } catch (error) {
        // No leader reachable for a while (failover in progress): the next round tries again.
        // After stop() the cluster may already be gone; nothing to record then.
        if (!running) return;
        void error;
      }
      await sleep(everyMs);
    }
  };
  void loop();
  return { stop: () => (running = false), failures };
}

test('a session that stops sending keepalives expires and its lock goes to the waiters in FIFO order', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const addresses = () => cluster.members.filter((member) => member.process).map((member) => member.address);
  const silent = new RetryingClient(addresses);
  const first = new RetryingClient(addresses);
  const second = new RetryingClient(addresses);
  const observer = new RetryingClient(addresses);

  const silentTtlMs = 1000;
  // The monotonic clock, as the leader's lease: an elapsed time, not wall-clock readings.
  const silentOpenSentMs = performance.now();
  const silentSession = String(expectOk(await silent.call('session.open', { ttlMs: silentTtlMs, name: 'silent' })).sessionId);
  const firstSession = String(expectOk(await first.call('session.open', { ttlMs: 10_000, name: 'first' })).sessionId);
  const secondSession = String(expectOk(await second.call('session.open', { ttlMs: 10_000, name: 'second' })).sessionId);
  const firstKeepalive = keepAlive(first, firstSession, 500);
  const secondKeepalive = keepAlive(second, secondSession, 500);

  const held = expectOk(await silent.call('lock.acquire', { sessionId: silentSession, name: 'fifo', mode: 'try' }));
  const grants: string[] = [];
  const firstGrant = first.call('lock.acquire', { sessionId: firstSession, name: 'fifo', mode: 'wait' }, { deadlineMs: 20_000 }).then((reply) => (grants.push('first'), reply));
  // Queued (or, once the silent session expired, granted) before the second asks: a 100 ms sleep
  // used to order the two waits, and a first request held up or retried for longer could be overtaken.
  await eventually(async () => {
    const lock = expectOk(await observer.call('lock.get', { name: 'fifo' })).lock as { holder: { sessionId: string } | null; waiters: { sessionId: string }[] } | null;
    return lock?.holder?.sessionId === firstSession || lock?.waiters.some((waiter) => waiter.sessionId === firstSession) === true;
  }, 10_000, 'the first wait to be queued');
  const secondGrant = second.call('lock.acquire', { sessionId: secondSession, name: 'fifo', mode: 'wait' }, { deadlineMs: 20_000 }).then((reply) => (grants.push('second'), reply));

  // The silent session sends nothing after its open: the leader expires it no earlier than its TTL
  // after that (its lease starts when the open is applied, after it was sent).
  const granted: Reply = await firstGrant;
  expect(performance.now() - silentOpenSentMs).toBeGreaterThanOrEqual(silentTtlMs);
  const firstToken = Number(expectOk(granted).token);
  expect(firstToken).toBeGreaterThan(Number(held.token));
  expect(grants).toEqual(['first']);
  const expired = await silent.call('session.keepalive', { sessionId: silentSession });
  expect(!expired.ok && expired.error.code).toBe('SESSION_EXPIRED');

  expectOk(await first.call('lock.release', { sessionId: firstSession, name: 'fifo', token: firstToken }));
  const secondToken = Number(expectOk(await secondGrant).token);
  expect(secondToken).toBeGreaterThan(firstToken);
  expect(grants).toEqual(['first', 'second']);

  firstKeepalive.stop();
  secondKeepalive.stop();
  for (const client of [silent, first, second, observer]) client.close();
});

test('a session that keeps sending keepalives survives a leader change, with its lock', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const addresses = () => cluster.members.filter((member) => member.process).map((member) => member.address);
  const client = new RetryingClient(addresses);
  const ttlMs = 3000;
  const sessionId = String(expectOk(await client.call('session.open', { ttlMs, name: 'steady' })).sessionId);
  const token = Number(expectOk(await client.call('lock.acquire', { sessionId, name: 'steady', mode: 'try' })).token);
  const keepalive = keepAlive(client, sessionId, ttlMs / 6);

  await sleep(500);
  const leader = await cluster.leader();
  await cluster.kill(leader.id, 'SIGKILL');
  await sleep(2 * ttlMs + 500); // well past the TTL: only keepalives to the new leader keep the session alive

  const lock = expectOk(await client.call('lock.get', { name: 'steady' })).lock as { holder: { sessionId: string; token: number } } | null;
  expect(lock?.holder, `keepalive failures: ${keepalive.failures.join('; ')}`).toMatchObject({ sessionId, token });
  expect(keepalive.failures).toEqual([]);
  keepalive.stop();
  client.close();
});
