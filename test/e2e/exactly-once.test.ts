// SPEC §3.4: a request retried with the same id after the leader died between commit and reply
// returns the original result and is applied once. The reply is made to go missing with a proxy
// that cuts the member→client direction; the commit is observed on a follower before the kill.

import { expect, test } from 'vitest';
import { LocalCluster, sleep } from './local-cluster.js';
import { expectOk, ProtocolClient } from './protocol-client.js';
import { RetryingClient } from './retrying-client.js';
import { TcpProxy } from './tcp-proxy.js';

test('an acquire retried with the same request id after the leader is killed between commit and reply returns the original grant, applied once', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const leader = await cluster.leader();
  const follower = cluster.members.find((member) => member.id !== leader.id)!;
  const proxy = await TcpProxy.start(leader.address);
  try {
    const throughProxy = await ProtocolClient.connect(proxy.address);
    const session = expectOk(await throughProxy.request('session.open', { ttlMs: 30_000, name: 'once' }));
    const sessionId = String(session.sessionId);

    proxy.blockReplies();
    const requestId = 'retry-me-acquire-1';
    void throughProxy.request('lock.acquire', { sessionId, name: 'exactly-once', mode: 'try' }, requestId);

    // Committed and applied: a follower sees the grant (its token is the granting entry's index).
    const watcher = await ProtocolClient.connect(follower.address);
    let committedToken: number | undefined;
    for (let attempt = 0; attempt < 200 && committedToken === undefined; attempt++) {
      const lock = expectOk(await watcher.request('lock.get', { name: 'exactly-once', stale: true })).lock as { holder: { token: number } } | null;
      committedToken = lock?.holder.token;
      if (committedToken === undefined) await sleep(10);
    }
    watcher.close();
    expect(committedToken).toBeTypeOf('number');

    await cluster.kill(leader.id, 'SIGKILL');
    const retry = new RetryingClient(() => cluster.members.filter((member) => member.process).map((member) => member.address));
    const retried = expectOk(await retry.call('lock.acquire', { sessionId, name: 'exactly-once', mode: 'try' }, { id: requestId }));
    expect(retried.token).toBe(committedToken);

    // Applied once: the lock is still held by the same grant, and the session holds exactly one lock.
    const lock = expectOk(await retry.call('lock.get', { name: 'exactly-once' })).lock as { holder: { token: number; sessionId: string } };
    expect(lock.holder).toMatchObject({ token: committedToken, sessionId });
    const sessions = expectOk(await retry.call('session.list', {})).sessions as { sessionId: string; heldLocks: number }[];
    expect(sessions.find((candidate) => candidate.sessionId === sessionId)?.heldLocks).toBe(1);
    // A new request (new id) for the same lock is told it is already held, as a double apply would have been.
    const again = await retry.call('lock.acquire', { sessionId, name: 'exactly-once', mode: 'try' });
    expect(!again.ok && again.error.code).toBe('ALREADY_HELD');
    retry.close();
    throughProxy.close();
  } finally {
    await proxy.close();
  }
});
