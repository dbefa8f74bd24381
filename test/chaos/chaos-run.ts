// runChaos: one whole chaos run, start to verdict.
//
//   start      members behind fault proxies, healthy; the observer watches; workers start
//   chaos      the nemesis injects faults on its seeded schedule while the workers work
//   heal       every fault is healed; the cluster must be healthy again within bounds.healthyMs
//   recovery   every worker waits for a lock until it gets one: each must within bounds.recoveryMs
//   stopping   workers finish their step (keeping what they hold) within bounds.stopMs
//   settled    the final state (holds, sessions, waiters) is read until it agrees with the history,
//              at most bounds.settleMs, and recorded
//   closing    every session is closed; a marker lock taken and released proves the watch caught up
//   closed     the final state must now be empty; recorded
//   done       every process stopped by pid; the checker judges the history
//
// Everything goes into <runDir>/history.jsonl; member logs into <runDir>/<id>.log.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SeededRandom } from '@raftlock/server/testing';
import { sleep } from '../e2e/local-cluster.js';
import { ChaosCluster, chaosRaftlockdPath } from './chaos-cluster.js';
import { ChaosObserver } from './chaos-observer.js';
import { ChaosWorker } from './chaos-worker.js';
import { checkHistory, finalStateProblems, type CheckReport } from './checker.js';
import type { ProxyCounters } from './fault-proxy.js';
import { FencedResource } from './fenced-resource.js';
import { History, type FinalLock, type FinalSession, type RunPhase } from './history.js';
import { LinkConditions } from './link-conditions.js';
import { Nemesis } from './nemesis.js';
import { errorCode, errorMessage, recordCall } from './recorded-call.js';

export interface ChaosRunOptions {
  readonly seed: number;
  readonly memberCount: 3 | 5;
  readonly clientCount: number;
  readonly chaosDurationMs: number;
  readonly lockCount: number;
  readonly electionCount: number;
  readonly sessionTtlMs: { readonly min: number; readonly max: number };
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotEveryEntries: number;
  readonly snapshotTrailingEntries: number;
  readonly requestTimeoutMs: number;
  readonly waitTimeoutMaxMs: number;
  readonly holdMaxMs: number;
  readonly nemesis: { readonly gapMs: { readonly min: number; readonly max: number }; readonly durationMs: { readonly min: number; readonly max: number }; readonly maxNetworkFaults: number };
  readonly bounds: { readonly healthyMs: number; readonly recoveryMs: number; readonly stopMs: number; readonly settleMs: number; readonly watchCatchUpMs: number };
  /** Where the history, logs and data go; a fresh temp dir by default. */
  readonly runDir?: string;
  /** On a passing run: delete only the members' data, or the whole run dir. */
  readonly cleanUpOnPass: 'data' | 'everything';
  readonly progress: (line: string) => void;
}

export interface ChaosRunResult {
  readonly seed: number;
  readonly runDir: string;
  readonly historyPath: string;
  readonly durationMs: number;
  readonly report: CheckReport;
  readonly proxy: ProxyCounters;
  readonly passed: boolean;
}

export const chaosPrefix = 'chaos/';

export async function runChaos(options: ChaosRunOptions): Promise<ChaosRunResult> {
  const startedMs = performance.now();
  const runDir = options.runDir ?? (await mkdtemp(join(tmpdir(), `raftlock-chaos-${options.seed}-`)));
  const history = new History(join(runDir, 'history.jsonl'));
  const random = new SeededRandom(options.seed);
  const clientIds = Array.from({ length: options.clientCount }, (_, position) => `c${position + 1}`);
  const clientTokens = new Map<string, string>();
  const tokenOf = new Map<string, string>();
  for (const clientId of [...clientIds, 'observer']) {
    // Always 8 hex digits: a token must be at least 16 characters, and a small draw would be shorter.
    const token = `chaos-${clientId}-${random.nextUint32().toString(16).padStart(8, '0')}`;
    clientTokens.set(token, clientId);
    tokenOf.set(clientId, token);
  }
  const lockNames = Array.from({ length: options.lockCount }, (_, position) => `${chaosPrefix}lock-${position}`);
  const electionNames = Array.from({ length: options.electionCount }, (_, position) => `${chaosPrefix}election-${position}`);
  const { progress, bounds } = options;
  const { runDir: _runDir, progress: _progress, ...recordedOptions } = options;
  history.record({ kind: 'run', seed: options.seed, options: recordedOptions, raftlockd: chaosRaftlockdPath });
  const phase = (name: RunPhase, note = '') => {
    history.record({ kind: 'phase', phase: name });
    progress(`[${(history.now() / 1000).toFixed(1)} s] ${name}${note ? `: ${note}` : ''}`);
  };
  const liveness = (check: string, ok: boolean, elapsedMs: number, boundMs: number, detail: string) => {
    history.record({ kind: 'liveness', check, ok, elapsedMs: Math.round(elapsedMs), boundMs, detail });
    progress(`  ${ok ? 'ok' : 'MISSED'}: ${check} in ${Math.round(elapsedMs)} ms (bound ${boundMs} ms)${detail ? `; ${detail}` : ''}`);
  };

  const conditions = new LinkConditions();
  let cluster: ChaosCluster | undefined;
  let observer: ChaosObserver | undefined;
  const workers: ChaosWorker[] = [];
  let proxy: ProxyCounters | undefined;
  let stopTrackingLeaders: (() => Promise<void>) | undefined;
  try {
    phase('start', `seed ${options.seed}, ${options.memberCount} members, ${options.clientCount} clients, run dir ${runDir}`);
    cluster = await ChaosCluster.start({
      runDir,
      memberCount: options.memberCount,
      heartbeatMs: options.heartbeatMs,
      electionTimeoutMs: options.electionTimeoutMs,
      snapshotEveryEntries: options.snapshotEveryEntries,
      snapshotTrailingEntries: options.snapshotTrailingEntries,
      clientTokens,
      conditions,
      random: random.fork(),
      onUnexpectedExit: (member, code, signal) => history.record({ kind: 'member-exit', member, code, signal, logPath: join(runDir, `${member}.log`) }),
    });
    proxy = cluster.proxyCounters;
    stopTrackingLeaders = cluster.trackLeaders(500, (member, term) => history.record({ kind: 'leader-seen', member, term }));
    await cluster.waitHealthy(bounds.healthyMs);
    observer = await ChaosObserver.start({ endpoints: cluster.endpoints, token: tokenOf.get('observer') as string, history, prefix: chaosPrefix, requestTimeoutMs: options.requestTimeoutMs, sessionPollIntervalMs: 2_000 });
    const resource = new FencedResource(history);
    for (const clientId of clientIds) {
      workers.push(
        new ChaosWorker({
          clientId,
          token: tokenOf.get(clientId) as string,
          endpoints: cluster.endpoints,
          random: random.fork(),
          history,
          resource,
          lockNames,
          electionNames,
          sessionTtlMs: options.sessionTtlMs,
          requestTimeoutMs: options.requestTimeoutMs,
          waitTimeoutMaxMs: options.waitTimeoutMaxMs,
          recoveryWaitTimeoutMs: Math.floor(bounds.recoveryMs / 3),
          holdMaxMs: options.holdMaxMs,
        }),
      );
    }
    for (const worker of workers) worker.start();

    phase('chaos', `${Math.round(options.chaosDurationMs / 1000)} s of faults`);
    // Long holders first: cutting one off mid-hold makes the stale writer that fencing must stop.
    const holdingClientIds = () => {
      const longHolders = workers.filter((worker) => worker.isHoldingPastLease);
      return (longHolders.length > 0 ? longHolders : workers.filter((worker) => worker.isHolding)).map((worker) => worker.clientId);
    };
    const nemesis = new Nemesis({ cluster, conditions, history, random: random.fork(), clientIds, holdingClientIds, ...options.nemesis });
    const ticker = setInterval(() => progress(`  ${(history.now() / 1000).toFixed(0)} s: ${history.entries.filter((entry) => entry.kind === 'ok').length} operations acknowledged, ${nemesis.totalFaults} faults, writes ${resource.acceptedWriteCount} accepted / ${resource.rejectedWriteCount} refused`), 30_000);
    try {
      await nemesis.run(options.chaosDurationMs);
    } finally {
      clearInterval(ticker);
    }

    phase('heal', `${nemesis.totalFaults} faults injected`);
    await nemesis.healAll();
    const healStartedMs = performance.now();
    try {
      await cluster.waitHealthy(bounds.healthyMs);
      liveness('cluster healthy after healing', true, performance.now() - healStartedMs, bounds.healthyMs, '');
    } catch (error) {
      liveness('cluster healthy after healing', false, performance.now() - healStartedMs, bounds.healthyMs, (error as Error).message);
    }

    phase('recovery');
    const recoveryStartedMs = performance.now();
    for (const worker of workers) worker.mode = 'recovery';
    while (workers.some((worker) => worker.grantsInRecovery === 0) && performance.now() - recoveryStartedMs < bounds.recoveryMs) await sleep(50);
    const starved = workers.filter((worker) => worker.grantsInRecovery === 0).map((worker) => worker.clientId);
    liveness('every client got a grant after healing', starved.length === 0, performance.now() - recoveryStartedMs, bounds.recoveryMs, starved.length > 0 ? `no grant for ${starved.join(', ')}` : '');

    phase('stopping');
    const stopStartedMs = performance.now();
    for (const worker of workers) worker.requestStop();
    const stopped = await Promise.race([Promise.all(workers.map((worker) => worker.finished())).then(() => true), sleep(bounds.stopMs).then(() => false)]);
    liveness('every client finished its work', stopped, performance.now() - stopStartedMs, bounds.stopMs, '');
    phase('stopped');

    const settledMs = await recordSettledFinal(history, observer, electionNames, 'holding', bounds.settleMs);
    phase('settled', `final state read ${Math.round(settledMs)} ms after the workers stopped`);

    phase('closing');
    await Promise.all(workers.map((worker) => worker.close()));
    const caughtUp = await placeMarker(history, observer, bounds.watchCatchUpMs);
    liveness('the watch saw everything up to the end marker', caughtUp.ok, caughtUp.elapsedMs, bounds.watchCatchUpMs, '');
    await recordSettledFinal(history, observer, electionNames, 'closed', bounds.settleMs);
    const liveCluster = cluster;
    const members = await Promise.all(
      liveCluster.members.map(async (member) => {
        const metrics = await liveCluster.metricsOf(member.id);
        return { id: member.id, commitIndex: metrics?.get('raftlock_commit_index') ?? null, snapshotIndex: metrics?.get('raftlock_snapshot_index') ?? null, logEntries: metrics?.get('raftlock_log_entries') ?? null };
      }),
    );
    history.record({ kind: 'members-final', members });
    phase('closed');
  } catch (error) {
    // The run could not be carried out (no cluster at all, say): say which run and where its history is.
    throw new Error(`chaos run with seed ${options.seed} aborted: ${(error as Error).message}; history: ${history.path}`, { cause: error });
  } finally {
    await Promise.allSettled(workers.map((worker) => worker.close()));
    await observer?.stop().catch(() => undefined);
    await stopTrackingLeaders?.();
    await cluster?.stop();
    phase('done');
    await history.close();
  }
  const report = checkHistory(history.entries);
  const passed = report.violations.length === 0;
  if (passed) await rm(options.cleanUpOnPass === 'everything' ? runDir : join(runDir, 'data'), { recursive: true, force: true });
  return { seed: options.seed, runDir, historyPath: history.path, durationMs: performance.now() - startedMs, report, proxy: proxy ?? cluster?.proxyCounters ?? emptyCounters(), passed };
}

/**
 * Read the final state until it agrees with the history (or the bound passes), and record the last
 * read. Agreement takes a moment: lost sessions must reach their TTL, and the SDK gives back grants
 * of abandoned requests in the background. Returns how long it took.
 */
async function recordSettledFinal(history: History, observer: ChaosObserver, electionNames: readonly string[], stage: 'holding' | 'closed', boundMs: number): Promise<number> {
  const startedMs = performance.now();
  let last: { locks: FinalLock[]; sessions: FinalSession[] } | undefined;
  for (;;) {
    try {
      last = await observer.readFinal(electionNames);
      if (finalStateProblems(history.entries, { stage, at: history.now(), ...last }).length === 0) break;
    } catch {
      // A read can fail while the cluster settles; the bound decides.
    }
    if (performance.now() - startedMs > boundMs) break;
    await sleep(250);
  }
  if (last) history.record({ kind: 'final', stage, ...last });
  return performance.now() - startedMs;
}

/** Take and release a marker lock; once the watch shows its release, it has seen everything before. */
async function placeMarker(history: History, observer: ChaosObserver, boundMs: number): Promise<{ ok: boolean; elapsedMs: number }> {
  const startedMs = performance.now();
  const client = 'observer';
  const name = `${chaosPrefix}end-marker`;
  const session = await recordCall(history, { client, opId: 'observer.open', op: 'open', fields: { name: 'observer.s1' } }, () => observer.client.session({ ttlMs: 10_000, name: 'observer.s1' }), (opened) => ({ session: opened.id }));
  if (!session) return { ok: false, elapsedMs: performance.now() - startedMs };
  const opId = 'observer.marker';
  history.record({ kind: 'invoke', opId, client, op: 'tryAcquire', session: session.id, name });
  const lock = await session.tryLock(name, { metadata: opId }).catch((error: unknown) => {
    history.record({ kind: 'fail', opId, client, op: 'tryAcquire', code: errorCode(error), message: errorMessage(error) });
    return undefined;
  });
  if (lock) {
    history.record({ kind: 'ok', opId, client, op: 'tryAcquire', session: session.id, name, token: Number(lock.token), otherValidHolds: [] });
    await recordCall(history, { client, opId: 'observer.release', op: 'release', fields: { session: session.id, name, holdOpId: opId, token: Number(lock.token) } }, () => lock.release());
  }
  await recordCall(history, { client, opId: 'observer.close', op: 'close', fields: { session: session.id } }, () => session.close());
  const sessionId = session.id;
  const ok = await observer.waitForEvent((event) => event.name === name && event.type === 'released' && event.session === sessionId, boundMs);
  return { ok, elapsedMs: performance.now() - startedMs };
}

function emptyCounters(): ProxyCounters {
  return { connections: 0, framesForwarded: 0, framesHeldByCut: 0, framesDroppedAtRandom: 0, framesDelayed: 0, connectionsReset: 0 };
}

/** The run's numbers, a few lines for a person. */
export function describeRun(result: ChaosRunResult): string {
  const { stats, countsByRule } = result.report;
  const operations = Object.entries(stats.operations)
    .map(([op, counts]) => `${op} ${counts.ok}/${counts.ok + counts.fail}`)
    .join(', ');
  const failureCodes = new Map<string, number>();
  for (const counts of Object.values(stats.operations)) for (const [code, count] of Object.entries(counts.codes)) failureCodes.set(code, (failureCodes.get(code) ?? 0) + count);
  return [
    `chaos seed ${result.seed}: ${result.passed ? 'PASSED' : 'FAILED'} in ${(result.durationMs / 1000).toFixed(1)} s`,
    `  operations: ${stats.operationCount} (${operations} acknowledged/attempted); failures by code: ${[...failureCodes].map(([code, count]) => `${code} ${count}`).join(', ') || 'none'}`,
    `  grants ${stats.grantCount}; resource writes ${stats.writesAccepted} accepted, ${stats.writesRejected} refused as stale (all from lapsed leases: ${stats.staleWritesFenced === stats.writesRejected}); sessions lost ${stats.sessionsLost}, holds lost ${stats.holdsLost}`,
    `  faults: ${stats.faultCount} (${Object.entries(stats.faults).map(([kind, count]) => `${kind} ${count}`).join(', ')})`,
    `  proxies: ${result.proxy.framesForwarded} frames forwarded, ${result.proxy.framesDroppedAtRandom} dropped, ${result.proxy.framesDelayed} delayed, ${result.proxy.framesHeldByCut} held by cuts, ${result.proxy.connectionsReset} connections reset`,
    `  cluster: ${stats.leaderTerms} leader terms observed; at the end ${stats.membersAtEnd.map((member) => `${member.id} commit ${member.commitIndex} snapshot ${member.snapshotIndex} log ${member.logEntries}`).join(', ')}; watch: ${stats.watchEvents} events, ${stats.watchGaps} gaps`,
    `  violations: ${Object.entries(countsByRule).map(([rule, count]) => `${rule} ${count}`).join(', ')}`,
    `  history: ${result.historyPath}`,
  ].join('\n');
}

/** Everything needed to chase a failure: the seed, the history, the first violations, how to rerun. */
export function describeFailure(result: ChaosRunResult, rerunCommand: string): string {
  const shown = result.report.violations.slice(0, 25);
  return [
    `chaos run FAILED — seed ${result.seed}, history ${result.historyPath} (member logs next to it)`,
    ...shown.map((violation) => `  [${violation.rule}] ${violation.at === undefined ? '' : `at ${(violation.at / 1000).toFixed(3)} s: `}${violation.message}`),
    ...(result.report.violations.length > shown.length ? [`  … and ${result.report.violations.length - shown.length} more`] : []),
    `  rerun: ${rerunCommand}`,
    `  re-check the history: pnpm chaos --check ${result.historyPath}`,
  ].join('\n');
}
