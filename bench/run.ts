// `pnpm bench`: a local three-member cluster of real raftlockd processes (fsync on), driven through
// the SDK. Scenarios (issue 8): uncontended, contended, single, failover, graceful, scale. Prints a
// table and writes JSON to bench/results/. Not part of `pnpm test`: numbers, not assertions.
//
//   pnpm bench                              every scenario
//   pnpm bench --scenarios single,contended --seconds 5

import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type Client, type Session } from '@raftlock/client';
import { runLeaderLossRounds } from '../test/e2e/leader-loss-rounds.js';
import { LocalCluster, sleep } from '../test/e2e/local-cluster.js';

interface Options {
  readonly seconds: number;
  readonly warmUpSeconds: number;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly failoverRounds: number;
  readonly scaleCounts: readonly number[];
}

interface ScenarioResult {
  readonly scenario: string;
  readonly throughputPerSecond?: number;
  readonly operations?: number;
  readonly latencyMs?: Percentiles;
  readonly memberCpuPercent?: number[];
  readonly notes?: string;
  readonly [extra: string]: unknown;
}

interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((left, right) => left - right);
  const at = (fraction: number) => sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? NaN;
  // The median proper (mean of the middle two for an even count): the 10-round leader-loss
  // scenarios report the same number as the e2e test.
  const middle = Math.floor(sorted.length / 2);
  const p50 = sorted.length % 2 === 1 ? at(0.5) : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2;
  return { p50: round(p50), p90: round(at(0.9)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? NaN) };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** CPU seconds used so far by a process (utime + stime from /proc). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((candidate) => candidate.startsWith('VmRSS:'));
    return round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

function memberCpu(cluster: LocalCluster): () => number[] {
  const pids = cluster.members.map((member) => member.process?.pid);
  const before = pids.map(cpuSeconds);
  const startedMs = performance.now();
  return () => pids.map((pid, position) => round((100 * (cpuSeconds(pid) - (before[position] ?? 0))) / ((performance.now() - startedMs) / 1000)));
}

async function openSessions(client: Client, count: number): Promise<Session[]> {
  return Promise.all(Array.from({ length: count }, (_, position) => client.session({ ttlMs: 10_000, name: `bench-${position}` })));
}

/** Workers loop acquire → release on their own lock (or a shared one) until the deadline. */
async function cycleLoop(sessions: Session[], lockName: (worker: number) => string, seconds: number, warmUpSeconds: number): Promise<{ cycles: number; acquireMs: number[]; elapsedSeconds: number }> {
  const acquireMs: number[] = [];
  let cycles = 0;
  const warmUpEndMs = performance.now() + warmUpSeconds * 1000;
  const endMs = warmUpEndMs + seconds * 1000;
  await Promise.all(
    sessions.map(async (session, worker) => {
      while (performance.now() < endMs) {
        const startedMs = performance.now();
        const lock = await session.lock(lockName(worker), { timeoutMs: 30_000 });
        const acquiredMs = performance.now();
        await lock.release();
        if (startedMs >= warmUpEndMs) {
          acquireMs.push(acquiredMs - startedMs);
          cycles++;
        }
      }
    }),
  );
  return { cycles, acquireMs, elapsedSeconds: seconds };
}

async function uncontended(cluster: LocalCluster, options: Options): Promise<ScenarioResult> {
  const clients = await Promise.all(Array.from({ length: 4 }, () => connect({ endpoints: cluster.members.map((member) => member.address) })));
  const sessions = (await Promise.all(clients.map((client) => openSessions(client, 16)))).flat();
  const cpu = memberCpu(cluster);
  const run = await cycleLoop(sessions, (worker) => `bench/uncontended/${worker}`, options.seconds, options.warmUpSeconds);
  const result = { scenario: 'uncontended (64 workers)', throughputPerSecond: round(run.cycles / run.elapsedSeconds), operations: run.cycles, latencyMs: percentiles(run.acquireMs), memberCpuPercent: cpu() };
  await Promise.all(clients.map((client) => client.close()));
  return result;
}

async function contended(cluster: LocalCluster, options: Options): Promise<ScenarioResult> {
  const client = await connect({ endpoints: cluster.members.map((member) => member.address) });
  const sessions = await openSessions(client, 16);
  const cpu = memberCpu(cluster);
  const run = await cycleLoop(sessions, () => 'bench/contended', options.seconds, options.warmUpSeconds);
  const result = { scenario: 'contended (16 workers, 1 lock)', throughputPerSecond: round(run.cycles / run.elapsedSeconds), operations: run.cycles, latencyMs: percentiles(run.acquireMs), memberCpuPercent: cpu() };
  await client.close();
  return result;
}

async function single(cluster: LocalCluster, options: Options): Promise<ScenarioResult> {
  const client = await connect({ endpoints: cluster.members.map((member) => member.address) });
  const sessions = await openSessions(client, 1);
  const cpu = memberCpu(cluster);
  const run = await cycleLoop(sessions, () => 'bench/single', options.seconds, options.warmUpSeconds);
  const result = { scenario: 'single (1 worker)', throughputPerSecond: round(run.cycles / run.elapsedSeconds), operations: run.cycles, latencyMs: percentiles(run.acquireMs), memberCpuPercent: cpu() };
  await client.close();
  return result;
}

/**
 * Signal the leader under SDK load (8 sessions cycling acquire/release), restart it, repeat: the
 * time from the signal to the next successful acquire, measured as test/e2e/leader-handoff.test.ts
 * does (test/e2e/leader-loss-rounds.ts), and a check that no acknowledged acquire or release was lost.
 */
async function leaderLoss(cluster: LocalCluster, options: Options, signal: 'SIGKILL' | 'SIGTERM'): Promise<ScenarioResult> {
  const report = await runLeaderLossRounds(cluster, {
    signal,
    rounds: options.failoverRounds,
    loadClients: 2,
    sessionsPerClient: 4,
    onRound: (round) => console.error(`  ${signal} ${round.signalled}: next acquire after ${round.nextAcquireMs.toFixed(1)} ms (exit code ${round.exitCode})`),
  });
  const exitCodes = [...new Set(report.rounds.map((round) => String(round.exitCode)))].join('/');
  return {
    scenario: `${signal === 'SIGKILL' ? 'failover' : 'graceful'} (${signal} leader ×${options.failoverRounds})`,
    latencyMs: percentiles(report.rounds.map((round) => round.nextAcquireMs)),
    operations: report.rounds.length,
    medianMs: round(report.medianMs),
    problems: report.problems,
    notes: `heartbeat ${options.heartbeatMs} ms, election ${options.electionTimeoutMs} ms; time from ${signal} to the next successful acquire under load (${report.loadCycles} load cycles); exit codes ${exitCodes}; ${report.problems.length} lost acknowledgements or load failures`,
  };
}

async function scale(cluster: LocalCluster, options: Options, held: number): Promise<ScenarioResult> {
  const client = await connect({ endpoints: cluster.members.map((member) => member.address) });
  const sessions = await openSessions(client, 64);
  const startedMs = performance.now();
  let next = 0;
  await Promise.all(sessions.map(async (session) => {
    while (next < held) {
      const position = next++;
      await session.tryLock(`bench/scale/${held}/${position}`);
    }
  }));
  const fillSeconds = (performance.now() - startedMs) / 1000;
  const rss = cluster.members.map((member) => rssMiB(member.process?.pid));
  await client.close();
  // Restart every member; time until all are ready again (log replay; snapshots come later).
  for (const member of cluster.members) await cluster.kill(member.id, 'SIGKILL');
  const restartStartedMs = performance.now();
  for (const member of cluster.members) cluster.restart(member.id);
  await cluster.waitReady(120_000);
  const restartSeconds = (performance.now() - restartStartedMs) / 1000;
  return { scenario: `scale (${held} held locks)`, throughputPerSecond: round(held / fillSeconds), operations: held, rssMiB: rss, restartSeconds: round(restartSeconds), notes: 'RSS per member after filling; restart = SIGKILL all, start all, all ready' };
}

/** A member's gauge from GET /metrics. */
async function metricOf(address: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/**
 * Issue 6: after 200k lock operations (100k acquire+release cycles) the log on disk stays bounded by
 * compaction, and a restart (SIGKILL all, start all) loads the snapshot and replays only the tail.
 */
async function compaction(cluster: LocalCluster, operations: number): Promise<ScenarioResult> {
  const client = await connect({ endpoints: cluster.members.map((member) => member.address) });
  const sessions = await openSessions(client, 64);
  const startedMs = performance.now();
  let cycles = 0;
  await Promise.all(sessions.map(async (session, worker) => {
    while (cycles * 2 < operations) {
      cycles++;
      const lock = await session.lock(`bench/compaction/${worker}`, { timeoutMs: 30_000 });
      await lock.release();
    }
  }));
  const seconds = (performance.now() - startedMs) / 1000;
  await sleep(500);
  const logEntries = await Promise.all(cluster.members.map((member) => metricOf(member.address, 'raftlock_log_entries')));
  const snapshotIndex = await Promise.all(cluster.members.map((member) => metricOf(member.address, 'raftlock_snapshot_index')));
  const commitIndex = await metricOf(cluster.members[0]!.address, 'raftlock_commit_index');
  const dataMiB = cluster.members.map((member) => round(dirBytes(member.dataDir) / 1024 / 1024));
  await client.close();
  // One member restarted alone (the rolling-restart case): up = its state loaded, ready = caught up.
  const single = cluster.members[0]!;
  await cluster.kill(single.id, 'SIGKILL');
  const singleStartedMs = performance.now();
  cluster.restart(single.id);
  while (!(await isUp(single.address))) await sleep(10);
  const singleUpSeconds = round((performance.now() - singleStartedMs) / 1000);
  await cluster.waitReady(120_000);
  const singleReadySeconds = round((performance.now() - singleStartedMs) / 1000);
  for (const member of cluster.members) await cluster.kill(member.id, 'SIGKILL');
  const restartStartedMs = performance.now();
  for (const member of cluster.members) cluster.restart(member.id);
  // Up (state loaded: snapshot restored, log tail read, port open) vs ready (a leader elected and
  // the tail applied): the gap between them is the election timeout, not the data.
  const upSeconds = await Promise.all(
    cluster.members.map(async (member) => {
      while (!(await isUp(member.address))) await sleep(10);
      return round((performance.now() - restartStartedMs) / 1000);
    }),
  );
  await cluster.waitReady(120_000);
  const restartSeconds = (performance.now() - restartStartedMs) / 1000;
  return {
    scenario: `compaction (${operations} lock ops)`,
    singleMemberRestart: { upSeconds: singleUpSeconds, readySeconds: singleReadySeconds },
    upSeconds,
    throughputPerSecond: round((cycles * 2) / seconds),
    operations: cycles * 2,
    commitIndex,
    logEntriesOnDisk: logEntries,
    snapshotIndex,
    dataDirMiB: dataMiB,
    restartSeconds: round(restartSeconds),
    notes: 'log entries kept per member after the run (snapshot every 10k entries, 5k trailing); singleMemberRestart = SIGKILL one member, start it (up = state loaded and port open, ready = caught up); restart = SIGKILL all, start all, all ready',
  };
}

async function isUp(address: string): Promise<boolean> {
  try {
    return (await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(500) })).ok;
  } catch {
    return false;
  }
}

function dirBytes(path: string): number {
  let total = 0;
  for (const name of readdirSync(path)) total += statSync(join(path, name)).size;
  return total;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scenarios: { type: 'string', default: 'single,uncontended,contended,failover,graceful,compaction,scale' },
      seconds: { type: 'string', default: '10' },
      'warm-up-seconds': { type: 'string', default: '2' },
      'failover-rounds': { type: 'string', default: '10' },
      scale: { type: 'string', default: '10000,100000' },
      'heartbeat-ms': { type: 'string', default: '100' },
      'election-timeout-ms': { type: 'string', default: '1000' },
    },
  });
  const options: Options = {
    seconds: Number(values.seconds),
    warmUpSeconds: Number(values['warm-up-seconds']),
    heartbeatMs: Number(values['heartbeat-ms']),
    electionTimeoutMs: Number(values['election-timeout-ms']),
    failoverRounds: Number(values['failover-rounds']),
    scaleCounts: String(values.scale).split(',').map(Number),
  };
  const scenarios = String(values.scenarios).split(',');
  const results: ScenarioResult[] = [];
  const startCluster = () => LocalCluster.start({ size: 3, heartbeatMs: options.heartbeatMs, electionTimeoutMs: options.electionTimeoutMs });
  for (const scenario of scenarios) {
    await using cluster = await startCluster();
    console.error(`running ${scenario}…`);
    switch (scenario) {
      case 'uncontended':
        results.push(await uncontended(cluster, options));
        break;
      case 'contended':
        results.push(await contended(cluster, options));
        break;
      case 'single':
        results.push(await single(cluster, options));
        break;
      case 'failover':
        results.push(await leaderLoss(cluster, options, 'SIGKILL'));
        break;
      case 'graceful':
        results.push(await leaderLoss(cluster, options, 'SIGTERM'));
        break;
      case 'compaction':
        results.push(await compaction(cluster, 200_000));
        break;
      case 'scale':
        for (const held of options.scaleCounts) results.push(await scale(cluster, options, held));
        break;
      default:
        throw new Error(`unknown scenario ${scenario}`);
    }
    console.error(JSON.stringify(results.at(-1)));
  }
  console.log('\nscenario                               ops/s      p50 ms   p90 ms   p99 ms   max ms   member CPU %');
  for (const result of results) {
    const latency = result.latencyMs;
    console.log(
      `${result.scenario.padEnd(38)} ${String(result.throughputPerSecond ?? '').padStart(8)} ${String(latency?.p50 ?? '').padStart(9)} ${String(latency?.p90 ?? '').padStart(8)} ${String(latency?.p99 ?? '').padStart(8)} ${String(latency?.max ?? '').padStart(8)}   ${(result.memberCpuPercent ?? []).join('/')}`,
    );
  }
  const directory = join(import.meta.dirname, 'results');
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ options, results }, null, 2));
  console.log(`\nresults written to ${file}`);
}

await main();
