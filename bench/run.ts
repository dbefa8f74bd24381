// `pnpm bench`: a local three-member cluster of real raftlockd processes (fsync on), driven through
// the SDK. Scenarios (issue 8): single, uncontended, contended, failover, graceful, saturated,
// compaction, scale, session-end. Prints a table and writes JSON to bench/results/. Not part of
// `pnpm test`: numbers, not assertions.
//
//   pnpm bench                                          every scenario but compaction, scale and session-end
//   pnpm bench --scenarios single,contended --seconds 5
//   pnpm bench --scenarios failover --timings 100/1000,50/300
//   pnpm bench --scenarios scale --scale 1000,10000,100000,1000000
//   pnpm bench --scenarios session-end --session-end-locks 200000,1000000
//   pnpm bench --scenarios single,uncontended,contended --repeat 3   (rounds in turn, then a median row each)
//   pnpm bench --scenarios uncontended --cpu-prof /tmp/profiles   (members write .cpuprofile files)
//
// A bad flag gets one line naming it and exit code 2, before any cluster starts.

import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type Client, type Session } from '@raftlock/client';
import { runLeaderLossRounds } from '../test/e2e/leader-loss-rounds.js';
import { LocalCluster, sleep, type Member } from '../test/e2e/local-cluster.js';

interface Timing {
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
}

interface Options {
  readonly seconds: number;
  readonly warmUpSeconds: number;
  readonly timing: Timing;
  /** failover and graceful run once per timing. */
  readonly leaderLossTimings: readonly Timing[];
  readonly failoverRounds: number;
  readonly saturatedSeconds: number;
  readonly saturatedTiming: Timing;
  readonly scaleCounts: readonly number[];
  readonly sessionEndCounts: readonly number[];
  readonly cpuProfileDir: string | undefined;
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

/** Members' CPU (percent of one core) and this process's (the clients) since the call. */
function cpuMeter(cluster: LocalCluster): () => { memberCpuPercent: number[]; clientCpuPercent: number } {
  const pids = cluster.members.map((member) => member.process?.pid);
  const before = pids.map(cpuSeconds);
  const clientBefore = cpuSeconds(process.pid);
  const startedMs = performance.now();
  return () => {
    const seconds = (performance.now() - startedMs) / 1000;
    return {
      memberCpuPercent: pids.map((pid, position) => round((100 * (cpuSeconds(pid) - (before[position] ?? 0))) / seconds)),
      clientCpuPercent: round((100 * (cpuSeconds(process.pid) - clientBefore)) / seconds),
    };
  };
}

function connectAll(cluster: LocalCluster, count: number): Promise<Client[]> {
  return Promise.all(Array.from({ length: count }, () => connect({ endpoints: cluster.members.map((member) => member.address) })));
}

async function openSessions(client: Client, count: number, prefix = 'bench', ttlMs = 10_000): Promise<Session[]> {
  return Promise.all(Array.from({ length: count }, (_, position) => client.session({ ttlMs, name: `${prefix}-${position}` })));
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

interface LoadResult {
  readonly throughputPerSecond: number;
  readonly operations: number;
  readonly latencyMs: Percentiles;
  readonly memberCpuPercent: number[];
  readonly clientCpuPercent: number;
}

async function uncontendedRun(cluster: LocalCluster, seconds: number, warmUpSeconds: number, prefix: string): Promise<LoadResult> {
  const clients = await connectAll(cluster, 4);
  try {
    const sessions = (await Promise.all(clients.map((client) => openSessions(client, 16)))).flat();
    const cpu = cpuMeter(cluster);
    const run = await cycleLoop(sessions, (worker) => `${prefix}/${worker}`, seconds, warmUpSeconds);
    return { throughputPerSecond: round(run.cycles / run.elapsedSeconds), operations: run.cycles, latencyMs: percentiles(run.acquireMs), ...cpu() };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}

async function uncontended(cluster: LocalCluster, options: Options): Promise<ScenarioResult> {
  const result = await uncontendedRun(cluster, options.seconds, options.warmUpSeconds, 'bench/uncontended');
  return { scenario: 'uncontended (64 workers)', ...result, notes: 'acquire+release cycles/s; latency = acquire' };
}

/**
 * 16 workers on one lock: every cycle is a hand-off through the FIFO queue. A watch on the lock
 * checks FIFO order: sessions must be granted in the order their waits were queued.
 */
async function contended(cluster: LocalCluster, options: Options): Promise<ScenarioResult> {
  const client = await connect({ endpoints: cluster.members.map((member) => member.address) });
  const watcher = await connect({ endpoints: cluster.members.map((member) => member.address) });
  try {
    const sessions = await openSessions(client, 16);
    const fifo = watchFifo(watcher, 'bench/contended');
    const cpu = cpuMeter(cluster);
    const run = await cycleLoop(sessions, () => 'bench/contended', options.seconds, options.warmUpSeconds);
    const usage = cpu();
    await sleep(200); // the last events reach the watch
    const order = fifo.stop();
    return {
      scenario: 'contended (16 workers, 1 lock)',
      throughputPerSecond: round(run.cycles / run.elapsedSeconds),
      operations: run.cycles,
      latencyMs: percentiles(run.acquireMs),
      ...usage,
      fifo: order,
      notes: `hand-offs/s; FIFO: ${order.grantsChecked} grants checked against queue order, ${order.violations} out of order`,
    };
  } finally {
    await Promise.all([client.close(), watcher.close()]);
  }
}

/** Follows queued/acquired events of one lock and counts grants that jump the queue. */
function watchFifo(client: Client, name: string): { stop(): { grantsChecked: number; violations: number } } {
  const queue: string[] = [];
  let grantsChecked = 0;
  let violations = 0;
  let stopped = false;
  const iterator = client.watch(name, { kind: 'lock' })[Symbol.asyncIterator]();
  void (async () => {
    while (!stopped) {
      const next = await iterator.next().catch(() => ({ done: true as const, value: undefined }));
      if (next.done === true) return;
      const item = next.value;
      if (item.type === 'snapshot' || item.name !== name) continue;
      if (item.type === 'queued') queue.push(item.sessionId);
      if (item.type === 'cancelled') queue.splice(queue.indexOf(item.sessionId), 1);
      if (item.type !== 'acquired') continue;
      // A grant to a session with a queued wait must go to the head of the queue; a grant with no
      // wait (the lock was free) must find the queue empty.
      const position = queue.indexOf(item.sessionId);
      if (position >= 0) {
        grantsChecked++;
        if (position !== 0) violations++;
        queue.splice(position, 1);
      } else if (queue.length > 0) {
        grantsChecked++;
        violations++;
      }
    }
  })();
  return {
    stop: () => {
      stopped = true;
      void iterator.return?.();
      return { grantsChecked, violations };
    },
  };
}

async function single(cluster: LocalCluster, options: Options): Promise<ScenarioResult> {
  const client = await connect({ endpoints: cluster.members.map((member) => member.address) });
  try {
    const sessions = await openSessions(client, 1);
    const cpu = cpuMeter(cluster);
    const run = await cycleLoop(sessions, () => 'bench/single', options.seconds, options.warmUpSeconds);
    return { scenario: 'single (1 worker)', throughputPerSecond: round(run.cycles / run.elapsedSeconds), operations: run.cycles, latencyMs: percentiles(run.acquireMs), ...cpu(), notes: 'latency = acquire' };
  } finally {
    await client.close();
  }
}

/**
 * Signal the leader under SDK load (8 sessions cycling acquire/release), restart it, repeat: the
 * time from the signal to the next successful acquire, measured as test/e2e/leader-handoff.test.ts
 * does (test/e2e/leader-loss-rounds.ts), and a check that no acknowledged acquire or release was lost.
 */
async function leaderLoss(cluster: LocalCluster, options: Options, timing: Timing, signal: 'SIGKILL' | 'SIGTERM'): Promise<ScenarioResult> {
  const report = await runLeaderLossRounds(cluster, {
    signal,
    rounds: options.failoverRounds,
    loadClients: 2,
    sessionsPerClient: 4,
    onRound: (round) => console.error(`  ${signal} ${round.signalled}: next acquire after ${round.nextAcquireMs.toFixed(1)} ms (exit code ${round.exitCode})`),
  });
  const exitCodes = [...new Set(report.rounds.map((round) => String(round.exitCode)))].join('/');
  const latencyMs = percentiles(report.rounds.map((round) => round.nextAcquireMs));
  return {
    scenario: `${signal === 'SIGKILL' ? 'failover' : 'graceful'} ${timing.heartbeatMs}/${timing.electionTimeoutMs} (${signal} ×${options.failoverRounds})`,
    latencyMs,
    operations: report.rounds.length,
    medianMs: round(report.medianMs),
    p99OverMedian: round(latencyMs.p99 / report.medianMs),
    problems: report.problems,
    notes: `heartbeat ${timing.heartbeatMs} ms, election ${timing.electionTimeoutMs} ms; time from ${signal} to the next successful acquire under load (${report.loadCycles} load cycles); exit codes ${exitCodes}; ${report.problems.length} lost acknowledgements or load failures`,
  };
}

/** The uncontended load for a long while at short timeouts: any leader change is a finding. */
async function saturated(cluster: LocalCluster, options: Options): Promise<ScenarioResult> {
  const before = await Promise.all(cluster.members.map((member) => metricOf(member.address, 'raftlock_leader_changes_total')));
  const termBefore = await metricOf((await cluster.leader()).address, 'raftlock_term');
  const result = await uncontendedRun(cluster, options.saturatedSeconds, 0, 'bench/saturated');
  const after = await Promise.all(cluster.members.map((member) => metricOf(member.address, 'raftlock_leader_changes_total')));
  const termAfter = await metricOf((await cluster.leader()).address, 'raftlock_term');
  const leaderChanges = Math.max(...after.map((count, position) => count - (before[position] ?? 0)));
  const timing = options.saturatedTiming;
  return {
    scenario: `saturated ${timing.heartbeatMs}/${timing.electionTimeoutMs} (${options.saturatedSeconds} s, 64 workers)`,
    ...result,
    leaderChanges,
    termBefore,
    termAfter,
    notes: `leader changes seen by any member during the run: ${leaderChanges} (term ${termBefore} → ${termAfter})`,
  };
}

/**
 * Hold more and more locks (filled with tryLock by 256 sessions): at each level the members' RSS,
 * the uncontended throughput next to them, the time the leader takes to snapshot that state (forced
 * by a backup), and the time a member needs to restart: one member alone (rolling restart) and all
 * three at once.
 */
async function scale(cluster: LocalCluster, options: Options): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const backupDir = await mkdtemp(join(tmpdir(), 'raftlock-bench-'));
  const fillClients = await connectAll(cluster, 4);
  try {
    // The longest TTL: the held locks must outlive the restarts measured at each level.
    const fillSessions = (await Promise.all(fillClients.map((client) => openSessions(client, 64, 'holder', 300_000)))).flat();
    let held = 0;
    for (const target of [...options.scaleCounts].sort((left, right) => left - right)) {
      const fillStartedMs = performance.now();
      let next = held;
      await Promise.all(
        fillSessions.map(async (session) => {
          while (next < target) {
            const position = next++;
            const lock = await session.tryLock(`bench/scale/${position}`);
            if (lock === null) throw new Error(`bench/scale/${position} was already held`);
          }
        }),
      );
      const fillSeconds = (performance.now() - fillStartedMs) / 1000;
      const fillPerSecond = round((target - held) / fillSeconds);
      held = target;
      console.error(`  holding ${held} locks (filled at ${fillPerSecond} locks/s)`);
      await sleep(1000); // followers apply the tail
      const rss = cluster.members.map((member) => rssMiB(member.process?.pid));
      const throughput = await uncontendedRun(cluster, options.seconds, options.warmUpSeconds, `bench/scale-load/${held}`);
      const snapshot = await forcedSnapshot(cluster, join(backupDir, `backup-${held}`));
      const rssAfterSnapshot = cluster.members.map((member) => rssMiB(member.process?.pid));
      const restart = await restartTimes(cluster);
      results.push({
        scenario: `scale (${held} held locks)`,
        throughputPerSecond: throughput.throughputPerSecond,
        latencyMs: throughput.latencyMs,
        memberCpuPercent: throughput.memberCpuPercent,
        operations: held,
        fillPerSecond,
        rssMiB: rss,
        rssAfterSnapshotMiB: rssAfterSnapshot,
        snapshot,
        restart,
        notes: `uncontended cycles/s next to ${held} held locks; RSS per member after filling; snapshot ${snapshot.seconds} s for ${snapshot.megabytes} MiB; restart one member: up ${restart.oneMember.upSeconds} s, ready ${restart.oneMember.readySeconds} s; all three: ready ${restart.allMembers.readySeconds} s`,
      });
      console.error(JSON.stringify(results.at(-1)));
    }
  } finally {
    await Promise.allSettled(fillClients.map((client) => client.close()));
    await rm(backupDir, { recursive: true, force: true });
  }
  return results;
}

/**
 * One session holds `count` locks and closes, while another client cycles a lock of its own: how
 * long the close takes to be answered, the slowest cycle of that client (its entries wait behind
 * the close), and whether any member saw a leader change (the members must keep heartbeating
 * while they release the locks). Run at the saturated timing (50/300 by default), the strictest.
 */
async function sessionEnd(cluster: LocalCluster, count: number, options: Options): Promise<ScenarioResult> {
  const client = await connect({ endpoints: cluster.members.map((member) => member.address) });
  const probeClient = await connect({ endpoints: cluster.members.map((member) => member.address) });
  try {
    const holder = await client.session({ ttlMs: 300_000, name: 'holder' });
    let next = 0;
    const fillStartedMs = performance.now();
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < count) {
          const position = next++;
          if ((await holder.tryLock(`bench/session-end/${position}`)) === null) throw new Error(`bench/session-end/${position} was already held`);
        }
      }),
    );
    const fillSeconds = (performance.now() - fillStartedMs) / 1000;
    console.error(`  one session holds ${count} locks (filled in ${round(fillSeconds)} s)`);
    const probe = await probeClient.session({ ttlMs: 10_000, name: 'probe' });
    const changesBefore = await Promise.all(cluster.members.map((member) => metricOf(member.address, 'raftlock_leader_changes_total')));
    let probing = true;
    const probeMs: number[] = [];
    const probeLoop = (async () => {
      while (probing) {
        const startedMs = performance.now();
        await (await probe.lock('bench/session-end-probe', { timeoutMs: 60_000 })).release();
        probeMs.push(performance.now() - startedMs);
        await sleep(5);
      }
    })();
    await sleep(1000);
    const meter = cpuMeter(cluster);
    const closeStartedMs = performance.now();
    await holder.close();
    const closeSeconds = round((performance.now() - closeStartedMs) / 1000);
    await sleep(2000);
    probing = false;
    await probeLoop;
    const changesAfter = await Promise.all(cluster.members.map((member) => metricOf(member.address, 'raftlock_leader_changes_total')));
    const leaderChanges = Math.max(...changesAfter.map((changes, position) => changes - (changesBefore[position] ?? 0)));
    const timing = options.saturatedTiming;
    return {
      scenario: `session end (${count} locks, ${timing.heartbeatMs}/${timing.electionTimeoutMs})`,
      operations: count,
      closeSeconds,
      latencyMs: percentiles(probeMs), // the other client's lock cycles around the close
      leaderChanges,
      ...meter(),
      notes: `close answered after ${closeSeconds} s; another client's lock cycles around it: slowest ${round(Math.max(...probeMs))} ms of ${probeMs.length}; leader changes seen by any member: ${leaderChanges}`,
    };
  } finally {
    await Promise.allSettled([client.close(), probeClient.close()]);
  }
}

/** A backup makes the leader snapshot everything applied; its duration comes from the leader's own histogram. */
async function forcedSnapshot(cluster: LocalCluster, path: string): Promise<{ seconds: number; megabytes: number; backupSeconds: number }> {
  const leader = await cluster.leader();
  const sumBefore = await metricOf(leader.address, 'raftlock_snapshot_duration_seconds_sum');
  const countBefore = await metricOf(leader.address, 'raftlock_snapshot_duration_seconds_count');
  const client = await connect({ endpoints: [leader.address] });
  const startedMs = performance.now();
  try {
    await client.snapshot.save(path);
  } finally {
    await client.close();
  }
  const backupSeconds = (performance.now() - startedMs) / 1000;
  const sumAfter = await metricOf(leader.address, 'raftlock_snapshot_duration_seconds_sum');
  const countAfter = await metricOf(leader.address, 'raftlock_snapshot_duration_seconds_count');
  const bytes = await metricOf(leader.address, 'raftlock_snapshot_bytes');
  const snapshots = countAfter - countBefore;
  return { seconds: round(snapshots > 0 ? (sumAfter - sumBefore) / snapshots : NaN), megabytes: round(bytes / 1024 / 1024), backupSeconds: round(backupSeconds) };
}

interface RestartTimes {
  readonly oneMember: { readonly upSeconds: number; readonly readySeconds: number };
  readonly allMembers: { readonly upSeconds: number[]; readonly readySeconds: number };
}

/** SIGKILL one follower and start it (up: state loaded, port open; ready: caught up), then all three. */
async function restartTimes(cluster: LocalCluster): Promise<RestartTimes> {
  const leader = await cluster.leader();
  const follower = cluster.members.find((member) => member.id !== leader.id) as Member;
  await cluster.kill(follower.id, 'SIGKILL');
  const oneStartedMs = performance.now();
  cluster.restart(follower.id);
  while (!(await isUp(follower.address))) await sleep(10);
  const oneUpSeconds = round((performance.now() - oneStartedMs) / 1000);
  await cluster.waitReady(300_000);
  const oneReadySeconds = round((performance.now() - oneStartedMs) / 1000);
  for (const member of cluster.members) await cluster.kill(member.id, 'SIGKILL');
  const allStartedMs = performance.now();
  for (const member of cluster.members) cluster.restart(member.id);
  const upSeconds = await Promise.all(
    cluster.members.map(async (member) => {
      while (!(await isUp(member.address))) await sleep(10);
      return round((performance.now() - allStartedMs) / 1000);
    }),
  );
  await cluster.waitReady(300_000);
  return { oneMember: { upSeconds: oneUpSeconds, readySeconds: oneReadySeconds }, allMembers: { upSeconds, readySeconds: round((performance.now() - allStartedMs) / 1000) } };
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
  const restart = await restartTimes(cluster);
  return {
    scenario: `compaction (${operations} lock ops)`,
    restart,
    throughputPerSecond: round((cycles * 2) / seconds),
    operations: cycles * 2,
    commitIndex,
    logEntriesOnDisk: logEntries,
    snapshotIndex,
    dataDirMiB: dataMiB,
    notes: 'log entries kept per member after the run (snapshot every 10k entries, 5k trailing); restart: one member (up = state loaded and port open, ready = caught up), then all three',
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

/** A bad flag: `pnpm bench` prints this one line and exits 2, before any cluster starts. */
class UsageError extends Error {}

const scenarioNames = ['single', 'uncontended', 'contended', 'failover', 'graceful', 'saturated', 'compaction', 'scale', 'session-end'] as const;
type ScenarioName = (typeof scenarioNames)[number];

function parseTiming(flag: string, text: string): Timing {
  const [heartbeatMs, electionTimeoutMs, extra] = text.split('/').map(Number);
  if (extra !== undefined || !(Number(heartbeatMs) > 0) || !(Number(electionTimeoutMs) > Number(heartbeatMs))) {
    throw new UsageError(`--${flag} must be HEARTBEAT/ELECTION in ms with ELECTION above HEARTBEAT (say 100/1000), got ${text}`);
  }
  return { heartbeatMs: Number(heartbeatMs), electionTimeoutMs: Number(electionTimeoutMs) };
}

function numberFlag(flag: string, text: string, { min, whole }: { min: number; whole: boolean }): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < min || (whole && !Number.isSafeInteger(value))) {
    throw new UsageError(`--${flag} must be ${whole ? 'a whole number' : 'a number'} ≥ ${min}, got ${text}`);
  }
  return value;
}

function listFlag<T>(flag: string, text: string, parse: (item: string) => T): T[] {
  const items = text.split(',');
  if (items.some((item) => item.trim() === '')) throw new UsageError(`--${flag} is a comma-separated list with no empty items, got ${text}`);
  return items.map(parse);
}

function parseOptions(args: readonly string[]): { options: Options; scenarios: ScenarioName[]; repeat: number } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        scenarios: { type: 'string', default: 'single,uncontended,contended,failover,graceful,saturated' },
        seconds: { type: 'string', default: '10' },
        'warm-up-seconds': { type: 'string', default: '2' },
        'failover-rounds': { type: 'string', default: '10' },
        scale: { type: 'string', default: '1000,10000,100000,1000000' },
        'session-end-locks': { type: 'string', default: '200000,1000000' },
        timing: { type: 'string', default: '100/1000' },
        timings: { type: 'string', default: '100/1000,50/300' },
        'saturated-seconds': { type: 'string', default: '60' },
        'saturated-timing': { type: 'string', default: '50/300' },
        repeat: { type: 'string', default: '1' },
        'cpu-prof': { type: 'string' },
      },
    }));
  } catch (error) {
    // node:util's own message names the flag ("Unknown option '--secs'"); its first line is enough.
    throw new UsageError(String((error as Error).message).split('\n')[0]);
  }
  const scenarios = listFlag('scenarios', values.scenarios, (name) => {
    if (!(scenarioNames as readonly string[]).includes(name)) throw new UsageError(`--scenarios: unknown scenario ${name} (known: ${scenarioNames.join(', ')})`);
    return name as ScenarioName;
  });
  const options: Options = {
    seconds: numberFlag('seconds', values.seconds, { min: 1, whole: false }),
    warmUpSeconds: numberFlag('warm-up-seconds', values['warm-up-seconds'], { min: 0, whole: false }),
    timing: parseTiming('timing', values.timing),
    leaderLossTimings: listFlag('timings', values.timings, (item) => parseTiming('timings', item)),
    failoverRounds: numberFlag('failover-rounds', values['failover-rounds'], { min: 1, whole: true }),
    saturatedSeconds: numberFlag('saturated-seconds', values['saturated-seconds'], { min: 1, whole: false }),
    saturatedTiming: parseTiming('saturated-timing', values['saturated-timing']),
    scaleCounts: listFlag('scale', values.scale, (item) => numberFlag('scale', item, { min: 1, whole: true })),
    sessionEndCounts: listFlag('session-end-locks', values['session-end-locks'], (item) => numberFlag('session-end-locks', item, { min: 1, whole: true })),
    cpuProfileDir: values['cpu-prof'],
  };
  return { options, scenarios, repeat: numberFlag('repeat', values.repeat, { min: 1, whole: true }) };
}

/**
 * With --repeat, one row per scenario: the median of each figure over its runs, taken figure by
 * figure (the median throughput and the median p50 may come from different runs). A shared machine
 * moves single runs by tens of percent; the median of a few alternating runs moves far less.
 */
function medianRows(results: readonly ScenarioResult[]): ScenarioResult[] {
  const byScenario = new Map<string, ScenarioResult[]>();
  for (const result of results) byScenario.set(result.scenario, [...(byScenario.get(result.scenario) ?? []), result]);
  const rows: ScenarioResult[] = [];
  for (const [scenario, runs] of byScenario) {
    if (runs.length < 2) continue;
    const median = (pick: (result: ScenarioResult) => number | undefined): number | undefined => {
      const figures = runs.map(pick).filter((figure): figure is number => figure !== undefined);
      return figures.length === 0 ? undefined : percentiles(figures).p50;
    };
    const throughputPerSecond = median((run) => run.throughputPerSecond);
    const latency = runs.every((run) => run.latencyMs !== undefined)
      ? { p50: median((run) => run.latencyMs?.p50), p90: median((run) => run.latencyMs?.p90), p99: median((run) => run.latencyMs?.p99), max: median((run) => run.latencyMs?.max) }
      : undefined;
    rows.push({
      scenario: `${scenario} (median of ${runs.length})`,
      ...(throughputPerSecond === undefined ? {} : { throughputPerSecond }),
      ...(latency === undefined ? {} : { latencyMs: latency as Percentiles }),
      notes: `each figure the median over ${runs.length} runs: ops/s ${runs.map((run) => run.throughputPerSecond ?? '–').join(', ')}; p50 ${runs.map((run) => run.latencyMs?.p50 ?? '–').join(', ')} ms`,
    });
  }
  return rows;
}

function printRow(result: ScenarioResult): void {
  const latency = result.latencyMs;
  console.log(
    `${result.scenario.padEnd(46)} ${String(result.throughputPerSecond ?? '').padStart(8)} ${String(latency?.p50 ?? '').padStart(9)} ${String(latency?.p90 ?? '').padStart(8)} ${String(latency?.p99 ?? '').padStart(8)} ${String(latency?.max ?? '').padStart(8)}   ${(result.memberCpuPercent ?? []).join('/').padEnd(22)}${String(result.clientCpuPercent ?? '')}`,
  );
  if (result.notes !== undefined) console.log(`    ${result.notes}`);
}

async function main(): Promise<void> {
  const { options, scenarios, repeat } = parseOptions(process.argv.slice(2));
  const results: ScenarioResult[] = [];
  const startCluster = (timing: Timing) =>
    LocalCluster.start({
      size: 3,
      ...timing,
      ...(options.cpuProfileDir === undefined ? {} : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`] }),
    });
  const withCluster = async (timing: Timing, run: (cluster: LocalCluster) => Promise<ScenarioResult | ScenarioResult[]>): Promise<void> => {
    const cluster = await startCluster(timing);
    try {
      const outcome = await run(cluster);
      for (const result of Array.isArray(outcome) ? outcome : [outcome]) {
        results.push(result);
        console.error(JSON.stringify(result));
      }
    } finally {
      // SIGTERM first so --cpu-prof members write their profiles; then the usual cleanup.
      if (options.cpuProfileDir !== undefined) for (const member of cluster.members) await cluster.kill(member.id, 'SIGTERM');
      await cluster.stop();
    }
  };
  // Round after round of the whole list, so repeated runs of one scenario are spread over time.
  for (let round = 1; round <= repeat; round++) {
    for (const scenario of scenarios) {
      console.error(repeat === 1 ? `running ${scenario}…` : `running ${scenario} (round ${round} of ${repeat})…`);
      await runScenario(scenario);
    }
  }
  console.log('\nscenario                                       ops/s      p50 ms   p90 ms   p99 ms   max ms   member CPU %          client CPU %');
  for (const result of results) printRow(result);
  const medians = repeat > 1 ? medianRows(results) : [];
  if (medians.length > 0) console.log('');
  for (const row of medians) printRow(row);
  const directory = join(import.meta.dirname, 'results');
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ options, repeat, results, ...(medians.length > 0 ? { medians } : {}) }, null, 2));
  console.log(`\nresults written to ${file}`);

  async function runScenario(scenario: ScenarioName): Promise<void> {
    switch (scenario) {
      case 'uncontended':
        await withCluster(options.timing, (cluster) => uncontended(cluster, options));
        break;
      case 'contended':
        await withCluster(options.timing, (cluster) => contended(cluster, options));
        break;
      case 'single':
        await withCluster(options.timing, (cluster) => single(cluster, options));
        break;
      case 'failover':
      case 'graceful':
        for (const timing of options.leaderLossTimings) {
          await withCluster(timing, (cluster) => leaderLoss(cluster, options, timing, scenario === 'failover' ? 'SIGKILL' : 'SIGTERM'));
        }
        break;
      case 'saturated':
        await withCluster(options.saturatedTiming, (cluster) => saturated(cluster, options));
        break;
      case 'compaction':
        await withCluster(options.timing, (cluster) => compaction(cluster, 200_000));
        break;
      case 'scale':
        await withCluster(options.timing, (cluster) => scale(cluster, options));
        break;
      case 'session-end':
        for (const count of options.sessionEndCounts) await withCluster(options.saturatedTiming, (cluster) => sessionEnd(cluster, count, options));
        break;
      default: {
        const unknown: never = scenario;
        throw new Error(`unknown scenario ${String(unknown)}`);
      }
    }
  }
}

try {
  await main();
} catch (error) {
  if (!(error instanceof UsageError)) throw error;
  console.error(`pnpm bench: ${error.message}`);
  process.exitCode = 2;
}
