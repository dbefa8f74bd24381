// --token-file (SPEC §2): clients must present a bearer token; its role limits what they may do.
// `read` may only inspect, `client` may lock and elect but not force-release, `admin` may do all.
// Tokens never appear in the member's logs.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, PermissionDeniedError, UnauthenticatedError } from '@raftlock/client';
import { expect, test } from 'vitest';
import { LocalCluster } from './local-cluster.js';

const tokens = { admin: 'admin-secret-0123456789', client: 'client-secret-0123456789', read: 'read-secret-0123456789' };

test('clients without a valid token are refused and each role is limited to its ops', async () => {
  await using cluster = await LocalCluster.start({
    size: 3,
    extraArgs: (rootDir) => {
      const file = join(rootDir, 'tokens');
      writeFileSync(file, Object.entries(tokens).map(([role, token]) => `${token} ${role}`).join('\n') + '\n');
      return ['--token-file', file, '--log-level', 'debug'];
    },
  });
  const endpoints = cluster.members.map((member) => member.address);

  await expect(connect({ endpoints, connectTimeoutMs: 2000, requestTimeoutMs: 2000 })).rejects.toBeInstanceOf(UnauthenticatedError);
  await expect(connect({ endpoints, token: 'wrong-token-0123456789', connectTimeoutMs: 2000, requestTimeoutMs: 2000 })).rejects.toBeInstanceOf(UnauthenticatedError);

  await using clientRole = await connect({ endpoints, token: tokens.client });
  const session = await clientRole.session({ ttlMs: 10_000, name: 'worker' });
  const lock = await session.lock('guarded');
  expect(lock.token).toBeGreaterThan(0n);
  await expect(clientRole.forceRelease('guarded')).rejects.toBeInstanceOf(PermissionDeniedError);

  await using readRole = await connect({ endpoints, token: tokens.read });
  expect((await readRole.lock('guarded'))?.holder?.token).toBe(lock.token);
  await expect(readRole.session({ ttlMs: 10_000 })).rejects.toBeInstanceOf(PermissionDeniedError);

  await using adminRole = await connect({ endpoints, token: tokens.admin });
  expect((await adminRole.forceRelease('guarded')).released).toBe(true);
  expect(await readRole.lock('guarded')).toBeNull();

  await session.close();
  for (const member of cluster.members) for (const token of Object.values(tokens)) expect(member.output).not.toContain(token);
});
