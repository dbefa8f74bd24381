// `pnpm sim`: replay one seed (`--seed N [--trace]`) or run many (`--seeds 10000 [--from S]`).
// Exit code 1 when any seed violates a checker, with its replay command.

import { parseArgs } from 'node:util';
import { describeFailure, describeSummary, runSeedRange } from './seed-runner.js';
import { runSimulation } from './simulation.js';
import { enabledFaults, swarmOptions } from './swarm.js';

function fail(message: string): never {
  console.error(`pnpm sim: ${message}`);
  process.exit(2);
}

function integerFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) fail(`--${name} must be a non-negative integer, got "${value}"`);
  return parsed;
}

let parsed;
try {
  parsed = parseArgs({
    options: {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      from: { type: 'string' },
      trace: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (error) {
  fail((error as Error).message);
}

if (parsed.help) {
  console.log('usage: pnpm sim --seed N [--trace]      replay one seed\n       pnpm sim --seeds COUNT [--from S]  run COUNT seeds starting at S (default: random)');
  process.exit(0);
}

const seed = integerFlag(parsed.seed, 'seed');
const seedCount = integerFlag(parsed.seeds, 'seeds');
if (seed !== undefined && seedCount !== undefined) fail('give either --seed or --seeds, not both');

if (seed !== undefined) {
  const options = swarmOptions(seed);
  console.log(`seed ${seed}: ${options.nodeCount} members, faults: ${enabledFaults(options).join(', ') || 'none'}`);
  console.log(JSON.stringify(options));
  const result = runSimulation(options, parsed.trace);
  console.log(JSON.stringify({ ...result.stats, endMs: result.endMs, recoveryMs: result.recoveryMs }));
  if (result.violations.length > 0) {
    console.error(describeFailure(result));
    process.exit(1);
  }
  console.log(`seed ${seed} passed`);
} else {
  const count = seedCount ?? 1000;
  const firstSeed = integerFlag(parsed.from, 'from') ?? Math.floor(Math.random() * 1_000_000_000);
  const startedMs = performance.now();
  let done = 0;
  const summary = runSeedRange(firstSeed, count, {}, (result) => {
    done++;
    if (result.violations.length > 0) console.error(describeFailure(result));
    if (done % 500 === 0) console.log(`${done}/${count} seeds (${((performance.now() - startedMs) / 1000).toFixed(1)} s)`);
  });
  console.log(describeSummary(summary, `seeds ${firstSeed}..${firstSeed + count - 1}`));
  process.exit(summary.failures.length > 0 ? 1 : 0);
}
