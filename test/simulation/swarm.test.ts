import { expect, test } from 'vitest';
import { enabledFaults, swarmOptions, type FaultKind } from './swarm.js';
import { runSimulation } from './simulation.js';

test('the 500 seeds of pnpm test cover 3- and 5-member clusters and every fault type, each with membership changes and snapshots', () => {
  const seen = new Set<FaultKind>();
  const sizes = new Set<number>();
  for (let seed = 1; seed <= 500; seed++) {
    const options = swarmOptions(seed);
    sizes.add(options.nodeCount);
    for (const fault of enabledFaults(options)) seen.add(fault);
    expect(enabledFaults(options)).toEqual(expect.arrayContaining(['membership', 'snapshot']));
  }
  expect([...sizes].sort()).toEqual([3, 5]);
  expect([...seen].sort()).toEqual(['crash', 'diskStall', 'drop', 'duplicate', 'membership', 'oneWayPartition', 'partition', 'reorder', 'snapshot', 'transfer']);
});

test('one seed replays the same cluster history exactly', () => {
  const first = runSimulation(swarmOptions(42));
  const second = runSimulation(swarmOptions(42));
  expect(second.stats).toEqual(first.stats);
  expect(second.trace).toEqual(first.trace);
  expect(first.stats.proposalsAcknowledged).toBeGreaterThan(0);
});
