// Diagnostic: where the time goes between SIGTERM to the leader and the next successful acquire,
// under the same SDK load as the `graceful` scenario. Members log at info level; the phases are
// read from their log lines (pino's `time`, wall-clock ms, one machine) and printed per round, then
// their medians. Not part of `pnpm bench`.
//
//   node --conditions=@raftlock/source --import tsx bench/handoff-timeline.ts [rounds]

import { connect } from '@raftlock/client';
import { LocalCluster, sleep } from '../test/e2e/local-cluster.js';

const rounds = Number(process.argv[2] ?? 10);
await using cluster = await LocalCluster.start({ size: 3, heartbeatMs: 100, electionTimeoutMs: 1000, extraArgs: ['--log-level', 'info'] });
const endpoints = cluster.members.map((member) => member.address);
const probeClient = await connect({ endpoints });
const probe = await probeClient.session({ ttlMs: 30_000, name: 'timeline-probe' });
const loadClient = await connect({ endpoints: [...endpoints].reverse() });
const loadSessions = await Promise.all(Array.from({ length: 8 }, (_, index) => loadClient.session({ ttlMs: 30_000, name: `load-${index}` })));
let stopping = false;
const load = loadSessions.map(async (session, worker) => {
  while (!stopping) {
    try {
      const lock = await session.lock(`load/${worker}`, { timeoutMs: 10_000 });
      await lock.release();
    } catch {
      await sleep(1);
    }
  }
});

/** Milliseconds after the signal at which `member` first logged a message starting with `prefix`. */
function loggedAt(member: string, prefix: string, signalledAtMs: number): number | undefined {
  for (const line of cluster.member(member).output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const record = JSON.parse(line) as { time: number; msg: string };
    if (record.msg.startsWith(prefix)) return record.time - signalledAtMs;
  }
  return undefined;
}

const phases = new Map<string, number[]>();
for (let round = 0; round < rounds; round++) {
  await cluster.waitReady();
  await sleep(400);
  const leader = await cluster.leader();
  for (const member of cluster.members) member.output = '';
  const signalledAtMs = Date.now();
  const exited = cluster.kill(leader.id, 'SIGTERM');
  let nextAcquire = NaN;
  for (let attempt = 0; Number.isNaN(nextAcquire); attempt++) {
    const lock = await probe.lock(`probe/${round}/${attempt}`, { timeoutMs: 10_000 });
    // One the old leader committed just before it handled the signal does not count.
    if (probeClient.connectedTo !== leader.address) nextAcquire = Date.now() - signalledAtMs;
    void lock.release().catch(() => undefined);
  }
  await exited;
  const successor = cluster.members.find((member) => member.id !== leader.id && loggedAt(member.id, 'became leader', signalledAtMs) !== undefined)?.id ?? '';
  const row: Record<string, number | undefined> = {
    transferStarted: loggedAt(leader.id, 'leadership transfer started', signalledAtMs),
    timeoutNowReceived: loggedAt(successor, 'received TimeoutNow', signalledAtMs),
    becameLeader: loggedAt(successor, 'became leader', signalledAtMs),
    oldLeaderKnowsSuccessor: loggedAt(leader.id, 'leadership handed off; redirecting', signalledAtMs),
    nextAcquire,
    oldLeaderStopped: loggedAt(leader.id, 'raftlockd member stopped', signalledAtMs),
  };
  console.log(`round ${round}: SIGTERM ${leader.id} → ${successor}`, JSON.stringify(row));
  for (const [phase, value] of Object.entries(row)) if (value !== undefined) phases.set(phase, [...(phases.get(phase) ?? []), value]);
  cluster.restart(leader.id);
}
stopping = true;
await Promise.all(load);
await probeClient.close();
await loadClient.close();
const median = (values: number[]) => [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)];
console.log('medians, ms after SIGTERM:', JSON.stringify(Object.fromEntries([...phases].map(([phase, values]) => [phase, median(values)]))));
