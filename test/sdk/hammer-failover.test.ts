// Acceptance (issue 4): 20 SDK clients, each entering through a different member, hammer ONE lock
// (wait → fenced write → short hold → fenced write → release) while the Raft leader is SIGKILLed
// twice (and restarted, so a quorum stays). Through a shared fencing-checking resource: every grant
// has a strictly greater token than the one before, no two holds overlap, and no write is refused
// as stale unless its writer's lock.signal had been aborted.

import { performance } from 'node:perf_hooks';
import { expect, test } from 'vitest';
import { connect, type Client, type Session } from '@raftlock/client';
import { LocalCluster } from '../e2e/local-cluster.js';
import { FencedResource, rotatedEndpoints, sleep } from './sdk-test-helpers.js';

const clientCount = 20;
const lockName = 'hammer/one';

test('20 clients hammer one lock while the leader is SIGKILLed twice: tokens strictly increase, holds never overlap, stale writes only from aborted holders', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const clients: Client[] = [];
  try {
    for (let index = 0; index < clientCount; index++) clients.push(await connect({ endpoints: rotatedEndpoints(cluster, index), requestTimeoutMs: 15_000 }));
    const sessions: Session[] = await Promise.all(clients.map((client, index) => client.session({ ttlMs: 5_000, name: `hammer-${index}` })));
    const resource = new FencedResource();
    const failures: string[] = [];
    const grantTimesMs: number[] = [];
    let stopping = false;

    const workers = sessions.map(async (session, worker) => {
      let cycles = 0;
      while (!stopping && cycles < 2_000) {
        cycles++;
        let lock;
        try {
          lock = await session.lock(lockName, { timeoutMs: 20_000, metadata: `worker ${worker}` });
        } catch (error) {
          failures.push(`worker ${worker} lock: ${String(error)}`);
          if (session.state !== 'open') return cycles;
          continue;
        }
        grantTimesMs.push(performance.now());
        resource.write(worker, lock, 'begin', performance.now());
        await sleep(1 + (cycles % 3));
        resource.write(worker, lock, 'end', performance.now());
        await lock.release().catch((error: unknown) => failures.push(`worker ${worker} release: ${String(error)}`));
      }
      return cycles;
    });

    const kills: { member: string; killedAtMs: number; nextGrantAfterMs: number | undefined }[] = [];
    for (let round = 0; round < 2; round++) {
      await sleep(1_200);
      const leader = await cluster.leader();
      const killedAtMs = performance.now();
      await cluster.kill(leader.id, 'SIGKILL');
      const grantsBefore = grantTimesMs.length;
      for (let waited = 0; grantTimesMs.length === grantsBefore && waited < 10_000; waited += 10) await sleep(10);
      kills.push({ member: leader.id, killedAtMs, nextGrantAfterMs: grantTimesMs.length > grantsBefore ? (grantTimesMs[grantsBefore] as number) - killedAtMs : undefined });
      cluster.restart(leader.id);
      await cluster.waitReady();
    }
    await sleep(1_200);
    stopping = true;
    const cycles = await Promise.all(workers);

    const grantCount = resource.grants.length;
    const perWorker = Array.from({ length: clientCount }, (_, worker) => resource.grants.filter((grant) => grant.worker === worker).length);
    console.log(
      `hammer: ${grantCount} grants, tokens ${resource.grants[0]?.token}..${resource.grants.at(-1)?.token}, per worker min ${Math.min(...perWorker)} max ${Math.max(...perWorker)}, ` +
        `stale refusals ${resource.rejected.length}, lost sessions ${sessions.filter((session) => session.state === 'lost').length}, ` +
        `first grant after each kill: ${kills.map((kill) => `${kill.member} +${kill.nextGrantAfterMs?.toFixed(0)} ms`).join(', ')}`,
    );
    expect(resource.violations).toEqual([]);
    expect(failures).toEqual([]);
    expect(kills.every((kill) => kill.nextGrantAfterMs !== undefined)).toBe(true);
    expect(grantCount).toBeGreaterThan(100);
    expect(Math.min(...perWorker)).toBeGreaterThan(0);
    expect(cycles.every((count) => count > 0)).toBe(true);
    for (let index = 1; index < resource.grants.length; index++) {
      const previous = resource.grants[index - 1]!;
      const grant = resource.grants[index]!;
      expect(grant.token).toBeGreaterThan(previous.token);
      // Holds observed by the resource do not overlap: the previous one ended before this began.
      if (previous.endedAtMs !== undefined) expect(previous.endedAtMs).toBeLessThanOrEqual(grant.beganAtMs);
      else expect(previous.lock.signal.aborted).toBe(true);
    }
    // Nothing left behind: the lock is free and nobody waits.
    expect(await clients[0]!.lock(lockName)).toBeNull();
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
});
