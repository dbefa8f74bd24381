// `raftlock election run NAME VALUE --wait 0 -- CMD`: lead now or not at all, like `lock run --wait 0`.
// An election has no try mode; a campaign with a 0 ms timeout used to be cancelled before the cluster
// could answer, so `--wait 0` never ran CMD, even with nobody leading.

import { expect, test } from 'vitest';
import { connect, type WatchSnapshotItem } from '@raftlock/client';
import { LocalCluster } from '../e2e/local-cluster.js';
import { runCli } from './cli-process.js';

test('election run --wait 0 runs the command when nobody leads, and refuses at once (leaving no candidate queued) when someone does', async () => {
  await using cluster = await LocalCluster.start({ size: 1 });
  const endpoints = cluster.members.map((member) => member.address).join(',');

  const free = await runCli(['--endpoints', endpoints, 'election', 'run', 'scheduler', '10.0.0.7:8080', '--wait', '0', '--', 'sh', '-c', 'echo "led $RAFTLOCK_VALUE $RAFTLOCK_TOKEN"']);
  expect(free.stderr).toBe('');
  expect(free.exitCode).toBe(0);
  expect(free.stdout).toMatch(/^led 10\.0\.0\.7:8080 \d+\n$/);

  await using client = await connect({ endpoints });
  const session = await client.session({ ttlMs: 10_000, name: 'incumbent' });
  const leadership = await session.election('scheduler').campaign('10.0.0.1:8080');
  const taken = await runCli(['--endpoints', endpoints, 'election', 'run', 'scheduler', '10.0.0.8:8080', '--wait', '0', '--', 'echo', 'should not run']);
  expect(taken.exitCode).toBe(1);
  expect(taken.stdout).toBe('');
  expect(taken.stderr).toBe('raftlock: leadership of "scheduler" is held by another session (--wait 0); the command was not run\n');
  expect(taken.elapsedMs).toBeLessThan(5_000);

  const watch = client.watch('scheduler', { kind: 'election' });
  const snapshot = (await watch.next()).value as WatchSnapshotItem;
  await watch.return?.();
  expect(snapshot.locks).toEqual([expect.objectContaining({ name: 'scheduler', holder: expect.objectContaining({ sessionId: session.id, token: leadership.token }), waiters: [] })]);
});
