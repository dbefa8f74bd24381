// `pnpm chaos`: the long chaos run against real raftlockd processes, or a re-check of a history.
//
//   pnpm chaos --minutes N [--seed S] [--members 3|5] [--clients C]   N minutes of faults, then checks
//   pnpm chaos --check FILE                                              judge a recorded history again
//
// Exit code 0 when every check passes, 1 on any violation (with the seed and the history path),
// 2 on a usage error.

import { parseArgs } from 'node:util';
import { checkHistory } from './checker.js';
import { longRunOptions } from './chaos-profiles.js';
import { describeFailure, describeRun, runChaos } from './chaos-run.js';
import { readHistory } from './history.js';

function fail(message: string): never {
  console.error(`pnpm chaos: ${message}`);
  process.exit(2);
}

function numberFlag(value: string | undefined, name: string, fallback: number, valid: (parsed: number) => boolean): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || !valid(parsed)) fail(`--${name}: "${value}" is not allowed`);
  return parsed;
}

let flags;
try {
  flags = parseArgs({
    options: {
      minutes: { type: 'string' },
      seed: { type: 'string' },
      members: { type: 'string' },
      clients: { type: 'string' },
      check: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (error) {
  fail((error as Error).message);
}

if (flags.help) {
  console.log(
    [
      'usage: pnpm chaos --minutes N [--seed S] [--members 3|5] [--clients C]',
      '       pnpm chaos --check HISTORY.jsonl',
      'Runs raftlockd members behind fault proxies for N minutes of faults (default 10), then checks',
      'exclusion, fencing order, acknowledged operations, double applies and recovery (docs/chaos.md).',
      'Uses packages/server/dist/main.js (run `pnpm run build` first) or RAFTLOCK_CHAOS_RAFTLOCKD.',
    ].join('\n'),
  );
  process.exit(0);
}

if (flags.check !== undefined) {
  const report = checkHistory(readHistory(flags.check));
  for (const violation of report.violations) console.log(`[${violation.rule}] ${violation.at === undefined ? '' : `at ${(violation.at / 1000).toFixed(3)} s: `}${violation.message}`);
  console.log(`violations: ${Object.entries(report.countsByRule).map(([rule, count]) => `${rule} ${count}`).join(', ')}`);
  process.exit(report.violations.length > 0 ? 1 : 0);
}

const minutes = numberFlag(flags.minutes, 'minutes', 10, (parsed) => parsed > 0 && parsed <= 24 * 60);
const seed = numberFlag(flags.seed, 'seed', Math.floor(Math.random() * 1_000_000_000), (parsed) => Number.isSafeInteger(parsed) && parsed >= 0);
const memberCount = numberFlag(flags.members, 'members', 5, (parsed) => parsed === 3 || parsed === 5) as 3 | 5;
const clientCount = numberFlag(flags.clients, 'clients', 8, (parsed) => Number.isInteger(parsed) && parsed >= 1 && parsed <= 64);

// Ctrl-C or a kill: exit normally, so the cluster's exit hook SIGKILLs every member it started.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const result = await runChaos({ ...longRunOptions(seed, minutes, memberCount, clientCount), cleanUpOnPass: 'data', progress: (line) => console.log(line) });
console.log(describeRun(result));
if (!result.passed) {
  console.error(describeFailure(result, `pnpm chaos --minutes ${minutes} --seed ${seed} --members ${memberCount} --clients ${clientCount}`));
  process.exit(1);
}
