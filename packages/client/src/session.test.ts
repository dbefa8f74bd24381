import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { afterEach, expect, test } from 'vitest';
import { AlreadyHeldError, SessionExpiredError, TimeoutError, type ServiceError } from '@raftlock/protocol';
import { connect, type Client } from './client.js';
import { FakeMember, sessionScript, waitUntil, type ReceivedRequest } from './fake-member.fixture.js';
import type { KeepaliveAck } from './session.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(script: (fake: FakeMember) => void, requestTimeoutMs = 2_000): Promise<{ fake: FakeMember; sdk: Client }> {
  const fake = await FakeMember.start();
  cleanups.push(() => fake.stop());
  script(fake);
  const sdk = await connect({ endpoints: [fake.address], requestTimeoutMs });
  cleanups.push(() => sdk.close());
  return { fake, sdk };
}

/**
 * Watches how long this process is held up (event-loop delay: preempted by the OS, paused by GC or
 * busy elsewhere); stop() returns the longest hold-up in ms. No timer can fire while the process is
 * held up, so an upper bound on a duration that one of the SDK's timers ends adds it: time the
 * loaded machine took from this process does not count against the bound, while a timer the SDK
 * sets too late still fails it.
 */
function watchStalls(): { stop: () => Promise<number> } {
  const resolutionMs = 5;
  const delays = monitorEventLoopDelay({ resolution: resolutionMs });
  delays.enable();
  return {
    async stop() {
      // A hold-up that just ended is recorded by the next sample, which may not have been taken yet.
      await new Promise((resolve) => setTimeout(resolve, 4 * resolutionMs));
      delays.disable();
      return Math.max(0, delays.max / 1e6 - resolutionMs); // a sample is the whole interval between ticks
    },
  };
}

const grant = (fake: FakeMember, received: ReceivedRequest, token: number) => fake.ok(received, { name: (received.request.args as { name: string }).name, sessionId: 's1', token });

test('the lease deadline is the send time of the last acknowledged keepalive plus the TTL, sent before the member received it', async () => {
  const { fake, sdk } = await setup((fake) => (fake.script = sessionScript(900)));
  const session = await sdk.session({ ttlMs: 900 });
  const acks: (KeepaliveAck & { ackedAtMs: number })[] = [];
  const stalls = watchStalls();
  session.on('keepalive', (ack) => acks.push({ ...ack, ackedAtMs: performance.now() }));
  await waitUntil(() => acks.length >= 3, 3_000, 'three keepalives');
  const stalledMs = await stalls.stop();
  const keepalives = fake.requests('session.keepalive');
  for (const [position, ack] of acks.entries()) {
    expect(ack.deadlineMs).toBe(ack.sentAtMs + 900);
    expect(ack.sentAtMs).toBeLessThanOrEqual(keepalives[position]!.receivedAtMs);
  }
  // About ttl/3 apart (not ttl/2, 450 ms): the next keepalive goes out ttl/3 after the last
  // acknowledgement. Measured from that acknowledgement to the next send, so the only wait in
  // between is the SDK's timer, and a stall of this process is allowed for once.
  const gapMs = acks[2]!.sentAtMs - acks[1]!.ackedAtMs;
  expect(gapMs).toBeGreaterThan(250);
  expect(gapMs).toBeLessThan(400 + stalledMs);
  expect(session.leaseDeadlineMs).toBe(acks.at(-1)!.deadlineMs);
});

test('when keepalives go unanswered, every lock signal aborts and "lost" fires at the lease deadline, not later', async () => {
  let answerKeepalives = true;
  const { fake, sdk } = await setup((fake) => {
    fake.script = (received, member) => {
      if (received.request.op === 'session.keepalive' && !answerKeepalives) return; // swallowed
      if (received.request.op === 'lock.acquire') grant(member, received, 40 + member.requests('lock.acquire').length);
      else sessionScript(600)(received, member);
    };
  });
  const session = await sdk.session({ ttlMs: 600 });
  const first = await session.tryLock('a');
  const second = await session.lock('b');
  answerKeepalives = false;
  const deadlineWhenSilencedMs = session.leaseDeadlineMs;
  const stalls = watchStalls();
  const abortedAt: number[] = [];
  first?.signal.addEventListener('abort', () => abortedAt.push(performance.now()));
  second.signal.addEventListener('abort', () => abortedAt.push(performance.now()));
  const lost = await new Promise<ServiceError>((resolve) => session.once('lost', resolve));
  const lostAtMs = performance.now();
  const stalledMs = await stalls.stop();
  expect(lost).toBeInstanceOf(SessionExpiredError);
  expect(abortedAt).toHaveLength(2);
  // An acknowledgement already on its way when the member stopped answering may have moved the
  // deadline on; it only ever moves forward, and the lapse is judged against where it ended up.
  const deadlineMs = session.leaseDeadlineMs;
  expect(deadlineMs).toBeGreaterThanOrEqual(deadlineWhenSilencedMs);
  for (const atMs of [...abortedAt, lostAtMs]) {
    expect(atMs).toBeGreaterThanOrEqual(deadlineMs);
    expect(atMs - deadlineMs).toBeLessThan(50 + stalledMs);
  }
  expect(second.signal.reason).toBe(lost);
  expect(session.state).toBe('lost');
  await expect(session.lock('c')).rejects.toBe(lost);
  // The SDK tells the cluster too, so the locks are freed even if the session was only slow.
  await waitUntil(() => fake.requests('session.close').length > 0, 1_000, 'session.close');
  expect(fake.requests('session.keepalive').length).toBeGreaterThan(0);
});

test('SESSION_EXPIRED in answer to a keepalive loses the session at once', async () => {
  const { sdk } = await setup((fake) => {
    fake.script = (received, member) => {
      if (received.request.op === 'session.keepalive') member.fail(received, { code: 'SESSION_EXPIRED', message: 'gone' });
      else if (received.request.op === 'lock.acquire') grant(member, received, 5);
      else sessionScript(1_500)(received, member);
    };
  });
  const session = await sdk.session({ ttlMs: 1_500 });
  const lock = await session.lock('a');
  const startedMs = performance.now();
  const lost = await new Promise<ServiceError>((resolve) => session.once('lost', resolve));
  expect(lost.code).toBe('SESSION_EXPIRED');
  expect(lost.message).toBe('gone');
  expect(performance.now() - startedMs).toBeLessThan(1_000); // at the first keepalive (~500 ms), not at the TTL
  expect(lock.signal.aborted).toBe(true);
});

test('a wait that times out is cancelled on the server before lock() rejects with TimeoutError', async () => {
  const { fake, sdk } = await setup((fake) => {
    fake.script = sessionScript(10_000, (received, member) => {
      if (received.request.op === 'lock.cancel') {
        const parked = member.requests('lock.acquire').at(-1)!;
        member.ok(received, { cancelled: true });
        member.fail(parked, { code: 'TIMEOUT', message: 'the wait was cancelled' });
      }
    });
  });
  const session = await sdk.session();
  const stalls = watchStalls();
  const startedMs = performance.now();
  const error = await session.lock('held', { timeoutMs: 200 }).catch((failure: unknown) => failure);
  const elapsedMs = performance.now() - startedMs;
  const stalledMs = await stalls.stop();
  expect(error).toBeInstanceOf(TimeoutError);
  expect((error as TimeoutError).code).toBe('TIMEOUT');
  expect(elapsedMs).toBeGreaterThanOrEqual(199);
  expect(elapsedMs).toBeLessThan(400 + stalledMs);
  expect(fake.requests('lock.cancel')).toHaveLength(1);
  expect(fake.requests('lock.cancel')[0]?.request.args).toEqual({ sessionId: 's1', name: 'held' });
  expect(fake.requests('lock.acquire')[0]?.request.args).toMatchObject({ mode: 'wait' });
  // The wait is over, so the name is free for another wait by this session.
  const again = session.lock('held', { timeoutMs: 50 }).catch((failure: unknown) => failure);
  expect(await again).toBeInstanceOf(TimeoutError);
});

/** A member that parks every wait, and grants it (token 42) just before it applies the cancel. */
const grantBeforeCancelScript = () =>
  sessionScript(10_000, (received, member) => {
    if (received.request.op === 'lock.cancel') {
      grant(member, member.requests('lock.acquire').at(-1)!, 42);
      member.ok(received, { cancelled: false });
    }
    if (received.request.op === 'lock.release') member.ok(received, { released: true });
  });

test('on abort, a grant that wins the race with the cancel is released, and the caller gets the abort reason', async () => {
  const { fake, sdk } = await setup((fake) => (fake.script = grantBeforeCancelScript()));
  const session = await sdk.session();
  const controller = new AbortController();
  setTimeout(() => controller.abort(new Error('stop waiting')), 50);
  await expect(session.lock('raced', { signal: controller.signal })).rejects.toThrow('stop waiting');
  expect(fake.requests('lock.release').map((received) => received.request.args)).toEqual([{ sessionId: 's1', name: 'raced', token: 42 }]);
});

test('on timeout, a grant that wins the race with the cancel is the caller\'s: lock() resolves with it and nothing is released', async () => {
  const { fake, sdk } = await setup((fake) => (fake.script = grantBeforeCancelScript()));
  const session = await sdk.session();
  const lock = await session.lock('raced', { timeoutMs: 30 });
  expect(lock.token).toBe(42n);
  expect(lock.signal.aborted).toBe(false);
  expect(fake.requests('lock.cancel')).toHaveLength(1);
  expect(fake.requests('lock.release')).toHaveLength(0);
  // It is held like any other: the name is busy until it is released, then free again.
  await expect(session.lock('raced', { timeoutMs: 30 })).rejects.toThrow(AlreadyHeldError);
  await lock.release();
  expect(fake.requests('lock.release').map((received) => received.request.args)).toEqual([{ sessionId: 's1', name: 'raced', token: 42 }]);
});

/** Like grantBeforeCancelScript, but the member takes delayMs to apply (and answer) a cancel. */
const slowCancelScript = (delayMs: number) => {
  const granted = new Set<ReceivedRequest>();
  return sessionScript(10_000, (received, member) => {
    if (received.request.op === 'lock.cancel') {
      const acquire = member.requests('lock.acquire').at(-1)!;
      setTimeout(() => {
        // A cancel the SDK re-sent (the first one took too long) finds the wait already granted.
        if (!granted.has(acquire)) grant(member, acquire, 42);
        granted.add(acquire);
        member.ok(received, { cancelled: false });
      }, delayMs);
    }
    if (received.request.op === 'lock.release') member.ok(received, { released: true });
  });
};

test('a timed-out wait aborted while its cancel is in flight gives a raced grant back, and the caller gets TimeoutError', async () => {
  const { fake, sdk } = await setup((fake) => (fake.script = slowCancelScript(150)));
  const session = await sdk.session();
  const controller = new AbortController();
  const locking = session.lock('raced', { timeoutMs: 30, signal: controller.signal });
  await waitUntil(() => fake.requests('lock.cancel').length === 1, 2_000, 'the cancel');
  controller.abort(new Error('stop waiting'));
  await expect(locking).rejects.toBeInstanceOf(TimeoutError);
  expect(fake.requests('lock.release').map((received) => received.request.args)).toEqual([{ sessionId: 's1', name: 'raced', token: 42 }]);
});

test('a grant that lands after lock() gave up on its cleanup (requestTimeoutMs) is released, and the name is free again', async () => {
  const { fake, sdk } = await setup((fake) => (fake.script = slowCancelScript(600)), 300);
  const session = await sdk.session();
  await expect(session.lock('raced', { timeoutMs: 30 })).rejects.toBeInstanceOf(TimeoutError);
  expect(fake.requests('lock.release')).toHaveLength(0); // answered at the cap, before the grant came
  await waitUntil(() => fake.requests('lock.release').length === 1, 3_000, 'the late grant released');
  expect(fake.requests('lock.release')[0]?.request.args).toEqual({ sessionId: 's1', name: 'raced', token: 42 });
  // The clean-up ends once that release is answered; then this session may wait for the name again
  // (AlreadyHeldError while it has not: the SDK keeps the name busy until nothing of the wait is left).
  let again: unknown;
  for (let attempt = 0; attempt < 100; attempt++) {
    again = await session.lock('raced', { timeoutMs: 30 }).catch((error: unknown) => error);
    if (!(again instanceof AlreadyHeldError)) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(again).toBeInstanceOf(TimeoutError);
});

test('release is idempotent, aborts the signal first, and await using releases on scope exit', async () => {
  const { fake, sdk } = await setup((fake) => {
    fake.script = sessionScript(10_000, (received, member) => {
      if (received.request.op === 'lock.acquire') grant(member, received, 11 + member.requests('lock.acquire').length);
      if (received.request.op === 'lock.release') member.ok(received, { released: true });
    });
  });
  const session = await sdk.session();
  const lock = await session.lock('a', { metadata: 'worker 1' });
  expect(fake.requests('lock.acquire')[0]?.request.args).toEqual({ sessionId: 's1', name: 'a', mode: 'wait', metadata: 'worker 1' });
  expect(lock.token).toBe(12n);
  expect(lock.isHeld).toBe(true);
  const releasing = [lock.release(), lock.release()];
  expect(lock.signal.aborted).toBe(true);
  await Promise.all(releasing);
  await lock.release();
  expect(fake.requests('lock.release')).toHaveLength(1);
  {
    await using scoped = await session.lock('b');
    expect(scoped.isHeld).toBe(true);
  }
  expect(fake.requests('lock.release')).toHaveLength(2);
  expect(await session.withLock('c', (held) => held.token)).toBe(14n);
  expect(fake.requests('lock.release')).toHaveLength(3);
});

test('tryLock returns null when the lock is held elsewhere; a second wait on a name this session holds is refused locally', async () => {
  const { sdk } = await setup((fake) => {
    fake.script = sessionScript(10_000, (received, member) => {
      const args = received.request.args as { name: string; mode: string };
      if (received.request.op === 'lock.acquire' && args.name === 'busy') member.fail(received, { code: 'LOCK_HELD', message: 'held' });
      else if (received.request.op === 'lock.acquire') grant(member, received, 3);
    });
  });
  const session = await sdk.session();
  expect(await session.tryLock('busy')).toBeNull();
  await session.lock('mine');
  await expect(session.lock('mine')).rejects.toBeInstanceOf(AlreadyHeldError);
  await expect(session.lock('bad\u0000name')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
});

test('closing the session aborts its locks and tells the cluster', async () => {
  const { fake, sdk } = await setup((fake) => {
    fake.script = sessionScript(10_000, (received, member) => {
      if (received.request.op === 'lock.acquire') grant(member, received, 3);
    });
  });
  const session = await sdk.session();
  const lock = await session.lock('a');
  await session.close();
  expect(lock.signal.aborted).toBe(true);
  expect(session.state).toBe('closed');
  expect(fake.requests('session.close')).toHaveLength(1);
  await lock.release(); // nothing left to do: the close released it
  expect(fake.requests('lock.release')).toHaveLength(0);
});

test('many requests of one session in flight at once (20 queued lock waits) raise no MaxListenersExceededWarning', async () => {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on('warning', onWarning);
  try {
    const { fake, sdk } = await setup((fake) => {
      fake.script = (received, member) => {
        if (received.request.op === 'lock.acquire') return; // every wait stays queued
        sessionScript(10_000)(received, member);
      };
    });
    const session = await sdk.session({ ttlMs: 10_000 });
    const waits = Array.from({ length: 20 }, (_, position) => session.lock(`queue/${position}`));
    for (const wait of waits) wait.catch(() => undefined); // closing the session ends them
    await waitUntil(() => fake.requests('lock.acquire').length === 20, 3_000, 'twenty queued waits');
    await new Promise((resolve) => setImmediate(resolve)); // process.emitWarning emits on the next tick
    await session.close();
    await Promise.allSettled(waits);
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning').map((warning) => warning.message)).toEqual([]);
  } finally {
    process.off('warning', onWarning);
  }
});
