// Three real raftlockd processes: one leader; a lock taken through the leader is seen held, with
// its token, through every member; followers redirect linearizable requests to the leader.

import { expect, test } from 'vitest';
import { LocalCluster, sleep } from './local-cluster.js';
import { expectOk, ProtocolClient } from './protocol-client.js';

test('three members elect exactly one leader and a lock is seen held, with its token, through every member', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const leader = await cluster.leader();
  const roles = await Promise.all(cluster.members.map(async (member) => {
    const client = await ProtocolClient.connect(member.address);
    const status = expectOk(await client.request('cluster.status', {}));
    client.close();
    return status.role;
  }));
  expect(roles.filter((role) => role === 'leader')).toHaveLength(1);

  const client = await ProtocolClient.connect(leader.address);
  const session = expectOk(await client.request('session.open', { ttlMs: 5000, name: 'e2e' }));
  const grant = expectOk(await client.request('lock.acquire', { sessionId: String(session.sessionId), name: 'orders/42', mode: 'try', metadata: 'worker 1' }));
  expect(typeof grant.token).toBe('number');

  for (const member of cluster.members) {
    const other = await ProtocolClient.connect(member.address);
    let lock: Record<string, unknown> | null = null;
    for (let attempt = 0; attempt < 100 && lock === null; attempt++) {
      lock = expectOk(await other.request('lock.get', { name: 'orders/42', stale: true })).lock as Record<string, unknown> | null;
      if (lock === null) await sleep(20);
    }
    expect(lock, member.id).not.toBeNull();
    const holder = (lock as { holder: Record<string, unknown> }).holder;
    expect(holder.sessionId).toBe(session.sessionId);
    expect(holder.token).toBe(grant.token);
    expect(holder.clientName).toBe('e2e');
    if (member.id !== leader.id) {
      const redirect = await other.request('lock.get', { name: 'orders/42' });
      expect(redirect.ok).toBe(false);
      expect(!redirect.ok && redirect.error.code).toBe('NOT_LEADER');
      expect(!redirect.ok && redirect.error.leader).toBe(leader.address);
    }
    other.close();
  }
  client.close();
});
