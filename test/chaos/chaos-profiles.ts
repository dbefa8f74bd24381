// The two shapes of chaos run: the short one `pnpm test` runs (3 members, a handful of clients,
// about a minute, light enough for a 2-core machine shared with other tests) and the long one
// `pnpm chaos` runs. Bounds are generous on purpose: they catch a cluster or client that never
// recovers, not one that is slow on a loaded machine.

import type { ChaosRunOptions } from './chaos-run.js';

type ProfileOptions = Omit<ChaosRunOptions, 'progress' | 'cleanUpOnPass' | 'runDir'>;

const commonTiming = {
  // The e2e suite's timing: fast failover, so many elections happen within the run.
  heartbeatMs: 50,
  electionTimeoutMs: 500,
  // Snapshot and compact every few hundred entries (the minimum is 100), keeping a short tail, so a
  // member that was down or cut off for a while catches up by InstallSnapshot, under faults too.
  snapshotEveryEntries: 100,
  snapshotTrailingEntries: 20,
  requestTimeoutMs: 5_000,
  // Short leases, so pauses, cuts and failovers make some of them lapse: that is when fencing matters.
  sessionTtlMs: { min: 1_500, max: 5_000 },
  waitTimeoutMaxMs: 3_000,
  holdMaxMs: 800,
} as const;

export function shortRunOptions(seed: number): ProfileOptions {
  return {
    seed,
    memberCount: 3,
    clientCount: 4,
    chaosDurationMs: 35_000,
    lockCount: 2,
    electionCount: 1,
    ...commonTiming,
    nemesis: { gapMs: { min: 300, max: 2_000 }, durationMs: { min: 200, max: 4_000 }, maxNetworkFaults: 2 },
    bounds: { healthyMs: 30_000, recoveryMs: 30_000, stopMs: 30_000, settleMs: 30_000, watchCatchUpMs: 15_000 },
  };
}

export function longRunOptions(seed: number, minutes: number, memberCount: 3 | 5, clientCount: number): ProfileOptions {
  return {
    seed,
    memberCount,
    clientCount,
    chaosDurationMs: Math.round(minutes * 60_000),
    lockCount: 3,
    electionCount: 2,
    ...commonTiming,
    nemesis: { gapMs: { min: 300, max: 2_500 }, durationMs: { min: 200, max: 6_000 }, maxNetworkFaults: 2 },
    bounds: { healthyMs: 60_000, recoveryMs: 60_000, stopMs: 60_000, settleMs: 60_000, watchCatchUpMs: 30_000 },
  };
}
