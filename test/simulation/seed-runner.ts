// Runs a range of seeds and summarises them: shared by `pnpm test` (a fixed range) and `pnpm sim`.

import { runSimulation, type SimulationResult } from './simulation.js';
import { enabledFaults, swarmOptions, type FaultKind, type SimulationOptions } from './swarm.js';

export interface SeedRangeSummary {
  readonly seedsRun: number;
  readonly byNodeCount: Record<3 | 5, number>;
  readonly byFault: Record<FaultKind, number>;
  readonly failures: readonly SimulationResult[];
  readonly totals: {
    proposalsAcknowledged: number;
    crashes: number;
    partitions: number;
    messagesDropped: number;
    readsReleased: number;
    configChanges: number;
    snapshotsTaken: number;
    snapshotsInstalled: number;
    diskStalls: number;
    disconnectHints: number;
  };
  readonly recoveryMsMax: number;
}

export function replayCommand(seed: number): string {
  return `pnpm sim --seed ${seed}`;
}

export function describeFailure(result: SimulationResult): string {
  const lines = [
    `simulation seed ${result.seed} failed (${result.options.nodeCount} members, faults: ${enabledFaults(result.options).join(', ') || 'none'})`,
    ...result.violations.map((violation) => `  ${violation.atMs} ms  ${violation.rule}: ${violation.detail}`),
    `  replay: ${replayCommand(result.seed)}   (add --trace for every event)`,
    '  last events:',
    ...result.trace.slice(-40).map((line) => `    ${line}`),
  ];
  return lines.join('\n');
}

export function runSeedRange(firstSeed: number, count: number, overrides: Partial<SimulationOptions> = {}, onResult?: (result: SimulationResult) => void): SeedRangeSummary {
  const byNodeCount: Record<3 | 5, number> = { 3: 0, 5: 0 };
  const byFault: Record<FaultKind, number> = { drop: 0, duplicate: 0, reorder: 0, partition: 0, oneWayPartition: 0, crash: 0, transfer: 0, membership: 0, snapshot: 0, diskStall: 0 };
  const failures: SimulationResult[] = [];
  const totals = { proposalsAcknowledged: 0, crashes: 0, partitions: 0, messagesDropped: 0, readsReleased: 0, configChanges: 0, snapshotsTaken: 0, snapshotsInstalled: 0, diskStalls: 0, disconnectHints: 0 };
  let recoveryMsMax = 0;
  for (let seed = firstSeed; seed < firstSeed + count; seed++) {
    const options = swarmOptions(seed, overrides);
    const result = runSimulation(options);
    byNodeCount[options.nodeCount]++;
    for (const fault of enabledFaults(options)) byFault[fault]++;
    totals.proposalsAcknowledged += result.stats.proposalsAcknowledged;
    totals.crashes += result.stats.crashes;
    totals.partitions += result.stats.partitions;
    totals.messagesDropped += result.stats.messagesDropped;
    totals.readsReleased += result.stats.readsReleased;
    totals.configChanges += result.stats.configChangesCommitted;
    totals.snapshotsTaken += result.stats.snapshotsTaken;
    totals.snapshotsInstalled += result.stats.snapshotsInstalled;
    totals.disconnectHints += result.stats.disconnectHints;
    totals.diskStalls += result.stats.diskStalls;
    recoveryMsMax = Math.max(recoveryMsMax, result.recoveryMs ?? 0);
    if (result.violations.length > 0) failures.push(result);
    onResult?.(result);
  }
  return { seedsRun: count, byNodeCount, byFault, failures, totals, recoveryMsMax };
}

export function describeSummary(summary: SeedRangeSummary, label: string): string {
  const faults = Object.entries(summary.byFault)
    .map(([fault, seeds]) => `${fault} ${seeds}`)
    .join(', ');
  return (
    `${label}: ${summary.seedsRun} seeds ran (3 members: ${summary.byNodeCount[3]}, 5 members: ${summary.byNodeCount[5]}); ` +
    `seeds with each fault: ${faults}; acknowledged proposals ${summary.totals.proposalsAcknowledged}, crashes ${summary.totals.crashes}, ` +
    `partitions ${summary.totals.partitions}, reads checked ${summary.totals.readsReleased}, membership changes committed ` +
    `${summary.totals.configChanges}, snapshots taken ${summary.totals.snapshotsTaken} / installed from a leader ${summary.totals.snapshotsInstalled}, disk stalls ${summary.totals.diskStalls}, lost-connection hints ${summary.totals.disconnectHints}; slowest recovery ${summary.recoveryMsMax} ms; ` +
    `${summary.failures.length} failed`
  );
}
