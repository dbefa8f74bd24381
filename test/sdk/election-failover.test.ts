// Acceptance (issue 4): campaign among 5 instances (5 processes) elects exactly one; SIGKILLing the
// elected process elects the next within TTL + election timeout; observe() in this process yields
// each change once, in order — including across its own reconnect when the Raft leader is killed
// while the elected candidate proclaims a new value.

import { expect, test } from 'vitest';
import { connect, type ElectionLeader } from '@raftlock/client';
import { LocalCluster } from '../e2e/local-cluster.js';
import { FixtureProcess, type FixtureLine } from './fixture-process.js';
import { eventually, sleep } from './sdk-test-helpers.js';

const electionTimeoutMs = 500;
const campaignTtlMs = 3_000;
const electionName = 'scheduler';

test('5 campaigners elect exactly one; SIGKILLing the leader elects the next within TTL + election timeout; observe yields every change once, in order', async () => {
  await using cluster = await LocalCluster.start({ size: 3, electionTimeoutMs });
  const endpoints = cluster.members.map((member) => member.address);
  await using client = await connect({ endpoints });

  const observed: (ElectionLeader | null)[] = [];
  const observer = client.observe(electionName);
  const observing = (async () => {
    for await (const leader of observer) observed.push(leader);
  })();
  await eventually(() => observed.length === 1, 5_000, 'the initial observation');
  expect(observed).toEqual([null]);

  const campaigners = Array.from({ length: 5 }, (_, index) => FixtureProcess.start('campaigner', [endpoints.join(','), electionName, `c${index}`, String(campaignTtlMs)]));
  try {
    const elected = (process: FixtureProcess): FixtureLine | undefined => process.lines.find((line) => line.event === 'elected');
    const electedNow = () => campaigners.filter((process) => process.isRunning && elected(process) !== undefined);
    await Promise.all(campaigners.map((process) => process.waitFor((line) => line.event === 'campaigning', 30_000, 'campaigning')));
    const first = await eventually(() => electedNow()[0], 10_000, 'a first leader');
    await sleep(300);
    expect(electedNow()).toEqual([first]);

    const failovers: number[] = [];
    const killLeaderProcess = async (leader: FixtureProcess): Promise<FixtureProcess> => {
      const killedAtMs = Date.now();
      await leader.stop(); // SIGKILL: its session ends only when its lease lapses on the server
      const next = await eventually(() => electedNow()[0], campaignTtlMs + electionTimeoutMs + 3_000, 'the next leader');
      failovers.push(Number(elected(next)?.wallMs) - killedAtMs);
      await sleep(300);
      expect(electedNow()).toEqual([next]);
      return next;
    };

    const second = await killLeaderProcess(first);
    // The Raft leader dies while the elected candidate proclaims: the observer reconnects and resumes.
    const raftLeader = await cluster.leader();
    await cluster.kill(raftLeader.id, 'SIGKILL');
    second.signal('SIGUSR1');
    cluster.restart(raftLeader.id);
    await second.waitFor((line) => line.event === 'proclaimed', 10_000, 'the proclaim to land');
    await cluster.waitReady();
    const third = await killLeaderProcess(second);

    await eventually(() => observed.length >= 5, 5_000, 'five observations');
    await sleep(300); // anything repeated would arrive now
    await observer.return?.();
    await observing;

    const leaderOf = (process: FixtureProcess, value?: string) => {
      const line = elected(process) as FixtureLine;
      return { sessionId: line.sessionId, token: BigInt(String(line.token)), value: value ?? line.value };
    };
    const expected = [null, leaderOf(first), leaderOf(second), leaderOf(second, `${String(elected(second)?.value)}+`), leaderOf(third)];
    expect(observed.map((leader) => (leader === null ? null : { sessionId: leader.sessionId, token: leader.token, value: leader.value }))).toEqual(expected);
    const indexes = observed.filter((leader) => leader !== null).map((leader) => leader.index);
    expect(indexes).toEqual([...indexes].sort((left, right) => left - right));
    console.log(`election: leaders ${[first, second, third].map((process) => String(elected(process)?.value)).join(' → ')}; next leader elected ${failovers.map((ms) => `${ms} ms`).join(', ')} after the SIGKILL (bound ${campaignTtlMs + electionTimeoutMs} ms); observed ${observed.length} changes`);
    for (const ms of failovers) expect(ms).toBeLessThanOrEqual(campaignTtlMs + electionTimeoutMs);
  } finally {
    await Promise.all(campaigners.map((process) => process.stop()));
  }
});
