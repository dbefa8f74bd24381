// Acceptance (issue 6): membership changes on a live cluster of real raftlockd processes.
//   - grow from 3 to 5 members and shrink back to 3 while 16 SDK clients take and release locks: no
//     error but retriable ones, no acknowledged release lost, tokens strictly increase per lock;
//   - replace a member whose data dir was deleted: remove it, add a fresh one, which catches up
//     from a snapshot (the log it needs was compacted away);
//   - a restarted member needs no --peers: the configuration lives in its data dir.

import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { connect, type Client, type Session } from '@raftlock/client';
import { expect, test } from 'vitest';
import { LocalCluster, sleep, statusOf, type Member } from './local-cluster.js';

const workerCount = 16;
const lockCount = 4;

/** A client whose endpoints are every member listed (the SDK follows NOT_LEADER redirects). */
function connectTo(members: readonly Member[]): Promise<Client> {
  return connect({ endpoints: members.map((member) => member.address), requestTimeoutMs: 20_000 });
}

async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The member's own view of the configuration: ids with roles, sorted. */
async function membersSeenBy(member: Member): Promise<string | undefined> {
  const status = await statusOf(member.address);
  const members = status?.members as { id: string; role: string }[] | undefined;
  return members?.map((known) => `${known.id}:${known.role === 'learner' ? 'learner' : 'voter'}`).sort().join(',');
}

test('a live cluster grows from 3 to 5 members and shrinks back to 3 under 16 clients: only retriable errors, no lost release, tokens strictly increase', async () => {
  await using cluster = await LocalCluster.start({ size: 3, extraArgs: ['--snapshot-entries', '500', '--snapshot-trailing', '100'] });
  for (const member of cluster.members) cluster.setStartMode(member.id, 'data-dir');
  const admin = await connectTo(cluster.members);
  const clients: Client[] = [];
  try {
    for (let index = 0; index < workerCount; index++) clients.push(await connectTo(cluster.members));
    const sessions: Session[] = await Promise.all(clients.map((client, index) => client.session({ ttlMs: 10_000, name: `member-change-${index}` })));
    const tokensByLock = new Map<string, { token: number; atMs: number }[]>();
    const failures: string[] = [];
    let acquired = 0;
    let stopping = false;
    const workers = sessions.map(async (session, worker) => {
      for (let cycle = 0; !stopping && cycle < 100_000; cycle++) {
        const name = `members/lock-${(worker + cycle) % lockCount}`;
        try {
          const lock = await session.lock(name, { timeoutMs: 30_000 });
          acquired++;
          const grants = tokensByLock.get(name) ?? [];
          grants.push({ token: Number(lock.token), atMs: performance.now() });
          tokensByLock.set(name, grants);
          await lock.release();
        } catch (error) {
          failures.push(`worker ${worker}: ${String(error)}`);
          if (session.state !== 'open') return;
        }
      }
    });

    await sleep(1_000);
    const steps: string[] = [];
    const timed = async (what: string, action: () => Promise<unknown>) => {
      const startedMs = performance.now();
      await action();
      steps.push(`${what} ${(performance.now() - startedMs).toFixed(0)} ms`);
    };
    const n4 = await cluster.startJoiner('n4');
    const n5 = await cluster.startJoiner('n5');
    await timed('add n4', () => admin.members.add('n4', n4.address));
    await timed('add n5', () => admin.members.add('n5', n5.address));
    expect(await waitUntil('n5 to see five voters', 10_000, async () => ((await membersSeenBy(n5)) === 'n1:voter,n2:voter,n3:voter,n4:voter,n5:voter' ? true : undefined))).toBe(true);
    await sleep(1_000);
    // Shrink back, removing the current leader among others: it hands over and steps down.
    const leader = await cluster.leader();
    const toRemove = [leader.id, 'n4'];
    for (const id of toRemove) await timed(`remove ${id}`, () => admin.members.remove(id));
    await sleep(1_000);
    stopping = true;
    await Promise.all(workers);

    const remaining = cluster.members.filter((member) => !toRemove.includes(member.id));
    expect(await waitUntil('the remaining members to agree on three voters', 10_000, async () => {
      const views = await Promise.all(remaining.map(membersSeenBy));
      return views.every((view) => view === views[0] && view?.split(',').length === 3) ? views[0] : undefined;
    })).toBe(remaining.map((member) => `${member.id}:voter`).sort().join(','));
    for (const id of toRemove) {
      await cluster.kill(id, 'SIGTERM');
      cluster.forget(id);
    }

    console.log(`membership under load: ${acquired} acquire+release cycles; ${steps.join(', ')}; failures ${failures.length}`);
    expect(failures).toEqual([]);
    expect(acquired).toBeGreaterThan(200);
    for (const [name, grants] of tokensByLock) {
      for (let index = 1; index < grants.length; index++) {
        expect(grants[index]!.token, `${name} grant ${index}`).toBeGreaterThan(grants[index - 1]!.token);
      }
    }
    // Every acknowledged release is there: nothing is held, through the three members left.
    const check = await connectTo(remaining);
    try {
      expect((await check.locks({ prefix: 'members/' })).map((lock) => lock.name)).toEqual([]);
    } finally {
      await check.close();
    }
  } finally {
    await Promise.allSettled([...clients, admin].map((client) => client.close()));
  }
});

test('a member whose data dir was lost is replaced: removed, a fresh member added, it catches up from a snapshot; restarts need no --peers', async () => {
  await using cluster = await LocalCluster.start({ size: 3, extraArgs: ['--snapshot-entries', '100', '--snapshot-trailing', '10'] });
  for (const member of cluster.members) cluster.setStartMode(member.id, 'data-dir');
  const client = await connectTo(cluster.members);
  try {
    const session = await client.session({ ttlMs: 10_000 });
    const held = await session.lock('replace/held');
    // Enough entries that every member compacts its log several times over.
    for (let cycle = 0; cycle < 200; cycle++) await (await session.lock(`replace/cycle-${cycle % 7}`)).release();

    const leader = await cluster.leader();
    const lost = cluster.members.find((member) => member.id !== leader.id)!;
    await cluster.kill(lost.id, 'SIGKILL');
    await rm(lost.dataDir, { recursive: true, force: true });
    await client.members.remove(lost.id);
    cluster.forget(lost.id);

    // At info level its log says how it caught up (later flags win over the harness's warn).
    const fresh = await cluster.startJoiner('n9', ['--log-level', 'info']);
    await client.members.add('n9', fresh.address);
    const caughtUpTo = (await statusOf((await cluster.leader()).address))?.commitIndex as number;
    await waitUntil('n9 to catch up', 15_000, async () => (((await statusOf(fresh.address))?.appliedIndex as number) >= caughtUpTo ? true : undefined));
    expect(fresh.output).toContain('installed snapshot from leader');
    // The snapshot carried the state: n9 answers a stale read with the lock that is still held.
    const seenByFresh = await connect({ endpoints: [fresh.address] });
    try {
      const lock = await seenByFresh.lock('replace/held', { stale: true });
      expect(lock?.holder?.token).toBe(held.token);
    } finally {
      await seenByFresh.close();
    }

    // Restart everyone from their data dirs alone: the configuration comes back from disk.
    for (const member of cluster.members) {
      await cluster.kill(member.id, 'SIGTERM');
      cluster.setStartMode(member.id, 'data-dir');
      cluster.restart(member.id);
    }
    await cluster.waitReady(20_000);
    expect(await membersSeenBy(fresh)).toBe(cluster.members.map((member) => `${member.id}:voter`).sort().join(','));
    const after = await connectTo(cluster.members);
    try {
      expect((await after.lock('replace/held'))?.holder?.token).toBe(held.token);
    } finally {
      await after.close();
    }
  } finally {
    await client.close();
  }
});
