import { performance } from 'node:perf_hooks';
import { expect, test } from 'vitest';
import { InvalidArgumentError, NotHolderError, TimeoutError, UnauthenticatedError, UnavailableError } from '@raftlock/protocol';
import { connect } from './client.js';
import { closedAfterEachTest, sessionScript, waitUntil } from './fake-member.fixture.js';

const { member, client } = closedAfterEachTest();

test('connect finds the leader through a follower that names it, before sending any request', async () => {
  const leader = await member();
  const follower = await member();
  follower.role = 'follower';
  follower.leaderAddress = leader.address;
  const sdk = await client({ endpoints: [follower.address] });
  expect(sdk.connectedTo).toBe(leader.address);
  expect(follower.received).toEqual([]);
});

test('a NOT_LEADER reply moves the request to the member it names, with the same request id', async () => {
  const leader = await member();
  const stale = await member(); // believes it leads, answers NOT_LEADER when asked to do anything
  stale.script = (received) => stale.fail(received, { code: 'NOT_LEADER', message: 'not me', leader: leader.address });
  leader.script = sessionScript(10_000);
  const sdk = await client({ endpoints: [stale.address] });
  expect(sdk.connectedTo).toBe(stale.address);
  const session = await sdk.session({ ttlMs: 10_000 });
  expect(session.id).toBe('s1');
  const [first] = stale.requests('session.open');
  const [second] = leader.requests('session.open');
  expect(second?.request.id).toBe(first?.request.id);
  expect(sdk.connectedTo).toBe(leader.address);
});

test('a goAway notice moves the client to the leader it names at once, re-sending the unanswered request with the same id', async () => {
  const leaving = await member();
  const successor = await member();
  leaving.script = sessionScript(10_000, (received, fake) => {
    // Shutting down after the hand-off: this acquire is never answered here.
    if (received.request.op === 'lock.acquire') fake.goAway(received.socket, { reason: 'member shutting down', leader: successor.address });
  });
  successor.script = sessionScript(10_000, (received, fake) => {
    if (received.request.op === 'lock.acquire') fake.ok(received, { name: 'a', sessionId: 's1', token: 11 });
  });
  // A huge reconnect backoff: only an immediate move can pass within the test's time.
  const sdk = await client({ endpoints: [leaving.address], reconnectBackoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
  const session = await sdk.session({ ttlMs: 10_000 });
  const lock = await session.tryLock('a');
  expect(lock?.token).toBe(11n);
  expect(sdk.connectedTo).toBe(successor.address);
  const [first] = leaving.requests('lock.acquire');
  const [second] = successor.requests('lock.acquire');
  expect(second?.request.id).toBe(first?.request.id);
});

test('a member that closes the connection is tried last: the client reconnects through the other endpoints without backing off', async () => {
  const follower = await member();
  const leaving = await member();
  const other = await member();
  follower.role = 'follower';
  follower.leaderAddress = leaving.address;
  other.script = sessionScript(10_000);
  const sdk = await client({ endpoints: [follower.address, leaving.address, other.address], reconnectBackoff: { initialDelayMs: 60_000, maxDelayMs: 60_000 } });
  expect(sdk.connectedTo).toBe(leaving.address);
  follower.leaderAddress = other.address;
  // Next in rotation is `leaving` itself, which now refuses; `follower` redirects to `other`.
  await leaving.stop();
  await waitUntil(() => sdk.connectedTo === other.address, 2_000, 'a reconnect to the other member');
  const session = await sdk.session({ ttlMs: 10_000 });
  expect(session.id).toBe('s1');
});

test('a request waiting out its retry backoff is re-sent at once when the client moves to another member', async () => {
  const stale = await member();
  const leader = await member();
  stale.script = sessionScript(10_000, (received, fake) => {
    if (received.request.op === 'lock.acquire') fake.fail(received, { code: 'UNAVAILABLE', message: 'leadership is being transferred; retry shortly' });
    if (received.request.op === 'cluster.status') fake.fail(received, { code: 'NOT_LEADER', message: 'not me', leader: leader.address });
  });
  leader.script = sessionScript(10_000, (received, fake) => {
    if (received.request.op === 'lock.acquire') fake.ok(received, { name: 'a', sessionId: 's1', token: 5 });
    if (received.request.op === 'cluster.status') fake.ok(received, leader.status());
  });
  const sdk = await client({ endpoints: [stale.address] });
  const session = await sdk.session({ ttlMs: 10_000 });
  const locked = session.tryLock('a');
  // Three refusals grow the acquire's retry backoff to 80–160 ms; then another request is redirected.
  // (At least three: a poll that comes late may see the fourth already.)
  await waitUntil(() => stale.requests('lock.acquire').length >= 3, 2_000, 'three refused acquires');
  await sdk.status();
  expect((await locked)?.token).toBe(5n);
  const [status] = leader.requests('cluster.status');
  const [acquire] = leader.requests('lock.acquire');
  // Re-sent together with the redirected request when the new socket came up, not after its backoff:
  // the acquire, the older call, arrives first on the same socket. One left to its backoff timer
  // would arrive after the status, which goes out the moment the socket is up. (Compared by order,
  // not by receipt times, which a preempted process can push apart.)
  expect(acquire).toBeDefined();
  expect(status).toBeDefined();
  expect(acquire?.socket).toBe(status?.socket);
  expect(leader.received.indexOf(acquire!)).toBeLessThan(leader.received.indexOf(status!));
});

test('a request whose connection drops is re-sent with the same id once the SDK has reconnected', async () => {
  const only = await member();
  let drops = 0;
  only.script = sessionScript(10_000, (received, fake) => {
    if (received.request.op !== 'lock.acquire') return;
    if (drops++ === 0) fake.dropConnections(); // the reply is lost with the connection
    else fake.ok(received, { name: 'a', sessionId: 's1', token: 7 });
  });
  const sdk = await client({ endpoints: [only.address] });
  const session = await sdk.session({ ttlMs: 10_000 });
  const lock = await session.tryLock('a');
  expect(lock?.token).toBe(7n);
  const attempts = only.requests('lock.acquire');
  expect(attempts).toHaveLength(2);
  expect(attempts[1]?.request.id).toBe(attempts[0]?.request.id);
  expect(attempts[1]?.socket).not.toBe(attempts[0]?.socket);
});

test('UNAVAILABLE is retried with backoff until answered; a non-retriable code rejects with its own class', async () => {
  const only = await member();
  let unavailable = 3;
  only.script = sessionScript(10_000, (received, fake) => {
    if (received.request.op === 'lock.acquire') {
      if (unavailable-- > 0) fake.fail(received, { code: 'UNAVAILABLE', message: 'no leader yet' });
      else fake.ok(received, { name: 'a', sessionId: 's1', token: 9 });
    }
    if (received.request.op === 'lock.release') fake.fail(received, { code: 'NOT_HOLDER', message: 'not yours' });
    if (received.request.op === 'lock.get') fake.fail(received, { code: 'NOT_HOLDER', message: 'nope' });
  });
  const sdk = await client({ endpoints: [only.address] });
  const session = await sdk.session({ ttlMs: 10_000 });
  const lock = await session.tryLock('a');
  const attempts = only.requests('lock.acquire');
  expect(attempts).toHaveLength(4);
  expect(new Set(attempts.map((attempt) => attempt.request.id)).size).toBe(1);
  await expect(sdk.lock('x')).rejects.toBeInstanceOf(NotHolderError);
  // A release answered NOT_HOLDER means the lock is not held: release() resolves (idempotent).
  await lock?.release();
  expect(lock?.signal.aborted).toBe(true);
});

test('a request nobody answers fails at its deadline', async () => {
  const silent = await member();
  const sdk = await client({ endpoints: [silent.address], requestTimeoutMs: 300 });
  const startedMs = performance.now();
  await expect(sdk.status()).rejects.toBeInstanceOf(TimeoutError);
  expect(performance.now() - startedMs).toBeGreaterThanOrEqual(295);
  expect(performance.now() - startedMs).toBeLessThan(1_000);
});

test('connect rejects with UnavailableError when no endpoint answers, and refuses bad options', async () => {
  const gone = await member();
  const address = gone.address;
  await gone.stop();
  await expect(connect({ endpoints: [address], requestTimeoutMs: 300 })).rejects.toBeInstanceOf(UnavailableError);
  await expect(connect({ endpoints: [] })).rejects.toBeInstanceOf(InvalidArgumentError);
  await expect(connect({ endpoints: [address], requestTimeoutMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
});

test('a member that stops answering pings is left for another endpoint', async () => {
  const frozen = await member();
  const healthy = await member();
  healthy.script = sessionScript(10_000);
  const sdk = await client({ endpoints: [frozen.address, healthy.address], pingIntervalMs: 50 });
  expect(sdk.connectedTo).toBe(frozen.address);
  for (const socket of frozen.sockets) socket.pause(); // stops reading: no pong, no replies
  await waitUntil(() => sdk.connectedTo === healthy.address, 2_000, 'a reconnect to the healthy member');
  const session = await sdk.session({ ttlMs: 10_000 });
  expect(session.id).toBe('s1');
});

test('the token goes out as a bearer header; a member that refuses it fails connect at once', async () => {
  const guarded = await member();
  guarded.requiredToken = 's3cret';
  const startedMs = performance.now();
  await expect(connect({ endpoints: [guarded.address], token: 'wrong', requestTimeoutMs: 5_000 })).rejects.toBeInstanceOf(UnauthenticatedError);
  expect(performance.now() - startedMs).toBeLessThan(1_000);
  const sdk = await client({ endpoints: [guarded.address], token: 's3cret' });
  expect(sdk.connectedTo).toBe(guarded.address);
  expect(guarded.authorizations).toEqual(['Bearer wrong', 'Bearer s3cret']);
});

test('TLS settings that contradict the endpoints are refused before connecting', async () => {
  const refused = (options: Parameters<typeof connect>[0]) => expect(connect({ connectTimeoutMs: 200, requestTimeoutMs: 200, ...options })).rejects.toBeInstanceOf(InvalidArgumentError);
  await refused({ endpoints: ['wss://127.0.0.1:1', 'ws://127.0.0.1:2'] });
  await refused({ endpoints: ['https://127.0.0.1:1'], tls: false });
  await refused({ endpoints: ['ws://127.0.0.1:1'], tls: { ca: 'x' } });
  await refused({ endpoints: ['ftp://127.0.0.1:1'] });
  // wss:// alone asks for TLS: a plain member does not answer a TLS handshake, so connect fails as unavailable.
  const plain = await member();
  await expect(connect({ endpoints: [`wss://${plain.address}`], connectTimeoutMs: 300, requestTimeoutMs: 500 })).rejects.toBeInstanceOf(UnavailableError);
  expect(plain.received).toEqual([]);
});
