// RaftDriver: the one place that owns timers and `await` (STYLE "What we absorb" §2). It wires the
// pure RaftNode to its ports — LMDB storage, the peer transport, the lock state machine — and runs
// the Ready loop in the order the core requires:
//
//   1. persist hard state and entries (one LMDB transaction, one fsync for everything in the Ready)
//   2. send messages (only now: a vote or an ack must never leave before it is durable)
//   3. apply committed entries to the lock state machine, completing the client requests waiting
//      on them, and serve linearizable reads whose ReadIndex has been applied
//   4. advance
//
// It also keeps the leader's session leases: keepalives are confirmed by a heartbeat quorum
// (ReadIndex) and never go through the log; expiry is proposed as a command once a TTL lapses.

import { NotLeaderError, RateLimitedError, SessionExpiredError, UnavailableError, type ServiceError } from '@raftlock/protocol';
import { assert } from '../assert.js';
import { asLogIndex, type LogIndex, type NodeId } from '../ids.js';
import type { LockCommand } from '../lock/lock-commands.js';
import type { LockStateMachine} from '../lock/lock-state-machine.js';
import { type ApplyOutcome, type CommandResult } from '../lock/lock-state-machine.js';
import type { HardState, LogEntry } from '../raft/log-entry.js';
import type { Message } from '../raft/messages.js';
import type { Logger, RaftStorage, Random } from '../raft/ports.js';
import { RaftNode, type RaftLimits, type RaftStatus, type RefusalReason } from '../raft/raft-node.js';
import type { ReadState, SoftState } from '../raft/ready.js';
import type { PeerTransport } from '../transport/ports.js';
import { decodeCommand, encodeCommand } from './command-codec.js';
import type { Metrics } from './metrics.js';
import { SessionLeases } from './session-leases.js';
import type { Clock } from './system-clock.js';

/** What the driver needs of durable storage beyond the core's read port. */
export interface DurableLog extends RaftStorage {
  /** Resolves once hard state and entries are on disk (fsync). */
  persist(hardState: HardState | undefined, entries: readonly LogEntry[]): Promise<void>;
}

export interface DriverTiming {
  readonly tickIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
}

export interface RaftDriverOptions {
  readonly nodeId: NodeId;
  readonly voters: readonly NodeId[];
  /** Client-facing address of every member (leader redirects). */
  readonly addresses: ReadonlyMap<NodeId, string>;
  readonly storage: DurableLog;
  readonly stateMachine: LockStateMachine;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly timing: DriverTiming;
  readonly raftLimits: RaftLimits;
  readonly metrics: Metrics;
  /** A failure the member cannot continue after (disk write failed, invariant broken). */
  readonly onFatal: (error: unknown) => void;
}

export type ApplyListener = (index: LogIndex, command: LockCommand, outcome: ApplyOutcome) => void;

interface PendingProposal {
  readonly term: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: ServiceError) => void;
}

interface ReadBatch {
  readonly waiters: { resolve: (index: number) => void; reject: (error: ServiceError) => void }[];
  index: number | undefined;
}

const expirySweepIntervalMs = 50;
/** At most this many ticks are replayed in one timer callback after the process ran late. */
const maxCatchUpTicks = 10;
const maxExpiriesPerSweep = 1000;

export class RaftDriver {
  readonly node: RaftNode;
  readonly stateMachine: LockStateMachine;
  private transport: PeerTransport | undefined;
  private readonly options: RaftDriverOptions;
  private readonly leases = new SessionLeases();
  private readonly pendingProposals = new Map<number, PendingProposal>();
  private readonly applyListeners = new Set<ApplyListener>();
  private readonly roleListeners = new Set<(softState: SoftState) => void>();
  private queuedReads: ReadBatch['waiters'] = [];
  private readonly readBatches = new Map<string, ReadBatch>();
  private readCounter = 0;
  private readFlushScheduled = false;
  private readyLoopRunning = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private softState: SoftState;
  private appliedIndex: LogIndex;

  constructor(options: RaftDriverOptions) {
    assert(options.timing.tickIntervalMs > 0, 'tick interval is positive');
    assert(options.timing.electionTimeoutMs > options.timing.heartbeatIntervalMs, 'election timeout exceeds heartbeat interval');
    this.options = options;
    this.stateMachine = options.stateMachine;
    const ticks = (ms: number) => Math.max(1, Math.round(ms / options.timing.tickIntervalMs));
    this.node = new RaftNode({
      nodeId: options.nodeId,
      voters: options.voters,
      storage: options.storage,
      random: options.random,
      logger: options.logger,
      timing: { heartbeatIntervalTicks: ticks(options.timing.heartbeatIntervalMs), electionTimeoutTicks: ticks(options.timing.electionTimeoutMs) },
      limits: options.raftLimits,
      preVote: true,
      checkQuorum: true,
    });
    this.softState = this.node.softState();
    this.appliedIndex = asLogIndex(this.stateMachine.lastAppliedIndex());
  }

  /** The transport is built after the driver (its inbound handler is driver.step). */
  attachTransport(transport: PeerTransport): void {
    this.transport = transport;
  }

  start(): void {
    assert(this.transport !== undefined, 'a transport is attached before start');
    // Logical time follows the monotonic clock, not the number of timer callbacks: under load
    // setInterval fires late, and counting callbacks would stretch every election timeout and
    // heartbeat beyond what was configured. Catch-up is bounded, so a long pause of this process
    // does not turn into a burst of ticks (Raft's safety does not depend on the tick rate).
    const tickIntervalMs = this.options.timing.tickIntervalMs;
    let nextTickAtMs = this.options.clock.monotonicMs() + tickIntervalMs;
    this.tickTimer = setInterval(() => {
      const nowMs = this.options.clock.monotonicMs();
      let ticks = 0;
      while (nowMs >= nextTickAtMs && ticks < maxCatchUpTicks) {
        this.node.tick();
        nextTickAtMs += tickIntervalMs;
        ticks++;
      }
      if (nowMs >= nextTickAtMs) nextTickAtMs = nowMs + tickIntervalMs; // dropped beyond the bound
      if (ticks > 0) this.scheduleReady();
    }, tickIntervalMs);
    this.expiryTimer = setInterval(() => this.proposeExpiries(), expirySweepIntervalMs);
    this.scheduleReady();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.expiryTimer);
    const shuttingDown = new UnavailableError('this member is shutting down');
    this.failPending(shuttingDown);
  }

  step(message: Message): void {
    if (this.stopped) return;
    this.node.step(message);
    this.scheduleReady();
  }

  onApply(listener: ApplyListener): () => void {
    this.applyListeners.add(listener);
    return () => this.applyListeners.delete(listener);
  }

  onRoleChange(listener: (softState: SoftState) => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  /** Propose a command and resolve with its result once it is committed and applied here. */
  propose(command: LockCommand): Promise<CommandResult> {
    if (this.stopped) return Promise.reject(new UnavailableError('this member is shutting down'));
    const result = this.node.propose(encodeCommand(command));
    if (!result.accepted) {
      this.options.metrics.proposals.inc({ outcome: result.reason });
      return Promise.reject(this.refusalError(result.reason));
    }
    this.options.metrics.proposals.inc({ outcome: 'accepted' });
    this.scheduleReady();
    return new Promise((resolve, reject) => {
      this.pendingProposals.set(result.index, { term: result.term, resolve, reject });
    });
  }

  /**
   * Resolve once this member, still leader after the call, has applied everything committed when
   * it was made (ReadIndex, thesis §6.4). Reads in one event-loop turn share one heartbeat round.
   */
  linearizableRead(): Promise<number> {
    if (this.softState.role !== 'leader') return Promise.reject(this.notLeaderError());
    return new Promise((resolve, reject) => {
      this.queuedReads.push({ resolve, reject });
      if (!this.readFlushScheduled) {
        this.readFlushScheduled = true;
        setImmediate(() => this.flushReads());
      }
    });
  }

  /**
   * A keepalive received at receivedAtMs (monotonic). The lease is extended at once — the server may
   * only ever expire later than TTL after a keepalive it received — but the acknowledgement waits
   * until leadership is confirmed after receipt: any later leader was elected after receivedAtMs and
   * grants a full TTL from its election, so the client's deadline (send time + TTL) comes first.
   */
  async keepalive(sessionId: string, receivedAtMs: number): Promise<{ ttlMs: number }> {
    if (this.softState.role !== 'leader') throw this.notLeaderError();
    if (this.leases.isExpiring(sessionId)) throw new SessionExpiredError(`session ${sessionId} has expired or was closed`);
    const extendedEarly = this.leases.keepalive(sessionId, receivedAtMs);
    // ReadIndex first: a new leader may not have applied its predecessor's OpenSession yet.
    await this.linearizableRead();
    if (!extendedEarly && !this.leases.keepalive(sessionId, receivedAtMs)) throw new SessionExpiredError(`session ${sessionId} has expired or was closed`);
    // Expiry may have been proposed while the read was confirming: never acknowledge after that.
    if (!this.leases.isLive(sessionId)) throw new SessionExpiredError(`session ${sessionId} has expired or was closed`);
    const ttlMs = this.leases.ttlOf(sessionId);
    assert(ttlMs !== undefined, 'a live lease has a TTL');
    return { ttlMs };
  }

  /** Hand leadership to the most up-to-date voter; resolves true once this member is no longer leader. */
  async transferLeadership(target: NodeId | undefined, timeoutMs: number): Promise<boolean> {
    if (this.softState.role !== 'leader') return true;
    const chosen = target ?? this.mostUpToDateFollower();
    if (chosen === undefined) return false;
    this.node.transferLeadership(chosen);
    this.scheduleReady();
    const deadline = this.options.clock.monotonicMs() + timeoutMs;
    while (this.softState.role === 'leader' && this.options.clock.monotonicMs() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, this.options.timing.tickIntervalMs));
    }
    return this.softState.role !== 'leader';
  }

  // ---------------------------------------------------------------------------------------------
  // Observation

  role(): SoftState {
    return this.softState;
  }

  lastAppliedIndex(): number {
    return this.appliedIndex;
  }

  status(): RaftStatus {
    return this.node.status();
  }

  leaderAddress(): string | undefined {
    const leaderId = this.softState.leaderId;
    return leaderId === '' ? undefined : this.options.addresses.get(leaderId);
  }

  addressOf(nodeId: NodeId): string | undefined {
    return this.options.addresses.get(nodeId);
  }

  voters(): readonly NodeId[] {
    return this.options.voters;
  }

  notLeaderError(): ServiceError {
    const leader = this.leaderAddress();
    if (leader === undefined || this.softState.leaderId === this.options.nodeId) return new UnavailableError('no leader is known yet; retry shortly');
    return new NotLeaderError(`this member is not the leader; the leader is ${this.softState.leaderId} at ${leader}`, leader);
  }

  // ---------------------------------------------------------------------------------------------
  // The Ready loop

  private scheduleReady(): void {
    if (this.readyLoopRunning || this.stopped) return;
    this.readyLoopRunning = true;
    setImmediate(() => {
      this.runReadyLoop().catch((error: unknown) => this.options.onFatal(error));
    });
  }

  private async runReadyLoop(): Promise<void> {
    try {
      while (!this.stopped && this.node.hasReady()) {
        const ready = this.node.ready();
        // Durable before anything of this Ready leaves (storage reports fsync latency itself).
        if (ready.hardState !== undefined || ready.entriesToPersist.length > 0) await this.options.storage.persist(ready.hardState, ready.entriesToPersist);
        if (this.stopped) return;
        if (ready.messagesToSend.length > 0) this.transport?.send(ready.messagesToSend);
        this.applyEntries(ready.entriesToApply);
        this.recordReadStates(ready.readStates);
        if (ready.softState) this.changeRole(ready.softState);
        this.node.advance(ready);
        this.serveAppliedReads();
        this.updateGauges();
      }
    } finally {
      this.readyLoopRunning = false;
    }
    if (!this.stopped && this.node.hasReady()) this.scheduleReady();
  }

  private applyEntries(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    const startedMs = this.options.clock.monotonicMs();
    for (const entry of entries) {
      const command: LockCommand = entry.kind === 'command' ? decodeCommand(entry.data) : { type: 'Noop' };
      const outcome = this.stateMachine.apply(entry.index, command);
      this.appliedIndex = entry.index;
      this.trackLeases(entry.index, command, outcome);
      const pending = this.pendingProposals.get(entry.index);
      if (pending) {
        this.pendingProposals.delete(entry.index);
        if (pending.term === entry.term && outcome.result !== undefined) pending.resolve(outcome.result);
        else pending.reject(this.notLeaderError()); // another leader's entry took this index: ours was never committed
      }
      for (const listener of this.applyListeners) {
        // Listeners (waits, watches) are not replicated state: one that fails must not stop the member.
        try {
          listener(entry.index, command, outcome);
        } catch (error) {
          this.options.logger.error({ index: entry.index, error: error instanceof Error ? error.stack : String(error) }, 'apply listener failed');
        }
      }
    }
    this.options.metrics.applySeconds.observe((this.options.clock.monotonicMs() - startedMs) / 1000);
  }

  private trackLeases(index: LogIndex, command: LockCommand, outcome: ApplyOutcome): void {
    if (this.softState.role !== 'leader' || !outcome.result?.ok) return;
    const value = outcome.result.value as unknown as Record<string, unknown>;
    switch (command.type) {
      case 'OpenSession':
        // Only the entry that created the session starts its lease: a retried OpenSession answered
        // from the dedupe table must not revive a session that expired or is being expired.
        if (value.createdIndex === index) this.leases.opened(String(value.sessionId), command.ttlMs, this.options.clock.monotonicMs());
        return;
      case 'CloseSession':
      case 'ExpireSession':
        this.leases.ended(command.sessionId);
        return;
      default:
        return;
    }
  }

  private changeRole(next: SoftState): void {
    const previous = this.softState;
    this.softState = next;
    const metrics = this.options.metrics;
    metrics.term.set(next.term);
    metrics.isLeader.set(next.role === 'leader' ? 1 : 0);
    if (next.leaderId !== previous.leaderId) metrics.leaderChanges.inc();
    if (next.role === 'leader' && previous.role !== 'leader') {
      // SPEC §3.6: a new leader grants every session a full TTL from its own election.
      this.leases.startAll(this.stateMachine.sessionTtls(), this.options.clock.monotonicMs());
      this.options.logger.info({ term: next.term }, 'leading; session leases restarted');
    }
    if (previous.role === 'leader' && next.role !== 'leader') {
      this.leases.clear();
      this.failPending(this.notLeaderError());
    }
    for (const listener of this.roleListeners) listener(next);
  }

  /** Proposals and reads that this member can no longer complete; clients retry with the same id. */
  private failPending(error: ServiceError): void {
    for (const pending of this.pendingProposals.values()) pending.reject(error);
    this.pendingProposals.clear();
    for (const batch of this.readBatches.values()) for (const waiter of batch.waiters) waiter.reject(error);
    this.readBatches.clear();
    for (const waiter of this.queuedReads) waiter.reject(error);
    this.queuedReads = [];
  }

  private flushReads(): void {
    this.readFlushScheduled = false;
    const waiters = this.queuedReads;
    this.queuedReads = [];
    if (waiters.length === 0) return;
    const context = `read-${++this.readCounter}`;
    const result = this.node.readIndex(context);
    if (!result.accepted) {
      const error = this.refusalError(result.reason);
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    this.readBatches.set(context, { waiters, index: undefined });
    this.scheduleReady();
  }

  private recordReadStates(readStates: readonly ReadState[]): void {
    for (const readState of readStates) {
      const batch = this.readBatches.get(readState.requestContext);
      if (batch) batch.index = readState.index;
    }
  }

  private serveAppliedReads(): void {
    for (const [context, batch] of this.readBatches) {
      if (batch.index === undefined || batch.index > this.appliedIndex) continue;
      this.readBatches.delete(context);
      for (const waiter of batch.waiters) waiter.resolve(batch.index);
    }
  }

  private proposeExpiries(): void {
    if (this.softState.role !== 'leader' || this.stopped) return;
    const expired = this.leases.takeExpired(this.options.clock.monotonicMs(), maxExpiriesPerSweep);
    for (const sessionId of expired) {
      this.options.logger.info({ sessionId }, 'session lease lapsed; proposing expiry');
      this.propose({ type: 'ExpireSession', sessionId, leaderTimeMs: this.options.clock.wallTimeMs() }).catch(() => this.leases.expiryFailed(sessionId));
    }
  }

  private mostUpToDateFollower(): NodeId | undefined {
    let best: { id: NodeId; matchIndex: number } | undefined;
    for (const [id, progress] of this.node.status().progress) {
      if (id === this.options.nodeId) continue;
      if (!best || progress.matchIndex > best.matchIndex) best = { id, matchIndex: progress.matchIndex };
    }
    return best?.id;
  }

  private refusalError(reason: RefusalReason): ServiceError {
    switch (reason) {
      case 'NotLeader':
        return this.notLeaderError();
      case 'LeadershipTransferInProgress':
        return new UnavailableError('leadership is being transferred; retry shortly');
      case 'TooManyPending':
        return new RateLimitedError('too many uncommitted proposals; retry shortly');
    }
  }

  private updateGauges(): void {
    const metrics = this.options.metrics;
    const status = this.node;
    metrics.commitIndex.set(status.currentCommitIndex());
    metrics.appliedIndex.set(this.appliedIndex);
    const stats = this.stateMachine.stats();
    metrics.sessions.set(stats.sessions);
    metrics.locksHeld.set(stats.locksHeld);
    metrics.waiters.set(stats.waiters);
  }
}
