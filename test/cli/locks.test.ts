// Acceptance (issue 5): `raftlock locks --json` lists a holder taken through the SDK, with its
// fencing token and its waiters; `lock get` and `sessions` agree, and the piped table shows the same.

import { expect, test } from 'vitest';
import { connect } from '@raftlock/client';
import { LocalCluster } from '../e2e/local-cluster.js';
import { eventually } from '../sdk/sdk-test-helpers.js';
import { lines, runCli } from './cli-process.js';

interface LocksDocument {
  prefix: string;
  locks: {
    kind: string;
    name: string;
    holder: { sessionId: string; clientName: string; token: number; sinceIndex: number; since: string; heldForMs: number; metadata: string } | null;
    waiters: { sessionId: string; clientName: string; sinceIndex: number }[];
  }[];
}

test('locks --json lists a holder taken through the SDK with its token and its waiters', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const endpoints = cluster.members.map((member) => member.address).join(',');
  await using client = await connect({ endpoints });
  const holderSession = await client.session({ ttlMs: 10_000, name: 'billing-worker-3' });
  const waiterSession = await client.session({ ttlMs: 10_000, name: 'billing-worker-7' });
  const lock = await holderSession.lock('orders/42', { metadata: 'invoice run' });
  const waiting = waiterSession.lock('orders/42');
  waiting.catch(() => undefined); // awaited below; if the test fails first, closing the session rejects it
  await eventually(async () => (await client.lock('orders/42'))?.waiters.length === 1, 5_000, 'the waiter queued');
  await holderSession.lock('other/1'); // outside the prefix

  const listed = await runCli(['--endpoints', endpoints, 'locks', 'orders/', '--json']);
  expect(listed.stderr).toBe('');
  expect(listed.exitCode).toBe(0);
  const document = JSON.parse(listed.stdout) as LocksDocument;
  expect(document.prefix).toBe('orders/');
  expect(document.locks.map((entry) => entry.name)).toEqual(['orders/42']);
  const [entry] = document.locks;
  expect(entry?.holder).toMatchObject({ sessionId: holderSession.id, clientName: 'billing-worker-3', token: Number(lock.token), metadata: 'invoice run' });
  expect(entry?.holder?.heldForMs).toBeGreaterThanOrEqual(0);
  expect(entry?.waiters).toEqual([expect.objectContaining({ sessionId: waiterSession.id, clientName: 'billing-worker-7' })]);

  // The piped table: a header and one row, nothing decorative.
  const table = await runCli(['--endpoints', endpoints, 'locks']);
  expect(table.exitCode).toBe(0);
  const rows = lines(table.stdout);
  expect(rows[0]).toMatch(/^LOCK\s+SESSION\s+CLIENT\s+TOKEN\s+HELD FOR\s+WAITERS$/);
  const orderRow = rows.find((row) => row.startsWith('orders/42 '));
  expect(orderRow?.split(/\s{2,}/)).toEqual(['orders/42', holderSession.id, 'billing-worker-3', String(lock.token), expect.stringMatching(/^\d+(\.\d)?m?s$/), '1']);
  expect(rows).toHaveLength(3);
  expect(table.stdout).not.toContain('\u001b[');

  const single = await runCli(['--endpoints', endpoints, 'lock', 'get', 'orders/42', '--json']);
  expect(single.exitCode).toBe(0);
  expect(JSON.parse(single.stdout)).toMatchObject({ name: 'orders/42', holder: { token: Number(lock.token) }, waiters: [{ sessionId: waiterSession.id }] });

  const sessions = await runCli(['--endpoints', endpoints, 'sessions', '--json']);
  const sessionList = (JSON.parse(sessions.stdout) as { sessions: { sessionId: string; heldLocks: number; waits: number }[] }).sessions;
  expect(sessionList).toEqual(expect.arrayContaining([expect.objectContaining({ sessionId: holderSession.id, heldLocks: 2, waits: 0 }), expect.objectContaining({ sessionId: waiterSession.id, heldLocks: 0, waits: 1 })]));

  await lock.release();
  const next = await waiting;
  const after = JSON.parse((await runCli(['--endpoints', endpoints, 'locks', 'orders/', '--json'])).stdout) as LocksDocument;
  expect(after.locks[0]?.holder).toMatchObject({ sessionId: waiterSession.id, token: Number(next.token) });
  expect(after.locks[0]?.waiters).toEqual([]);
  expect(next.token).toBeGreaterThan(lock.token);
});
