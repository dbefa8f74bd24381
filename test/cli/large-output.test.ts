// Output larger than a pipe holds (64 KiB on Linux) reaches the reader whole: `raftlock locks --json |
// jq` over a few hundred locks must get one complete JSON document, not the first 64 KiB of it. The
// binary used to process.exit() as soon as the command returned, while the rest of the document was
// still queued for the pipe.

import { expect, test } from 'vitest';
import { connect } from '@raftlock/client';
import { LocalCluster } from '../e2e/local-cluster.js';
import { runCli } from './cli-process.js';

test('locks --json through a pipe: a document far larger than the pipe buffer arrives whole', async () => {
  await using cluster = await LocalCluster.start({ size: 1 });
  const endpoints = cluster.members.map((member) => member.address).join(',');
  await using client = await connect({ endpoints });
  const session = await client.session({ ttlMs: 30_000, name: 'many-locks' });
  const count = 400;
  const metadata = 'm'.repeat(300); // ~650 bytes of JSON per lock: ~260 KiB in all
  for (let first = 0; first < count; first += 10) {
    await Promise.all(Array.from({ length: 10 }, (_, offset) => session.tryLock(`big/${String(first + offset).padStart(4, '0')}`, { metadata })));
  }

  const listed = await runCli(['--endpoints', endpoints, 'locks', 'big/', '--json']);
  expect(listed.stderr).toBe('');
  expect(listed.exitCode).toBe(0);
  expect(listed.stdout.length).toBeGreaterThan(128 * 1024);
  const document = JSON.parse(listed.stdout) as { locks: { name: string; holder: { metadata: string } | null }[] };
  expect(document.locks).toHaveLength(count);
  expect(document.locks.at(-1)).toMatchObject({ name: 'big/0399', holder: { metadata } });
});
