// --token / RAFTLOCK_AUTH_TOKEN against a cluster started with --token-file: a missing or wrong token
// is an operation failure (exit 1, UNAUTHENTICATED), not "cluster unavailable"; a role without the
// right is exit 1 with PERMISSION_DENIED; the admin token may force-release.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { connect } from '@raftlock/client';
import { LocalCluster } from '../e2e/local-cluster.js';
import { lines, runCli } from './cli-process.js';

const tokens = { admin: 'admin-secret-0123456789', client: 'client-secret-0123456789' };

test('the CLI presents --token (or RAFTLOCK_AUTH_TOKEN); refusals are exit 1 with the code, on one line', async () => {
  await using cluster = await LocalCluster.start({
    size: 3,
    extraArgs: (rootDir) => {
      const file = join(rootDir, 'tokens');
      writeFileSync(file, `${tokens.admin} admin\n${tokens.client} client\n`);
      return ['--token-file', file];
    },
  });
  const endpoints = cluster.members.map((member) => member.address).join(',');
  await using client = await connect({ endpoints, token: tokens.client });
  const session = await client.session({ ttlMs: 10_000, name: 'guard' });
  await session.lock('guarded');

  const anonymous = await runCli(['--endpoints', endpoints, 'locks']);
  expect(anonymous.exitCode).toBe(1);
  expect(lines(anonymous.stderr)).toEqual([expect.stringMatching(/^raftlock: .*UNAUTHENTICATED; check --token\)$/)]);

  const listed = await runCli(['--endpoints', endpoints, 'locks', '--json'], 15_000, { env: { RAFTLOCK_AUTH_TOKEN: tokens.client } });
  expect(listed.exitCode).toBe(0);
  expect(JSON.parse(listed.stdout).locks[0]).toMatchObject({ name: 'guarded', holder: { clientName: 'guard' } });

  const notAdmin = await runCli(['--endpoints', endpoints, '--token', tokens.client, 'lock', 'release', 'guarded', '--force']);
  expect(notAdmin.exitCode).toBe(1);
  expect(lines(notAdmin.stderr)).toEqual([expect.stringMatching(/PERMISSION_DENIED; check --token\)$/)]);

  const admin = await runCli(['--endpoints', endpoints, '--token', tokens.admin, 'lock', 'release', 'guarded', '--force']);
  expect(admin.exitCode).toBe(0);
  expect(admin.stdout).toBe(`released guarded (was held by session ${session.id})\n`);
  await session.close();
});
