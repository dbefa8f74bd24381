// Acceptance (issue 6): `raftlock snapshot save FILE` / `raftlockd --restore FILE` give operators
// backup and restore. A backup taken through the SDK from a live three-member cluster seeds a new
// cluster, which serves the same locks with the same fencing tokens and keeps the tokens increasing.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@raftlock/client';
import { expect, test } from 'vitest';
import { LocalCluster } from './local-cluster.js';

/** ~1 KiB of metadata that differs per lock, so a chunk mixed up in the backup would show. */
function bulkMetadata(position: number): string {
  return `${position}:`.padEnd(1000, String.fromCharCode(97 + (position % 26)));
}

test('a backup saved from a live cluster restores into a new cluster with the same holders and tokens, and tokens keep increasing', async () => {
  const backupDir = await mkdtemp(join(tmpdir(), 'raftlock-backup-'));
  const backupFile = join(backupDir, 'cluster.raftlock');
  try {
    let heldToken: bigint;
    {
      await using source = await LocalCluster.start({ size: 3, extraArgs: ['--snapshot-entries', '100'] });
      const client = await connect({ endpoints: source.members.map((member) => member.address) });
      try {
        const session = await client.session({ ttlMs: 300_000, name: 'backup-holder' });
        for (let cycle = 0; cycle < 150; cycle++) await (await session.lock('backup/churn')).release();
        heldToken = (await session.lock('backup/held', { metadata: 'kept across the restore' })).token;
        // Enough state that the snapshot spans several 1 MiB stored chunks (and more backup chunks).
        await Promise.all(Array.from({ length: 2500 }, (_, position) => session.tryLock(`backup/bulk/${position}`, { metadata: bulkMetadata(position) })));
        const saved = await client.snapshot.save(backupFile);
        expect(saved.index).toBeGreaterThanOrEqual(Number(heldToken));
        expect(saved.totalBytes).toBeGreaterThan(2 * 1024 * 1024);
      } finally {
        await client.close();
      }
    }

    await using restored = await LocalCluster.start({ size: 3, extraArgs: ['--restore', backupFile] });
    const client = await connect({ endpoints: restored.members.map((member) => member.address) });
    try {
      const held = await client.lock('backup/held');
      expect(held?.holder?.token).toBe(heldToken);
      expect(held?.holder?.metadata).toBe('kept across the restore');
      expect((await client.lock('backup/bulk/2499'))?.holder?.metadata).toBe(bulkMetadata(2499));
      const session = await client.session({ ttlMs: 10_000 });
      const next = await session.lock('backup/churn');
      expect(next.token).toBeGreaterThan(heldToken);
    } finally {
      await client.close();
    }
  } finally {
    await rm(backupDir, { recursive: true, force: true });
  }
});

test('raftlockd --restore refuses a file that is not a backup and a file it cannot read, with one line each', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'raftlock-restore-'));
  try {
    const bogus = join(dir, 'not-a-backup');
    await writeFile(bogus, 'hello');
    const { spawnSync } = await import('node:child_process');
    const { raftlockdPath } = await import('./local-cluster.js');
    const run = (args: string[]) => spawnSync(process.execPath, [raftlockdPath, ...args], { encoding: 'utf8', timeout: 20_000 });
    const notBackup = run(['--data-dir', join(dir, 'n1'), '--listen', '127.0.0.1:9', '--restore', bogus]);
    expect(notBackup.status).not.toBe(0);
    expect(notBackup.stderr.trim().split('\n')).toHaveLength(1);
    expect(notBackup.stderr).toContain('not a raftlock snapshot file');
    const missing = run(['--data-dir', join(dir, 'n1'), '--listen', '127.0.0.1:9', '--restore', join(dir, 'missing')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('--restore: cannot read');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
