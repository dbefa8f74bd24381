// Issue 6 acceptance, issue 8 target: SIGTERM to the leader of a 3-member cluster under SDK load.
// The member hands leadership off, redirects the clients it still has to the successor and exits 0;
// the next acquire succeeds within a fraction of an election timeout, and no acknowledged acquire or
// release is lost. SIGKILL rounds give the comparison: there the followers must first wait out their
// leader lease (one election timeout) before anyone can campaign.
//
// The times are printed, not asserted tightly: this runs on loaded 2-core machines. The measurement
// itself (leader-loss-rounds.ts) is the one `pnpm bench --scenarios graceful,failover` reports.

import { expect, test } from 'vitest';
import { runLeaderLossRounds, type LeaderLossReport } from './leader-loss-rounds.js';
import { LocalCluster } from './local-cluster.js';

const electionTimeoutMs = 1000;
const gracefulRounds = 10;
/** Fewer: each costs an election timeout or two plus a restart, and they are only the comparison. */
const crashRounds = 5;

function summary(report: LeaderLossReport): string {
  const times = report.rounds.map((round) => `${round.signalled} ${round.nextAcquireMs.toFixed(0)}`).join(', ');
  return `median ${report.medianMs.toFixed(0)} ms, max ${report.maxMs.toFixed(0)} ms over ${report.rounds.length} rounds [${times}]`;
}

test('SIGTERM to the leader under SDK load, 10 times: each exits 0, no acknowledged acquire or release is lost, and the next acquire comes far sooner than after SIGKILL', async () => {
  await using cluster = await LocalCluster.start({ size: 3, heartbeatMs: 100, electionTimeoutMs });
  const load = { loadClients: 2, sessionsPerClient: 4 };
  const graceful = await runLeaderLossRounds(cluster, { signal: 'SIGTERM', rounds: gracefulRounds, ...load });
  const crash = await runLeaderLossRounds(cluster, { signal: 'SIGKILL', rounds: crashRounds, ...load });
  console.log(
    `leader hand-off under load (8 sessions cycling acquire/release), time from the signal to the next successful acquire:\n` +
      `  SIGTERM: ${summary(graceful)}\n  SIGKILL: ${summary(crash)}\n` +
      `  load: ${graceful.loadCycles + crash.loadCycles} acquire/release cycles; probe acquires the old leader answered just after SIGTERM (not counted): ${graceful.rounds.reduce((sum, round) => sum + round.servedByOldLeader, 0)}`,
  );
  expect(graceful.rounds.map((round) => round.exitCode)).toEqual(Array.from({ length: gracefulRounds }, () => 0));
  expect(graceful.problems).toEqual([]);
  expect(crash.problems).toEqual([]);
  expect(graceful.loadCycles).toBeGreaterThan(gracefulRounds * 8);
  // Generous bounds (the goal is a 200 ms median; issue 8's stretch 100 ms): without a hand-off the
  // followers would wait out their leader lease, one election timeout, as the SIGKILL rounds do.
  expect(graceful.medianMs).toBeLessThan(electionTimeoutMs);
  expect(graceful.medianMs).toBeLessThan(crash.medianMs);
});
