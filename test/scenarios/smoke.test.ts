import { expect, test } from 'vitest';
import { ScenarioCluster } from './scenario-cluster.js';

test('three members elect one leader and replicate a proposal to all', () => {
  const cluster = new ScenarioCluster({ nodeCount: 3 });
  cluster.campaign('n1');
  expect(cluster.leader()).toBe('n1');
  const result = cluster.propose('n1', 'hello');
  expect(result.accepted).toBe(true);
  cluster.tickAll(2);
  for (const id of cluster.ids) expect(cluster.appliedTexts(id)).toEqual(['hello']);
});
