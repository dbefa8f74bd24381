// SIGTERM (SPEC §2): a leader hands leadership to the most up-to-date follower first, so the next
// request succeeds sooner than any election timeout could allow, then the member exits 0.

import { expect, test } from 'vitest';
import { LocalCluster, sleep } from './local-cluster.js';
import { expectOk } from './protocol-client.js';
import { RetryingClient } from './retrying-client.js';

const electionTimeoutMs = 1000;

test('SIGTERM to the leader hands leadership off before exiting 0, faster than an election timeout', async () => {
  await using cluster = await LocalCluster.start({ size: 3, heartbeatMs: 100, electionTimeoutMs });
  const addresses = () => cluster.members.filter((member) => member.process).map((member) => member.address);
  const client = new RetryingClient(addresses);
  const sessionId = String(expectOk(await client.call('session.open', { ttlMs: 10_000 })).sessionId);
  expectOk(await client.call('lock.acquire', { sessionId, name: 'before', mode: 'try' }));

  const leader = await cluster.leader();
  const terminatedAtMs = Date.now();
  const exitCode = await cluster.kill(leader.id, 'SIGTERM');
  const exitedMs = Date.now() - terminatedAtMs;
  expect(exitCode).toBe(0);
  // Asked once the member is gone, so only a successor can answer (leader-handoff.test.ts times
  // the next acquire under load without waiting for the exit).
  expectOk(await client.call('lock.acquire', { sessionId, name: 'after', mode: 'try' }));
  const nextSuccessMs = Date.now() - terminatedAtMs;
  console.log(`graceful: the leader exited ${exitCode} ${exitedMs} ms after SIGTERM; the next acquire, asked after that, succeeded at ${nextSuccessMs} ms`);
  // Without a hand-off, followers would wait at least one election timeout (their leader lease).
  expect(nextSuccessMs).toBeLessThan(electionTimeoutMs);
  const newLeader = await cluster.leader();
  expect(newLeader.id).not.toBe(leader.id);
  client.close();
});

test('GET /healthz, /readyz and /metrics answer on the member port with the documented metrics', async () => {
  await using cluster = await LocalCluster.start({ size: 1 });
  const address = cluster.members[0]!.address;
  expect((await fetch(`http://${address}/healthz`)).status).toBe(200);
  const readiness = await (await fetch(`http://${address}/readyz`)).json();
  expect(readiness).toMatchObject({ ready: true, role: 'leader', leaderId: 'n1' });
  const client = new RetryingClient(() => [address]);
  const sessionId = String(expectOk(await client.call('session.open', {})).sessionId);
  expectOk(await client.call('lock.acquire', { sessionId, name: 'metered', mode: 'try' }));
  expectOk(await client.call('lock.acquire', { sessionId, name: 'metered-2', mode: 'try' }));
  expectOk(await client.call('election.campaign', { sessionId, name: 'metered-election', value: 'me' }));
  await sleep(50);
  const metrics = await (await fetch(`http://${address}/metrics`)).text();
  for (const name of [
    'raftlock_term',
    'raftlock_leader_changes_total',
    'raftlock_commit_index',
    'raftlock_applied_index',
    'raftlock_proposals_total',
    'raftlock_fsync_duration_seconds_bucket',
    'raftlock_apply_duration_seconds_bucket',
    'raftlock_sessions',
    'raftlock_locks_held',
    'raftlock_elections_led',
    'raftlock_waiters',
    'raftlock_log_entries',
    'raftlock_snapshot_index',
    'raftlock_members',
    'raftlock_client_connections',
    'process_cpu_seconds_total',
  ]) {
    expect(metrics, name).toMatch(new RegExp(`^${name}`, 'm'));
  }
  expect(metrics).toMatch(/^raftlock_locks_held 2$/m);
  expect(metrics).toMatch(/^raftlock_elections_led 1$/m);
  expect(metrics).toMatch(/^raftlock_sessions 1$/m);
  expect((await fetch(`http://${address}/nope`)).status).toBe(404);
  client.close();
});
