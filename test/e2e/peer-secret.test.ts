// --peer-secret-file: members that share the secret form a cluster; a member presenting another
// secret is refused on /v1/raft and cannot take part (SPEC §2).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { LocalCluster, sleep, statusOf } from './local-cluster.js';
import { expectOk } from './protocol-client.js';
import { RetryingClient } from './retrying-client.js';

test('members sharing the peer secret form a cluster and a member with a wrong secret is kept out', async () => {
  await using cluster = await LocalCluster.start({
    size: 3,
    extraArgs: (rootDir) => {
      const secretFile = join(rootDir, 'peer-secret');
      writeFileSync(secretFile, 'correct horse battery staple\n');
      return ['--peer-secret-file', secretFile];
    },
  });
  const addresses = () => cluster.members.filter((member) => member.process).map((member) => member.address);
  const client = new RetryingClient(addresses);
  const sessionId = String(expectOk(await client.call('session.open', {})).sessionId);
  expectOk(await client.call('lock.acquire', { sessionId, name: 'secret', mode: 'try' }));

  // Restart one follower with a different secret: it can neither hear the leader nor be heard.
  const leader = await cluster.leader();
  const outsider = cluster.members.find((member) => member.id !== leader.id)!;
  await cluster.kill(outsider.id, 'SIGKILL');
  const wrongSecret = join(cluster.rootDir, 'wrong-secret');
  writeFileSync(wrongSecret, 'a different secret entirely\n');
  cluster.spawnMemberWith(outsider, ['--peer-secret-file', wrongSecret]);
  await sleep(2500);
  const status = await statusOf(outsider.address);
  expect(status?.leaderId ?? null).toBeNull();
  expect(status?.role).not.toBe('leader');
  // The cluster keeps serving with its two members that share the secret.
  expectOk(await client.call('lock.acquire', { sessionId, name: 'still-serving', mode: 'try' }));
  expect(cluster.members.find((member) => member.id === outsider.id)?.output ?? '').not.toContain('correct horse');
  client.close();
});
