// Acceptance (issue 7): the short chaos run `pnpm test` includes. Three real members behind fault
// proxies, four SDK clients taking locks, campaigning and writing to a fenced resource, and about
// 35 s of seeded faults (SIGKILL/restart, SIGSTOP/SIGCONT, the leader partitioned away, single
// members isolated, minority splits, one-way cuts, delays, drops, clients cut off, resets). Then
// everything heals and the checker judges the history (docs/chaos.md).
//
// The seed is random unless CHAOS_SEED is set; a failure prints the seed, the history file and the
// command that reruns the same fault schedule. The whole run takes about a minute; every process it
// starts is stopped by pid in runChaos's finally, pass or fail.

import { expect, test } from 'vitest';
import { shortRunOptions } from './chaos-profiles.js';
import { describeFailure, describeRun, runChaos } from './chaos-run.js';

const seed = process.env.CHAOS_SEED === undefined ? Math.floor(Math.random() * 1_000_000_000) : Number(process.env.CHAOS_SEED);

test(
  `3 members under a seeded nemesis (seed ${seed}): no two valid holders, increasing tokens, no lost acknowledged operation, no double apply, recovery within bounds`,
  async () => {
    const progress: string[] = [];
    const result = await runChaos({ ...shortRunOptions(seed), cleanUpOnPass: 'everything', progress: (line) => progress.push(line) });
    console.log(describeRun(result));
    if (!result.passed) console.error(`${progress.join('\n')}\n${describeFailure(result, `CHAOS_SEED=${seed} pnpm exec vitest run test/chaos/chaos-short.test.ts`)}`);
    expect(result.report.violations).toEqual([]);
    // The run must have been a real one: traffic flowed and the nemesis did its work. (Low floors:
    // a loaded 2-core machine halves the traffic; 40–90 grants and about 20 faults are usual.)
    expect(result.report.stats.grantCount).toBeGreaterThanOrEqual(10);
    expect(result.report.stats.writesAccepted).toBeGreaterThanOrEqual(10);
    expect(result.report.stats.faultCount).toBeGreaterThanOrEqual(8);
  },
  // Above the sum of the run's own bounds (each phase gives up on its own), so runChaos always gets
  // to stop its processes itself; a passing run takes about a minute.
  360_000,
);
