// Unit tests of RaftDriver: the Ready loop's order and failure handling, pending proposals and reads
// across a loss of leadership, and the leader's session leases (SPEC §3.6). Everything runs on vitest's
// fake timers, so the driver's tick, sweep and setImmediate scheduling are virtual and deterministic;
// the driver's clock reads the (faked) Date. Peers are scripted: they grant every vote and acknowledge
// every append and heartbeat, unless a test holds one kind of reply back.

import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { asLogIndex, asNodeId, asTerm, type NodeId } from '../ids.js';
import { defaultLockLimits, type LockCommand } from '../lock/lock-commands.js';
import { LockStateMachine, type CommandResult } from '../lock/lock-state-machine.js';
import type { HardState, LogEntry } from '../raft/log-entry.js';
import type { Message } from '../raft/messages.js';
import { silentLogger } from '../raft/ports.js';
import { makeConfig } from '../raft/cluster-config.js';
import { defaultRaftLimits } from '../raft/raft-node.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { SeededRandom } from '../testing/seeded-random.js';
import type { PeerTransport } from '../transport/ports.js';
import { encodeCommand } from './command-codec.js';
import { lockSnapshotCodec } from './lock-snapshot-codec.js';
import { Metrics } from './metrics.js';
import { RaftDriver, type DurableLog } from './raft-driver.js';
import type { Clock } from './system-clock.js';

const n1 = asNodeId('n1');
const n2 = asNodeId('n2');
const addresses = new Map<NodeId, string>([
  [n1, '127.0.0.1:7071'],
  [n2, '127.0.0.1:7072'],
  [asNodeId('n3'), '127.0.0.1:7073'],
]);

/** MemoryStorage behind the driver's async persist, with a failure switch. */
class TestLog implements DurableLog {
  readonly memory = new MemoryStorage();
  failNextPersist: Error | undefined;

  initialHardState() {
    return this.memory.initialHardState();
  }
  snapshotMetadata() {
    return this.memory.snapshotMetadata();
  }
  async compact(...args: Parameters<MemoryStorage['compact']>): Promise<void> {
    await Promise.resolve();
    this.memory.compact(...args);
  }
  async installSnapshot(...args: Parameters<MemoryStorage['installSnapshot']>): Promise<void> {
    await Promise.resolve();
    this.memory.installSnapshot(...args);
  }
  snapshotChunkCount() {
    return 1; // the test snapshot is one chunk
  }
  snapshotSizeBytes() {
    return this.memory.storedSnapshot().data.byteLength;
  }
  readSnapshotChunk() {
    const { metadata, data } = this.memory.storedSnapshot();
    return { metadata, totalBytes: data.byteLength, data };
  }
  firstIndex() {
    return this.memory.firstIndex();
  }
  lastIndex() {
    return this.memory.lastIndex();
  }
  term(index: Parameters<MemoryStorage['term']>[0]) {
    return this.memory.term(index);
  }
  entries(...args: Parameters<MemoryStorage['entries']>) {
    return this.memory.entries(...args);
  }
  async persist(hardState: HardState | undefined, entries: readonly LogEntry[]): Promise<void> {
    const failure = this.failNextPersist;
    this.failNextPersist = undefined;
    // Writes land in the order they were issued, as LMDB's group commits do.
    const previous = this.lastWrite;
    const write = (async () => {
      await previous;
      await Promise.resolve();
      if (this.holdWrites) await new Promise<void>((resolve) => this.heldWrites.push(resolve));
      if (failure) throw failure;
      this.memory.persist(hardState, entries);
    })();
    this.lastWrite = write.catch(() => undefined);
    return write;
  }

  /** While set, writes stay in flight until releaseWrites(). */
  holdWrites = false;
  private heldWrites: (() => void)[] = [];
  private lastWrite: Promise<void> = Promise.resolve();

  releaseWrites(): void {
    this.holdWrites = false;
    const held = this.heldWrites;
    this.heldWrites = [];
    for (const resolve of held) resolve();
  }
}

type ReplyKind = 'votes' | 'appends' | 'heartbeats';

/** Scripted peers: each message to n2/n3 gets the reply a healthy, agreeing follower would send. */
class ScriptedPeers implements PeerTransport {
  readonly sent: Message[] = [];
  readonly holding = new Set<ReplyKind>();
  private held: Message[] = [];
  driver: RaftDriver | undefined;
  onTimeoutNow: ((message: Message) => void) | undefined;

  send(messages: readonly Message[]): void {
    for (const message of messages) {
      this.sent.push(message);
      const reply = this.replyTo(message);
      if (reply === undefined) continue;
      if (this.holding.has(reply.kind)) this.held.push(reply.message);
      else this.deliver(reply.message);
    }
  }

  hold(kind: ReplyKind): void {
    this.holding.add(kind);
  }

  release(kind: ReplyKind): void {
    this.holding.delete(kind);
    const held = this.held;
    this.held = [];
    for (const message of held) {
      if (this.holding.has(kindOf(message))) this.held.push(message);
      else this.deliver(message);
    }
  }

  deliver(message: Message): void {
    setImmediate(() => this.driver?.step(message));
  }

  setPeers(): void {}

  flush(): void {} // replies are delivered as they are sent

  async close(): Promise<void> {}

  private replyTo(message: Message): { kind: ReplyKind; message: Message } | undefined {
    const envelope = { from: message.to, to: message.from, term: message.term };
    switch (message.type) {
      case 'RequestVote':
        return { kind: 'votes', message: { ...envelope, type: 'RequestVoteResponse', preVote: message.preVote, voteGranted: true } };
      case 'AppendEntries':
        return {
          kind: 'appends',
          message: { ...envelope, type: 'AppendEntriesResponse', success: true, matchIndex: asLogIndex(message.prevLogIndex + message.entries.length), conflictTerm: undefined, conflictIndex: asLogIndex(0) },
        };
      case 'Heartbeat':
        return { kind: 'heartbeats', message: { ...envelope, type: 'HeartbeatResponse', round: message.round } };
      case 'TimeoutNow':
        this.onTimeoutNow?.(message);
        return undefined;
      default:
        return undefined;
    }
  }
}

function kindOf(message: Message): ReplyKind {
  if (message.type === 'RequestVoteResponse') return 'votes';
  if (message.type === 'AppendEntriesResponse') return 'appends';
  return 'heartbeats';
}

const fakeClock: Clock = { monotonicMs: () => Date.now(), wallTimeMs: () => Date.now() };

interface Harness {
  readonly driver: RaftDriver;
  readonly peers: ScriptedPeers;
  readonly log: TestLog;
  readonly fatalErrors: unknown[];
}

function makeHarness(options: { voters: readonly NodeId[]; seed?: (log: TestLog) => void }): Harness {
  const log = new TestLog();
  options.seed?.(log);
  const peers = new ScriptedPeers();
  const fatalErrors: unknown[] = [];
  const driver = new RaftDriver({
    nodeId: n1,
    voters: options.voters,
    addresses,
    storage: log,
    stateMachine: new LockStateMachine(defaultLockLimits),
    codec: lockSnapshotCodec,
    snapshotPolicy: { everyEntries: 0, everyBytes: 0, trailingEntries: 0 },
    clock: fakeClock,
    random: new SeededRandom(7),
    logger: silentLogger,
    timing: { tickIntervalMs: 10, heartbeatIntervalMs: 50, electionTimeoutMs: 300 },
    raftLimits: defaultRaftLimits,
    metrics: new Metrics(false),
    onFatal: (error) => fatalErrors.push(error),
  });
  peers.driver = driver;
  driver.attachTransport(peers);
  return { driver, peers, log, fatalErrors };
}

const threeVoters = [n1, n2, asNodeId('n3')];
const oneVoter = [n1];

async function advance(ms: number): Promise<void> {
  await vi.advanceTimersByTimeAsync(ms);
}

async function startLeader(harness: Harness): Promise<void> {
  harness.driver.start();
  for (let waitedMs = 0; waitedMs < 5_000; waitedMs += 10) {
    await advance(10);
    if (harness.driver.role().role === 'leader' && harness.driver.status().commitIndex > 0 && harness.driver.lastAppliedIndex() === harness.driver.status().commitIndex) return;
  }
  throw new Error('n1 did not become a working leader');
}

/** Settles a promise into a plain record so a rejection is never unhandled while a test advances time. */
function observe<T>(promise: Promise<T>): { readonly outcome: { value?: T; error?: { code?: string; leader?: string } } | undefined } {
  const state: { outcome: { value?: T; error?: { code?: string; leader?: string } } | undefined } = { outcome: undefined };
  promise.then(
    (value) => (state.outcome = { value }),
    (error: { code?: string; leader?: string }) => (state.outcome = { error }),
  );
  return state;
}

let requestCounter = 0;
const openSession = (ttlMs: number, requestId = `open-${++requestCounter}`): LockCommand => ({ type: 'OpenSession', requestId, ttlMs, clientName: 'worker', leaderTimeMs: Date.now() });

/** Awaits a driver promise while letting virtual time run (its work is scheduled on fake timers). */
async function settle<T>(promise: Promise<T>, withinMs = 200): Promise<T> {
  const observed = observe(promise);
  for (let waitedMs = 0; waitedMs < withinMs && observed.outcome === undefined; waitedMs++) await advance(1);
  const outcome = observed.outcome;
  if (outcome === undefined) throw new Error(`still pending after ${withinMs} ms`);
  if (outcome.error !== undefined) throw outcome.error;
  return outcome.value as T;
}

async function open(harness: Harness, ttlMs: number, requestId?: string): Promise<string> {
  return sessionIdOf(await settle(harness.driver.propose(openSession(ttlMs, requestId))));
}

function sessionIdOf(result: CommandResult): string {
  if (!result.ok) throw new Error(`expected success, got ${result.code}`);
  return String((result.value as unknown as { sessionId: string }).sessionId);
}

let harnesses: Harness[] = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'Date'] });
  vi.setSystemTime(1_000_000);
  harnesses = [];
});

afterEach(async () => {
  for (const harness of harnesses) await harness.driver.stop();
  vi.useRealTimers();
});

function harness(options: Parameters<typeof makeHarness>[0]): Harness {
  const made = makeHarness(options);
  harnesses.push(made);
  return made;
}

describe('proposals', () => {
  test('a single member elects itself and resolves a proposal with its applied result', async () => {
    const single = harness({ voters: oneVoter });
    await startLeader(single);
    const sessionId = await open(single, 5_000);
    expect(single.driver.stateMachine.getSession(sessionId)?.ttlMs).toBe(5_000);
    expect(single.fatalErrors).toEqual([]);
  });

  test('a proposal is refused at once with a redirect when this member is not the leader', async () => {
    const follower = harness({ voters: threeVoters });
    follower.driver.start();
    follower.driver.step({ type: 'Heartbeat', from: n2, to: n1, term: asTerm(5), leaderCommit: asLogIndex(0), round: 1 });
    await advance(10);
    const refused = observe(follower.driver.propose(openSession(1_000)));
    await advance(1);
    expect(refused.outcome?.error).toMatchObject({ code: 'NOT_LEADER', leader: '127.0.0.1:7072' });
  });

  test('proposals pending when leadership is lost are rejected with NOT_LEADER naming the new leader', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    leader.peers.hold('appends');
    const pending = observe(leader.driver.propose(openSession(1_000)));
    await advance(20);
    expect(pending.outcome).toBeUndefined();
    const term = leader.driver.role().term;
    leader.driver.step({ type: 'Heartbeat', from: n2, to: n1, term: asTerm(term + 1), leaderCommit: asLogIndex(0), round: 1 });
    await advance(10);
    expect(pending.outcome?.error).toMatchObject({ code: 'NOT_LEADER', leader: '127.0.0.1:7072' });
  });

  test('stop() rejects pending proposals with UNAVAILABLE and refuses new ones', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    leader.peers.hold('appends');
    const pending = observe(leader.driver.propose(openSession(1_000)));
    await advance(10);
    await leader.driver.stop();
    const late = observe(leader.driver.propose(openSession(1_000)));
    await advance(1);
    expect(pending.outcome?.error).toMatchObject({ code: 'UNAVAILABLE' });
    expect(late.outcome?.error).toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('the Ready loop', () => {
  test('a leader sends new entries to its followers while its own write is in flight, and commits once that write lands', async () => {
    // Raft thesis §10.2.1: the leader writes to its disk in parallel with replicating
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    const lastIndexBefore = leader.driver.status().lastIndex;
    leader.peers.hold('appends');
    leader.log.holdWrites = true;
    const proposal = observe(leader.driver.propose(openSession(1_000)));
    await advance(5);
    const carriedNewEntry = leader.peers.sent.some((message) => message.type === 'AppendEntries' && message.entries.some((entry) => entry.index > lastIndexBefore));
    expect(carriedNewEntry, 'the append left before the leader wrote the entry').toBe(true);
    expect(leader.log.memory.lastIndex()).toBe(lastIndexBefore);
    // A majority (both followers) has the entry: it commits though the leader's own disk does not.
    leader.peers.release('appends');
    await advance(5);
    expect(leader.driver.status().commitIndex).toBeGreaterThan(lastIndexBefore);
    // ...but the leader applies (and answers) only entries on its own disk.
    expect(proposal.outcome).toBeUndefined();
    leader.log.releaseWrites();
    await advance(5);
    expect(proposal.outcome?.value).toMatchObject({ ok: true });
  });

  test('a failed write is fatal and the acknowledgement of its entries is never sent', async () => {
    // Raft paper §5.3 with thesis §3.8: a follower acknowledges only entries on its disk
    const follower = harness({ voters: threeVoters });
    follower.driver.start();
    follower.log.failNextPersist = new Error('disk full');
    const entry: LogEntry = { kind: 'command', index: asLogIndex(1), term: asTerm(1), data: encodeCommand(openSession(1_000)) };
    follower.driver.step({ type: 'AppendEntries', from: n2, to: n1, term: asTerm(1), prevLogIndex: asLogIndex(0), prevLogTerm: asTerm(0), entries: [entry], leaderCommit: asLogIndex(0) });
    await advance(20);
    expect(follower.fatalErrors).toHaveLength(1);
    expect(String(follower.fatalErrors[0])).toContain('disk full');
    const acknowledged = follower.peers.sent.some((message) => message.type === 'AppendEntriesResponse' && message.success && message.matchIndex >= 1);
    expect(acknowledged).toBe(false);
  });
});

describe('linearizable reads', () => {
  test('a read resolves only after a heartbeat round sent after it is acknowledged', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    leader.peers.hold('heartbeats');
    const read = observe(leader.driver.linearizableRead());
    await advance(40);
    expect(read.outcome).toBeUndefined();
    leader.peers.release('heartbeats');
    await advance(5);
    expect(read.outcome?.value).toBe(leader.driver.status().commitIndex);
  });

  test('a read pending when leadership is lost is rejected, never served', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    leader.peers.hold('heartbeats');
    const read = observe(leader.driver.linearizableRead());
    await advance(20);
    const term = leader.driver.role().term;
    leader.driver.step({ type: 'Heartbeat', from: n2, to: n1, term: asTerm(term + 1), leaderCommit: asLogIndex(0), round: 1 });
    leader.peers.release('heartbeats');
    await advance(20);
    expect(read.outcome?.error).toMatchObject({ code: 'NOT_LEADER' });
  });
});

describe('session leases on the leader', () => {
  test('the leader proposes expiry once the TTL lapsed since opening, not before', async () => {
    const single = harness({ voters: oneVoter });
    await startLeader(single);
    const sessionId = await open(single, 500);
    await advance(450);
    expect(single.driver.stateMachine.getSession(sessionId)).toBeDefined();
    await advance(150);
    expect(single.driver.stateMachine.getSession(sessionId)).toBeUndefined();
  });

  test('an acknowledged keepalive pushes expiry to TTL after its receipt', async () => {
    const single = harness({ voters: oneVoter });
    await startLeader(single);
    const sessionId = await open(single, 500);
    await advance(300);
    expect(await settle(single.driver.keepalive(sessionId, Date.now()))).toEqual({ ttlMs: 500 });
    await advance(450);
    expect(single.driver.stateMachine.getSession(sessionId)).toBeDefined();
    await advance(150);
    expect(single.driver.stateMachine.getSession(sessionId)).toBeUndefined();
  });

  test('a keepalive is acknowledged only after a heartbeat round that followed its receipt', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    const sessionId = await open(leader, 5_000);
    leader.peers.hold('heartbeats');
    const keepalive = observe(leader.driver.keepalive(sessionId, Date.now()));
    await advance(60);
    expect(keepalive.outcome).toBeUndefined();
    leader.peers.release('heartbeats');
    await advance(5);
    expect(keepalive.outcome?.value).toEqual({ ttlMs: 5_000 });
  });

  test('a keepalive for a session whose expiry was proposed is refused with SESSION_EXPIRED', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    const sessionId = await open(leader, 500);
    leader.peers.hold('appends');
    await advance(560);
    expect(leader.driver.stateMachine.getSession(sessionId)).toBeDefined(); // the expiry is not committed yet
    const keepalive = observe(leader.driver.keepalive(sessionId, Date.now()));
    await advance(1);
    expect(keepalive.outcome?.error).toMatchObject({ code: 'SESSION_EXPIRED' });
    leader.peers.release('appends');
    await advance(20);
    expect(leader.driver.stateMachine.getSession(sessionId)).toBeUndefined();
  });

  test('a new leader grants every session a full TTL from its own election', async () => {
    const restarted = harness({
      voters: oneVoter,
      seed: (log) => {
        const entry: LogEntry = { kind: 'command', index: asLogIndex(1), term: asTerm(1), data: encodeCommand(openSession(500, 'seeded')) };
        log.memory.persist({ term: asTerm(1), votedFor: n1, commitIndex: asLogIndex(1) }, [entry]);
      },
    });
    await advance(2_000); // long before the election: it must not count against the lease
    await startLeader(restarted);
    expect(restarted.driver.stateMachine.getSession('1')).toBeDefined();
    await advance(450);
    expect(restarted.driver.stateMachine.getSession('1')).toBeDefined();
    await advance(150);
    expect(restarted.driver.stateMachine.getSession('1')).toBeUndefined();
  });

  // Fails today: the lease is only extended once the keepalive is confirmed, so the expiry sweep that
  // runs while the confirmation is in flight expires the session 50 ms after a keepalive it received
  // (SPEC §3.6: no earlier than TTL after the last keepalive it received).
  test('a keepalive received before the TTL lapsed keeps the session from expiring while its confirmation is pending', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    const sessionId = await open(leader, 500);
    await advance(450);
    leader.peers.hold('heartbeats');
    const keepalive = observe(leader.driver.keepalive(sessionId, Date.now()));
    await advance(100);
    leader.peers.release('heartbeats');
    await advance(5);
    expect(keepalive.outcome?.value).toEqual({ ttlMs: 500 });
    expect(leader.driver.stateMachine.getSession(sessionId)).toBeDefined();
  });

  // Fails today: the retried OpenSession is answered from the dedupe table (ok, same session id) and
  // trackLeases() opens a fresh lease for that dead session, so its keepalives are acknowledged.
  test('a retried OpenSession does not revive the lease of a session that already expired', async () => {
    const single = harness({ voters: oneVoter });
    await startLeader(single);
    const sessionId = await open(single, 500, 'open-retried');
    await advance(600);
    expect(single.driver.stateMachine.getSession(sessionId)).toBeUndefined();
    expect(await open(single, 500, 'open-retried')).toBe(sessionId);
    const keepalive = observe(single.driver.keepalive(sessionId, Date.now()));
    await advance(5);
    expect(keepalive.outcome?.error).toMatchObject({ code: 'SESSION_EXPIRED' });
  });

  // Fails today: keepalive() checks the lease table before the ReadIndex. A new leader that has not
  // applied an OpenSession committed by its predecessor answers SESSION_EXPIRED for a live session,
  // and the SDK then gives the session (and its locks) up.
  test('a new leader does not answer SESSION_EXPIRED for a live session whose OpenSession it has not applied yet', async () => {
    const leader = harness({
      voters: threeVoters,
      seed: (log) => {
        const entry: LogEntry = { kind: 'command', index: asLogIndex(1), term: asTerm(1), data: encodeCommand(openSession(10_000, 'seeded')) };
        log.memory.persist({ term: asTerm(1), votedFor: n1, commitIndex: asLogIndex(0) }, [entry]);
      },
    });
    leader.peers.hold('appends');
    leader.driver.start();
    for (let waitedMs = 0; waitedMs < 5_000 && leader.driver.role().role !== 'leader'; waitedMs += 10) await advance(10);
    expect(leader.driver.role().role).toBe('leader');
    expect(leader.driver.stateMachine.getSession('1')).toBeUndefined(); // not applied yet
    const keepalive = observe(leader.driver.keepalive('1', Date.now()));
    await advance(1);
    leader.peers.release('appends');
    await advance(20);
    expect(leader.driver.stateMachine.getSession('1')).toBeDefined();
    expect(keepalive.outcome?.value).toEqual({ ttlMs: 10_000 });
  });
});

describe('leadership transfer', () => {
  test('transferLeadership hands off to a follower and resolves true once this member follows', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    leader.peers.onTimeoutNow = (message) => {
      leader.peers.deliver({ type: 'Heartbeat', from: message.to, to: n1, term: asTerm(message.term + 1), leaderCommit: asLogIndex(0), round: 1 });
    };
    const transferred = observe(leader.driver.transferLeadership(undefined, 1_000));
    await advance(100);
    expect(transferred.outcome?.value).toBe(true);
    expect(leader.driver.role().role).toBe('follower');
    expect(leader.peers.sent.some((message) => message.type === 'TimeoutNow')).toBe(true);
  });

  test('transferLeadership on a follower resolves true at once', async () => {
    const follower = harness({ voters: threeVoters });
    follower.driver.start();
    expect(await settle(follower.driver.transferLeadership(undefined, 1_000))).toBe(true);
  });
});

/**
 * Records the event-loop turn each entry is applied in (a probe counts turns), and makes every
 * applied entry "cost" 4 ms of the member's clock, so the driver's apply slices show.
 */
function recordApplyTurns(driver: RaftDriver): { readonly applied: { index: number; turn: number }[]; stop: () => void } {
  let turn = 0;
  let probing = true;
  const probe = () => {
    if (!probing) return;
    turn++;
    setImmediate(probe);
  };
  setImmediate(probe);
  const applied: { index: number; turn: number }[] = [];
  driver.onApply((index) => {
    applied.push({ index, turn });
    vi.setSystemTime(Date.now() + 4);
  });
  return { applied, stop: () => (probing = false) };
}

describe('an entry that releases many locks', () => {
  const acquire = (sessionId: string, name: string, requestId: string): LockCommand => ({
    type: 'Acquire',
    requestId,
    sessionId,
    kind: 'lock',
    name,
    mode: 'wait',
    metadata: '',
    value: '',
    leaderTimeMs: Date.now(),
  });

  test('closing a session that holds many locks is applied over several event-loop turns: keepalives are acknowledged meanwhile, and entries committed meanwhile apply after it, in order', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    const big = await open(leader, 60_000);
    const other = await open(leader, 60_000);
    const lockCount = 5 * 2048 + 17; // six parts of releases
    for (let from = 0; from < lockCount; from += 1000) {
      const batch: Promise<CommandResult>[] = [];
      for (let position = from; position < Math.min(lockCount, from + 1000); position++) batch.push(leader.driver.propose(acquire(big, `held-${position}`, `fill-${position}`)));
      await settle(Promise.all(batch), 2_000);
    }
    const lastName = `held-${lockCount - 1}`;
    const handedOn = observe(leader.driver.propose(acquire(other, lastName, 'wait-for-last')));
    await advance(20);
    expect(handedOn.outcome?.value).toMatchObject({ ok: true, value: { state: 'queued' } });

    // A probe runs on every event-loop turn. On the first turn that finds the close half applied,
    // it asks for a keepalive and proposes another acquire; each records what it found when it settled.
    const turnsWithCloseUnfinished: boolean[] = [];
    const settled: { what: string; closeUnfinished: boolean }[] = [];
    let probing = true;
    let askedDuringClose = false;
    const note = (what: string) => settled.push({ what, closeUnfinished: leader.driver.stateMachine.applyUnfinished() });
    const probe = () => {
      if (!probing) return;
      const unfinished = leader.driver.stateMachine.applyUnfinished();
      turnsWithCloseUnfinished.push(unfinished);
      if (unfinished && !askedDuringClose) {
        askedDuringClose = true;
        void leader.driver.keepalive(other, Date.now()).then(() => note('keepalive'));
        void leader.driver.propose(acquire(other, 'fresh', 'acquire-during-close')).then(() => note('acquire'));
      }
      setImmediate(probe);
    };
    setImmediate(probe);
    const close = leader.driver.propose({ type: 'CloseSession', requestId: 'close-big', sessionId: big });
    void close.then(() => note('close'));
    const closeResult = await settle(close, 1_000);
    await advance(20);
    probing = false;

    expect(closeResult).toEqual({ ok: true, value: { closed: true } });
    expect(turnsWithCloseUnfinished.filter(Boolean).length).toBeGreaterThanOrEqual(5);
    // The keepalive needed no applied state; the acquire waited for the close and applied after it.
    expect(settled).toEqual([
      { what: 'keepalive', closeUnfinished: true },
      { what: 'close', closeUnfinished: false },
      { what: 'acquire', closeUnfinished: false },
    ]);
    const machine = leader.driver.stateMachine;
    expect(machine.getSession(big)).toBeUndefined();
    expect(machine.getLock('lock', lastName)?.holder?.sessionId).toBe(other);
    expect(machine.getLock('lock', 'fresh')?.holder?.sessionId).toBe(other);
    expect(machine.stats().locksHeld).toBe(2);
    expect(leader.driver.lastAppliedIndex()).toBe(leader.driver.status().commitIndex);
    machine.checkInvariants();
    expect(leader.fatalErrors).toEqual([]);
  });

  test('entries committed together that take long to apply are applied over several event-loop turns, in order, about 10 ms of them per turn', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    const holder = await open(leader, 60_000);
    const turns = recordApplyTurns(leader.driver);
    const applied = turns.applied;
    leader.peers.hold('appends');
    const acquires = Array.from({ length: 12 }, (_, position) => leader.driver.propose(acquire(holder, `slow-${position}`, `slow-${position}`)));
    await advance(5);
    expect(applied).toEqual([]);
    leader.peers.release('appends'); // all twelve commit at once
    await settle(Promise.all(acquires), 1_000);
    turns.stop();
    expect(applied.map((entry) => entry.index)).toEqual([...applied.map((entry) => entry.index)].sort((left, right) => left - right));
    const perTurn = new Map<number, number>();
    for (const entry of applied) perTurn.set(entry.turn, (perTurn.get(entry.turn) ?? 0) + 1);
    expect(Math.max(...perTurn.values())).toBe(3);
    expect(perTurn.size).toBeGreaterThanOrEqual(4);
    expect(leader.driver.stateMachine.stats().locksHeld).toBe(12);
    expect(leader.fatalErrors).toEqual([]);
  });

  test('a follower that installs a leader\'s snapshot while it applies an entry in parts drops that entry and those queued behind it, and goes on from the snapshot', async () => {
    const follower = harness({ voters: threeVoters });
    follower.driver.start();
    const term = asTerm(2);
    let lastIndex = 0;
    const entryOf = (command: LockCommand): LogEntry => ({ index: asLogIndex(++lastIndex), term, kind: 'command', data: encodeCommand(command) });
    const entries = [entryOf(openSession(60_000, 'open-big'))];
    const big = String(lastIndex);
    for (let position = 0; position < 10 * 2048; position++) entries.push(entryOf(acquire(big, `held-${position}`, `fill-${position}`)));
    entries.push(entryOf({ type: 'CloseSession', requestId: 'close-big', sessionId: big }));
    entries.push(entryOf(openSession(60_000, 'open-after-close')));
    follower.driver.step({ type: 'AppendEntries', from: n2, to: n1, term, prevLogIndex: asLogIndex(0), prevLogTerm: asTerm(0), entries, leaderCommit: asLogIndex(lastIndex) });

    // The leader's snapshot is of a later index: a state with one session of its own.
    const snapshotIndex = asLogIndex(lastIndex + 10);
    const replacement = new LockStateMachine(defaultLockLimits);
    replacement.apply(snapshotIndex, openSession(60_000, 'in-the-snapshot'));
    const config = makeConfig(threeVoters.map((id) => ({ id, address: addresses.get(id) ?? '', role: 'voter' as const })));
    const original = follower.driver.stateMachine;
    const installedWhile: boolean[] = [];
    follower.driver.onSnapshotRestored(() => installedWhile.push(original.applyUnfinished()));
    let sent = false;
    const probe = () => {
      if (!sent && original.applyUnfinished()) {
        sent = true;
        follower.driver.stepSnapshot({ type: 'InstallSnapshot', from: n2, to: n1, term, snapshot: { index: snapshotIndex, term, config } }, lockSnapshotCodec.encode(replacement));
        return;
      }
      if (!sent) setImmediate(probe);
    };
    setImmediate(probe);
    for (let waitedMs = 0; waitedMs < 2_000 && follower.driver.lastAppliedIndex() < snapshotIndex; waitedMs += 10) await advance(10);

    expect(installedWhile).toEqual([true]);
    expect(follower.driver.lastAppliedIndex()).toBe(snapshotIndex);
    const machine = follower.driver.stateMachine;
    expect(machine).not.toBe(original);
    expect(machine.applyUnfinished()).toBe(false);
    expect(machine.listSessions().map((session) => session.sessionId)).toEqual([String(snapshotIndex)]);
    // It goes on applying the leader's entries after the snapshot.
    const next: LogEntry = { index: asLogIndex(snapshotIndex + 1), term, kind: 'command', data: encodeCommand(openSession(60_000, 'after-the-snapshot')) };
    follower.driver.step({ type: 'AppendEntries', from: n2, to: n1, term, prevLogIndex: snapshotIndex, prevLogTerm: term, entries: [next], leaderCommit: next.index });
    for (let waitedMs = 0; waitedMs < 500 && follower.driver.lastAppliedIndex() < next.index; waitedMs += 10) await advance(10);
    expect(follower.driver.lastAppliedIndex()).toBe(next.index);
    expect(machine.listSessions()).toHaveLength(2);
    expect(follower.fatalErrors).toEqual([]);
  });

  test('while a close is applied in parts, a keepalive of a session whose own close is committed behind it is refused, others are acknowledged, and reads see only whole entries', async () => {
    const leader = harness({ voters: threeVoters });
    await startLeader(leader);
    const big = await open(leader, 60_000);
    const closing = await open(leader, 60_000);
    const staying = await open(leader, 60_000);
    for (let from = 0; from < 8 * 2048; from += 1024) {
      const batch = Array.from({ length: 1024 }, (_, offset) => leader.driver.propose(acquire(big, `held-${from + offset}`, `fill-${from + offset}`)));
      await settle(Promise.all(batch), 2_000);
    }
    const outcomes: Record<string, { ok: boolean; code?: string | undefined; closeUnfinished: boolean }> = {};
    const note = (what: string) => ({
      ok: () => (outcomes[what] = { ok: true, closeUnfinished: leader.driver.stateMachine.applyUnfinished() }),
      failed: (error: { code?: string }) => (outcomes[what] = { ok: false, code: error.code, closeUnfinished: leader.driver.stateMachine.applyUnfinished() }),
    });
    let asked = false;
    let probing = true;
    let bigSeenByRead: unknown = 'not read';
    const probe = () => {
      if (!probing) return;
      if (!asked && leader.driver.stateMachine.applyUnfinished()) {
        asked = true;
        const closingKeepalive = note('closing keepalive');
        leader.driver.keepalive(closing, Date.now()).then(closingKeepalive.ok, closingKeepalive.failed);
        const stayingKeepalive = note('staying keepalive');
        leader.driver.keepalive(staying, Date.now()).then(stayingKeepalive.ok, stayingKeepalive.failed);
        const read = note('read');
        leader.driver
          .readBetweenEntries(() => {
            bigSeenByRead = leader.driver.stateMachine.getSession(big);
            return leader.driver.stateMachine.applyUnfinished();
          })
          .then(read.ok, read.failed);
      }
      setImmediate(probe);
    };
    setImmediate(probe);
    const closes = [
      leader.driver.propose({ type: 'CloseSession', requestId: 'close-big', sessionId: big }),
      leader.driver.propose({ type: 'CloseSession', requestId: 'close-closing', sessionId: closing }),
    ];
    await settle(Promise.all(closes), 1_000);
    await advance(20);
    probing = false;
    expect(outcomes).toEqual({
      'closing keepalive': { ok: false, code: 'SESSION_EXPIRED', closeUnfinished: true },
      'staying keepalive': { ok: true, closeUnfinished: true },
      read: { ok: true, closeUnfinished: false },
    });
    expect(bigSeenByRead).toBeUndefined();
    expect(leader.fatalErrors).toEqual([]);
  });

  test('a restarted member replays its log up to the commit index it stored back to back; entries committed after it are applied a slice per turn', async () => {
    const term = asTerm(1);
    const restarted = harness({
      voters: oneVoter,
      seed: (log) => {
        const entries: LogEntry[] = Array.from({ length: 12 }, (_, position) => ({ kind: 'command', index: asLogIndex(position + 1), term, data: encodeCommand(openSession(60_000, `replayed-${position}`)) }));
        log.memory.persist({ term, votedFor: n1, commitIndex: asLogIndex(12) }, entries);
      },
    });
    const turns = recordApplyTurns(restarted.driver);
    const applied = turns.applied;
    await startLeader(restarted);
    const replayTurns = new Set(applied.filter((entry) => entry.index <= 12).map((entry) => entry.turn));
    expect(applied.filter((entry) => entry.index <= 12)).toHaveLength(12);
    expect(replayTurns.size).toBe(1);
    // Twelve new entries committed together are sliced as usual: about 10 ms of them per turn.
    const session = String(applied[0]?.index);
    const acquires = Array.from({ length: 12 }, (_, position) => restarted.driver.propose(acquire(session, `later-${position}`, `later-${position}`)));
    await settle(Promise.all(acquires), 1_000);
    turns.stop();
    const laterTurns = new Set(applied.filter((entry) => entry.index > 13).map((entry) => entry.turn));
    expect(laterTurns.size).toBeGreaterThanOrEqual(4);
    expect(restarted.fatalErrors).toEqual([]);
  });
});
