// Acceptance (issue 4): a session whose keepalives stop — its process frozen with SIGSTOP — has
// lock.signal aborted before the server grants the lock to the next waiter, in every round.
//
// A frozen process cannot abort anything while frozen (its timer fires late, after SIGCONT), so the
// test checks the deadline the SDK computed — send time of the last acknowledged keepalive + TTL,
// on the holder's monotonic clock, which the fixture also prints as wall-clock ms — against the leader's wall clock
// when it proposed the expiry that granted the lock (the grant's sinceTimeMs) and against the time
// the next waiter saw its grant. Every process here runs on one machine, so one wall clock.

import { expect, test } from 'vitest';
import { connect } from '@raftlock/client';
import { LocalCluster } from '../e2e/local-cluster.js';
import { FixtureProcess } from './fixture-process.js';
import { eventually, sleep } from './sdk-test-helpers.js';

const ttlMs = 1_500;
const rounds = 3;

test('a holder frozen with SIGSTOP has its lease deadline (lock.signal abort) before the next waiter is granted, in each of 3 rounds', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const endpoints = cluster.members.map((member) => member.address);
  await using client = await connect({ endpoints });
  const waiter = await client.session({ ttlMs: 10_000, name: 'next-waiter' });
  const report: string[] = [];

  for (let round = 0; round < rounds; round++) {
    const lockName = `frozen/${round}`;
    await using holder = FixtureProcess.start('holder', [endpoints.join(','), lockName, String(ttlMs)]);
    const held = await holder.waitFor((line) => line.event === 'held', 20_000, 'the lock held');
    await holder.waitFor((line) => line.event === 'keepalive' && Number(line.wallMs) > Number(held.wallMs), 5_000, 'a keepalive after the grant');

    const pending = waiter.lock(lockName);
    await eventually(async () => (await client.lock(lockName))?.waiters.length === 1, 5_000, 'the waiter queued');
    await sleep(100 + round * 170); // freeze at a different point of the keepalive cycle each round
    holder.signal('SIGSTOP');
    const frozenAtMs = Date.now();

    const lock = await pending;
    const observedGrantMs = Date.now();
    const state = await client.lock(lockName);
    expect(state?.holder?.token).toBe(lock.token);
    const serverGrantMs = state?.holder?.sinceTimeMs as number;

    holder.signal('SIGCONT');
    const aborted = await holder.waitFor((line) => line.event === 'aborted', 5_000, 'lock.signal aborted after SIGCONT');
    await holder.waitFor((line) => line.event === 'lost', 5_000, "the session's lost event");
    const lastAck = holder.lines.filter((line) => line.event === 'keepalive' && Number(line.wallMs) <= frozenAtMs).at(-1);
    expect(lastAck).toBeDefined();

    // The SDK's deadline is the last acknowledged keepalive's send time + TTL, exactly, on the holder's
    // monotonic clock (compared there: two processes share only the wall clock)…
    expect(Number(aborted.deadlineMonoMs)).toBe(Number(lastAck?.sentMonoMs) + ttlMs);
    expect(Number(aborted.deadlineMonoMs)).toBe(Number(lastAck?.deadlineMonoMs));
    const deadlineMs = Number(lastAck?.deadlineWallMs); // converted to the wall clock when it was set
    // …and it came before the leader decided to expire the session and grant the lock (1 ms: Date.now() resolution)…
    expect(Math.floor(deadlineMs)).toBeLessThanOrEqual(serverGrantMs);
    // …and before the next waiter saw its grant.
    expect(deadlineMs).toBeLessThan(observedGrantMs);
    // The frozen process noticed only when thawed, late, but it did abort and say why.
    expect(String(aborted.reason)).toMatch(/lease may have lapsed/);
    report.push(`round ${round}: frozen ${frozenAtMs - Number(lastAck?.sentWallMs)} ms after the last acked send; deadline ${(serverGrantMs - deadlineMs).toFixed(1)} ms before the leader's expiry/grant, ${(observedGrantMs - deadlineMs).toFixed(1)} ms before the waiter saw it`);

    await holder.stop();
    await lock.release();
  }
  console.log(`lease lapse (ttl ${ttlMs} ms):\n  ${report.join('\n  ')}`);
});
