// Acceptance (issue 5): `raftlock status` with one member down shows that member down, still exits 0
// and shows the leader — first with a follower down, then with the old leader down (after the
// others elect a new one). Each member is asked on its own, so the table is complete either way.

import { expect, test } from 'vitest';
import { isReady, LocalCluster } from '../e2e/local-cluster.js';
import { eventually } from '../sdk/sdk-test-helpers.js';
import { lines, runCli } from './cli-process.js';

interface StatusDocument {
  leader: { id: string; address: string } | null;
  term: number;
  members: { id: string; address: string; role: string | null; health: string; term: number | null; commitIndex: number | null; appliedIndex: number | null; lag: number | null }[];
}

async function statusWithOneDown(cluster: LocalCluster, downId: string): Promise<{ document: StatusDocument; tableRows: string[]; elapsedMs: number }> {
  const endpoints = cluster.members.map((member) => member.address).join(','); // the dead member included
  const table = await runCli(['--endpoints', endpoints, 'status']);
  expect(table.stderr).toBe('');
  expect(table.exitCode).toBe(0);
  const json = await runCli(['--endpoints', endpoints, 'status', '--json']);
  expect(json.exitCode).toBe(0);
  const document = JSON.parse(json.stdout) as StatusDocument;
  const down = document.members.find((member) => member.id === downId);
  expect(down).toMatchObject({ health: 'down', role: null, term: null });
  for (const member of document.members.filter((candidate) => candidate.id !== downId)) {
    expect(member).toMatchObject({ health: 'ok', term: document.term });
    expect(member.appliedIndex).toBeGreaterThan(0);
  }
  return { document, tableRows: lines(table.stdout), elapsedMs: table.elapsedMs };
}

test('status with one member down shows it down, exits 0 and shows the leader (follower down, then leader down)', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const firstLeader = await cluster.leader();
  const follower = cluster.members.find((member) => member.id !== firstLeader.id) as (typeof cluster.members)[number];

  await cluster.kill(follower.id);
  const withFollowerDown = await statusWithOneDown(cluster, follower.id);
  expect(withFollowerDown.document.leader?.id).toBe(firstLeader.id);
  expect(withFollowerDown.tableRows[0]).toMatch(/^MEMBER\s+ADDRESS\s+ROLE\s+TERM\s+COMMIT\s+APPLIED\s+LAG\s+HEALTH$/);
  expect(withFollowerDown.tableRows.find((row) => row.startsWith(`${follower.id} `))).toMatch(new RegExp(`^${follower.id}\\s+${follower.address}\\s+-\\s+-\\s+-\\s+-\\s+-\\s+down$`));
  expect(withFollowerDown.tableRows.find((row) => row.startsWith(`${firstLeader.id} `))).toMatch(/\sleader\s.*\sok$/);
  expect(withFollowerDown.tableRows).toHaveLength(4);

  cluster.restart(follower.id);
  await cluster.waitReady();
  await cluster.kill(firstLeader.id);
  const newLeader = await cluster.leader();
  // Right after an election a follower may briefly not know the new leader (readyz 503).
  const survivors = cluster.members.filter((member) => member.id !== firstLeader.id);
  await eventually(async () => (await Promise.all(survivors.map((member) => isReady(member.address)))).every(Boolean), 10_000, 'the survivors ready under the new leader');
  const withLeaderDown = await statusWithOneDown(cluster, firstLeader.id);
  expect(withLeaderDown.document.leader?.id).toBe(newLeader.id);
  expect(withLeaderDown.document.members.find((member) => member.id === newLeader.id)?.role).toBe('leader');
  expect(withLeaderDown.tableRows.find((row) => row.startsWith(`${firstLeader.id} `))).toMatch(/\sdown$/);
  expect(withLeaderDown.tableRows.find((row) => row.startsWith(`${newLeader.id} `))).toMatch(/\sleader\s.*\sok$/);
  console.log(`status with a member down: ${withFollowerDown.elapsedMs.toFixed(0)} ms (follower down), ${withLeaderDown.elapsedMs.toFixed(0)} ms (old leader down), process start to exit`);
});
