// The seeded simulation as a vitest suite: a fixed range of seeds, in chunks, each chunk one test.
// A failing chunk reports every failing seed with its replay command (`pnpm sim --seed N`).

import { afterAll, expect, test } from 'vitest';
import { describeFailure, describeSummary, runSeedRange, type SeedRangeSummary } from './seed-runner.js';

const chunkSize = 25;

export function defineSimulationSuite(firstSeed: number, seedCount: number): void {
  const summaries: SeedRangeSummary[] = [];
  const chunks: [number, number][] = [];
  for (let seed = firstSeed; seed < firstSeed + seedCount; seed += chunkSize) chunks.push([seed, Math.min(chunkSize, firstSeed + seedCount - seed)]);

  test.each(chunks)('seeds %i.. (%i of them) keep Raft safe under faults and recover once healed', (chunkFirstSeed, count) => {
    const summary = runSeedRange(chunkFirstSeed, count);
    summaries.push(summary);
    expect(summary.failures.map(describeFailure)).toEqual([]);
  });

  afterAll(() => {
    const merged = summaries.reduce((total, summary) => ({
      seedsRun: total.seedsRun + summary.seedsRun,
      byNodeCount: { 3: total.byNodeCount[3] + summary.byNodeCount[3], 5: total.byNodeCount[5] + summary.byNodeCount[5] },
      byFault: Object.fromEntries(Object.entries(total.byFault).map(([fault, seeds]) => [fault, seeds + summary.byFault[fault as keyof typeof total.byFault]])) as SeedRangeSummary['byFault'],
      failures: [...total.failures, ...summary.failures],
      totals: Object.fromEntries(Object.entries(total.totals).map(([name, value]) => [name, value + summary.totals[name as keyof typeof total.totals]])) as SeedRangeSummary['totals'],
      recoveryMsMax: Math.max(total.recoveryMsMax, summary.recoveryMsMax),
    }));
    console.log(describeSummary(merged, `simulation seeds ${firstSeed}..${firstSeed + seedCount - 1}`));
  });
}
