// Output larger than a pipe holds (64 KiB on Linux) reaches the reader whole: `raftlock locks --json |
// jq` over a few hundred locks must get one complete JSON document, not the first 64 KiB of it. The
// binary used to process.exit() as soon as the command returned, while the rest of the document was
// still queued for the pipe. The list stops at --limit (default 1000), and says so on stderr.

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

  // --limit cuts the list short, and stderr says it may have been (stdout stays one document).
  const capped = await runCli(['--endpoints', endpoints, 'locks', 'big/', '--limit', '150', '--json']);
  expect(capped.exitCode).toBe(0);
  expect((JSON.parse(capped.stdout) as { locks: unknown[] }).locks).toHaveLength(150);
  expect(capped.stderr).toBe('raftlock: warning: listed the first 150 locks; there may be more (--limit, up to 10000, lists more)\n');
  const whole = await runCli(['--endpoints', endpoints, 'locks', 'big/', '--limit', '401']);
  expect(whole.exitCode).toBe(0);
  expect(whole.stdout.trimEnd().split('\n')).toHaveLength(1 + count);
  expect(whole.stderr).toBe('');
});
