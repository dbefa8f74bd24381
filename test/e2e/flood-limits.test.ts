// Floods from one connection against a real raftlockd (issue 7, docs/protocol.md limits): many
// sessions, many waiters on one lock, more requests in flight than allowed, many watches, a burst of
// malformed requests, and a client that stops reading its replies. Each is bounded (RATE_LIMITED,
// or the connection dropped) while another client's linearizable reads keep being answered promptly;
// afterwards the member is alive and ready, and once the flooding connections and their sessions are
// gone its gauges are back where they started: nothing leaked.

import { protocolLimits } from '@raftlock/protocol';
import { expect, test } from 'vitest';
import { eventually } from '../sdk/sdk-test-helpers.js';
import { isReady, LocalCluster, sleep } from './local-cluster.js';
import { expectOk, ProtocolClient, type Reply } from './protocol-client.js';

/** Another client's reads while the floods run: each must be answered, none slowly. */
class ReadProbe {
  readonly latenciesMs: number[] = [];
  failures: string[] = [];
  private running = true;
  private readonly loop: Promise<void>;

  constructor(client: ProtocolClient, name: string) {
    this.loop = (async () => {
      while (this.running) {
        const startedMs = performance.now();
        const reply = await client.request('lock.get', { name });
        this.latenciesMs.push(performance.now() - startedMs);
        if (!reply.ok) this.failures.push(`${reply.error.code}: ${reply.error.message}`);
        await sleep(20);
      }
    })();
  }

  async stop(): Promise<{ reads: number; maxMs: number }> {
    this.running = false;
    await this.loop;
    return { reads: this.latenciesMs.length, maxMs: Math.max(...this.latenciesMs) };
  }
}

async function metric(address: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match === null ? Number.NaN : Number(match[1]);
}

const codes = (replies: readonly Reply[]) => replies.map((reply) => (reply.ok ? 'OK' : reply.error.code));
const messages = (replies: readonly Reply[]) => replies.map((reply) => (reply.ok ? '' : reply.error.message));

/** Collect the replies that arrive for `pending` until none has arrived for quietMs. */
/**
 * The replies that come while `expectedAnswers` are awaited (up to a generous deadline: a loaded CI
 * machine can take seconds to answer a flood), then whatever else arrives within quietMs: the rest
 * are still in flight.
 */
async function settled(pending: readonly Promise<Reply>[], expectedAnswers: number, quietMs: number): Promise<{ answered: Reply[]; unanswered: number }> {
  const answered: Reply[] = [];
  for (const promise of pending) void promise.then((reply) => answered.push(reply));
  const deadlineMs = Date.now() + 30_000;
  while (answered.length < expectedAnswers && Date.now() < deadlineMs) await sleep(20);
  await sleep(quietMs);
  return { answered, unanswered: pending.length - answered.length };
}

test('floods from one connection are bounded and another client keeps being answered promptly; nothing leaks', async () => {
  await using cluster = await LocalCluster.start({ size: 1 });
  const address = cluster.members[0]?.address as string;
  const observer = await ProtocolClient.connect(address);
  const holder = String(expectOk(await observer.request('session.open', { ttlMs: 60_000, name: 'holder' })).sessionId);
  const busy = ['flood/busy-0', 'flood/busy-1', 'flood/busy-2', 'flood/busy-3', 'flood/busy-4'];
  for (const name of busy) expectOk(await observer.request('lock.acquire', { sessionId: holder, name, mode: 'try' }));
  const baseline = { sessions: await metric(address, 'raftlock_sessions'), waiters: await metric(address, 'raftlock_waiters') };
  expect(baseline).toEqual({ sessions: 1, waiters: 0 });
  const probe = new ReadProbe(observer, 'flood/busy-0');
  const flooder = await ProtocolClient.connect(address);

  // 1. Sessions: a burst past the per-connection limit.
  const opens = await Promise.all(Array.from({ length: protocolLimits.maxSessionsPerConnection + 76 }, () => flooder.request('session.open', { ttlMs: 60_000, name: 'flood' })));
  const sessionIds = opens.filter((reply) => reply.ok).map((reply) => String(expectOk(reply).sessionId));
  expect(sessionIds).toHaveLength(protocolLimits.maxSessionsPerConnection);
  expect(codes(opens.filter((reply) => !reply.ok))).toEqual(Array(76).fill('RATE_LIMITED'));
  expect(messages(opens.filter((reply) => !reply.ok))[0]).toMatch(/sessions open per connection/);

  // 2. Waiters: every session queues on one held lock; the queue stops at 1000.
  const waits = sessionIds.map((sessionId) => flooder.request('lock.acquire', { sessionId, name: busy[0] as string, mode: 'wait' }));
  const onOneLock = await settled(waits, sessionIds.length - 1000, 300);
  expect(onOneLock.unanswered).toBe(1000);
  expect(codes(onOneLock.answered)).toEqual(Array(sessionIds.length - 1000).fill('RATE_LIMITED'));
  expect(messages(onOneLock.answered)[0]).toMatch(/already has 1000 waiters/);

  // 3. In flight: the same sessions queue on four more locks, far past 4096 requests in flight.
  const moreWaits = busy.slice(1).flatMap((name) => sessionIds.map((sessionId) => flooder.request('lock.acquire', { sessionId, name, mode: 'wait' })));
  // 1000 of these wait in flight already; the rest fill the connection up to its limit and no further.
  const inFlight = await settled(moreWaits, moreWaits.length - (protocolLimits.maxInflightRequestsPerConnection - 1000), 300);
  expect(onOneLock.unanswered + inFlight.unanswered).toBeLessThanOrEqual(protocolLimits.maxInflightRequestsPerConnection);
  expect(new Set(codes(inFlight.answered))).toEqual(new Set(['RATE_LIMITED']));
  expect(messages(inFlight.answered).some((message) => /in flight/.test(message))).toBe(true);

  // 4. Watches past 256, and 20 000 malformed requests in one burst, on a second connection.
  const second = await ProtocolClient.connect(address);
  const watches = await Promise.all(Array.from({ length: protocolLimits.maxWatchesPerConnection + 44 }, () => second.request('watch.start', { prefix: 'flood-watch/' })));
  expect(codes(watches).filter((code) => code === 'OK')).toHaveLength(protocolLimits.maxWatchesPerConnection);
  expect(codes(watches).filter((code) => code !== 'OK')).toEqual(Array(44).fill('RATE_LIMITED'));
  const malformed = await Promise.all(Array.from({ length: 20_000 }, (_unused, position) => second.request('lock.get', { name: position % 2 === 0 ? '' : 'x'.repeat(300) })));
  expect(new Set(codes(malformed))).toEqual(new Set(['INVALID_ARGUMENT', 'TOO_LARGE']));

  // 5. A client that stops reading while its replies pile up is dropped, not buffered without bound.
  const deaf = await ProtocolClient.connect(address);
  deaf.socket.pause();
  for (let sent = 0; sent < 400; sent++) void deaf.request('session.list', {});
  await sleep(1500);
  deaf.socket.resume();
  await eventually(() => deaf.closeCode !== undefined, 10_000, 'the connection that stopped reading is dropped');

  const { reads, maxMs } = await probe.stop();
  expect(probe.failures).toEqual([]);
  expect(reads).toBeGreaterThan(10);
  expect(maxMs, `slowest read by another client during the floods: ${maxMs.toFixed(0)} ms`).toBeLessThan(3_000);
  console.log(`floods: ${reads} reads by another client, slowest ${maxMs.toFixed(0)} ms`);

  // Afterwards: connections gone, the flood's sessions closed, the gauges back to the baseline.
  flooder.close();
  second.close();
  const cleaner = await ProtocolClient.connect(address);
  const closes = await Promise.all(sessionIds.map((sessionId) => cleaner.request('session.close', { sessionId })));
  expect(new Set(codes(closes))).toEqual(new Set(['OK']));
  cleaner.close();
  await eventually(async () => (await metric(address, 'raftlock_client_connections')) === 1, 10_000, 'only the observer connected');
  expect({ sessions: await metric(address, 'raftlock_sessions'), waiters: await metric(address, 'raftlock_waiters') }).toEqual(baseline);
  expect(cluster.members[0]?.process?.exitCode ?? null).toBeNull();
  expect(await isReady(address)).toBe(true);
  expect(expectOk(await observer.request('lock.get', { name: busy[0] as string })).lock).toMatchObject({ holder: { sessionId: holder }, waiters: [] });
  observer.close();
});
