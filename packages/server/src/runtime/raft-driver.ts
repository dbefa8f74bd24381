// RaftDriver: the one place that owns timers and `await` (STYLE "What we absorb" §2). It wires the
// pure RaftNode to its ports — LMDB storage, the peer transport, the lock state machine — and runs
// the Ready loop in the order the core requires (ready.ts):
//
//   1. start writing hard state and entries (group commit: every write started in one event-loop
//      turn shares one LMDB transaction and one fsync; writes land in the order they were started)
//   2. send the messages that may leave at once: a leader replicates while its own disk writes
//      (thesis §10.2.1), so a commit costs max(leader fsync, follower round trip + fsync), not both
//   3. apply committed entries (already on this disk) to the lock state machine, completing the
//      client requests waiting on them, and serve linearizable reads whose ReadIndex has been applied
//      (about 10 ms of entries per event-loop turn, and an entry ending a session that holds many
//      locks a part per turn, the entries behind it waiting: the member keeps heartbeating meanwhile)
//   4. advance, and take the next Ready without waiting for the write
//   5. when the write lands: persisted(ready), then send the messages that vouch for it (votes,
//      acknowledgements: never before they are durable)
//
// It also keeps the leader's session leases: keepalives are confirmed by a heartbeat quorum
// (ReadIndex) and never go through the log; expiry is proposed as a command once a TTL lapses.
//
// Membership: the configuration in force (the core's, from the log) decides the transport's address
// book and leader redirects; addMember/removeMember walk an operator's change through the core one
// server at a time. Snapshots: every snapshotEveryEntries applied entries (or bytes) the state
// machine is serialized and the log compacted behind it, keeping a trailing window; a snapshot from
// the leader (Ready.snapshot) replaces storage and the state machine before anything later applies.

import {
  InvalidArgumentError,
  NotLeaderError,
  protocolLimits,
  RateLimitedError,
  SessionExpiredError,
  TimeoutError,
  UnavailableError,
  type ServiceError,
} from '@raftlock/protocol';
import { assert } from '../assert.js';
import { asLogIndex, asNodeId, type LogIndex, type NodeId } from '../ids.js';
import type { LockCommand } from '../lock/lock-commands.js';
import type { LockStateMachine} from '../lock/lock-state-machine.js';
import { type ApplyOutcome, type CommandResult } from '../lock/lock-state-machine.js';
import type { ClusterConfig, ConfigChange } from '../raft/cluster-config.js';
import { entrySizeBytes, type HardState, type LogEntry, type SnapshotMetadata } from '../raft/log-entry.js';
import type { InstallSnapshot, Message } from '../raft/messages.js';
import type { Logger, RaftStorage, Random } from '../raft/ports.js';
import { RaftNode, type RaftLimits, type RaftStatus, type RefusalReason } from '../raft/raft-node.js';
import type { ReadState, Ready, SoftState } from '../raft/ready.js';
import { snapshotChunkBytes } from '../storage/lmdb-storage.js';
import type { PeerTransport } from '../transport/ports.js';
import { decodeCommand, encodeCommand } from './command-codec.js';
import type { MemberState, Metrics } from './metrics.js';
import { SessionLeases } from './session-leases.js';
import type { Clock } from './system-clock.js';

/** What the driver needs of durable storage beyond the core's read port. */
export interface DurableLog extends RaftStorage {
  /** Resolves once hard state and entries are on disk (fsync). */
  persist(hardState: HardState | undefined, entries: readonly LogEntry[]): Promise<void>;
  /** This member's own snapshot at metadata.index; entries before keepFrom are deleted. Durable on resolve. */
  compact(metadata: SnapshotMetadata, data: Uint8Array, keepFrom: LogIndex): Promise<void>;
  /** A leader's snapshot replaces the log (Ready.snapshot). Durable on resolve. */
  installSnapshot(metadata: SnapshotMetadata, data: Uint8Array): Promise<void>;
  /** Chunks the stored snapshot's bytes take (at least 1, even when empty). */
  snapshotChunkCount(): number;
  /** Size of the stored snapshot's bytes. */
  snapshotSizeBytes(): number;
  /** One chunk of the stored snapshot (backups read it chunk by chunk). */
  readSnapshotChunk(chunk: number): { readonly metadata: SnapshotMetadata; readonly totalBytes: number; readonly data: Uint8Array };
}

/** A snapshot being written a slice at a time while entries keep applying. */
export interface SnapshotEncoding {
  /** The applied index whose state the bytes hold (the state machine's at beginEncode). */
  readonly index: number;
  /**
   * Does a bounded slice of work: writes up to about maxRecords records (a lock counts one plus
   * its waiters), or once all are written copies up to maxRecords × 64 bytes into the result.
   * Returns true when result() is ready. Apply entries between steps as usual.
   */
  step(maxRecords: number): boolean;
  /** The snapshot bytes; only once step() returned true. */
  result(): Uint8Array;
  /** Gives up: the state machine stops keeping pre-images for it. Safe to call at any time. */
  abort(): void;
}

/** How the state machine becomes snapshot bytes and back. */
export interface StateMachineCodec {
  encode(stateMachine: LockStateMachine): Uint8Array;
  /** Starts writing the state as of its applied index; apply() may run between steps. */
  beginEncode(stateMachine: LockStateMachine): SnapshotEncoding;
  decode(data: Uint8Array): LockStateMachine;
}

export interface SnapshotPolicy {
  /** Snapshot once this many entries were applied since the last one (0: never). */
  readonly everyEntries: number;
  /** ...or once this many bytes of entries were (0: never). */
  readonly everyBytes: number;
  /** Entries kept before the snapshot index for followers that are only a little behind. */
  readonly trailingEntries: number;
}

export interface DriverTiming {
  readonly tickIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
}

export interface RaftDriverOptions {
  readonly nodeId: NodeId;
  /** Bootstrap voters when storage holds no configuration (tests); raftlockd stamps it in storage. */
  readonly voters: readonly NodeId[];
  /** Addresses of members whose configuration carries none (tests bootstrapped by voters). */
  readonly addresses: ReadonlyMap<NodeId, string>;
  readonly storage: DurableLog;
  /** The state machine as of the storage's snapshot (restored by the caller). */
  readonly stateMachine: LockStateMachine;
  readonly codec: StateMachineCodec;
  readonly snapshotPolicy: SnapshotPolicy;
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
  readonly proposedAtMs: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: ServiceError) => void;
}

interface ReadWaiter {
  readonly resolve: (index: number) => void;
  readonly reject: (error: ServiceError) => void;
  /** Served once the read index is applied here (a read); false: once it is known (leadership confirmed). */
  readonly untilApplied: boolean;
}

interface ReadBatch {
  waiters: ReadWaiter[];
  index: number | undefined;
}

const expirySweepIntervalMs = 50;
/** Readies whose writes may be in flight at once; the loop pauses beyond it (bounds memory, not speed: writes of one turn share a transaction). */
const maxWritesInFlight = 64;
/** At most this many ticks are replayed in one timer callback after the process ran late. */
const maxCatchUpTicks = 10;
const maxExpiriesPerSweep = 1000;
/** A snapshot waits until the log since the last one holds at least this share of that snapshot's size. */
const snapshotLogBytesPerSnapshotByte = 0.5;
/** A snapshot is encoded in slices of this much work between event-loop turns, steps of this many records. */
const snapshotSliceMs = 8;
const snapshotRecordsPerStep = 1024;
/**
 * An entry that ends a session is applied in parts of this many lock releases, one part per
 * event-loop turn (~3–8 ms of work here): a session holding fewer locks ends in one go.
 */
const releasesPerApplyPart = 2048;
/** Entries are applied for at most about this long per event-loop turn; the rest waits for the next turn. */
const applySliceMs = 10;
/**
 * Name lookups a restored state machine builds per slice between event-loop turns: ~5 ms of work, so
 * a member that just restarted with a million locks serves while it fills them (~1 s in all).
 */
const lookupFillRecordsPerSlice = 4096;

interface PendingConfigChange {
  readonly term: number;
  readonly resolve: () => void;
  readonly reject: (error: ServiceError) => void;
}

/** Bytes of snapshot in one backup chunk (snapshot.read): half a stored chunk, so a reply fits in a client frame. */
const backupChunksPerStoredChunk = 2;
const backupChunkBytes = snapshotChunkBytes / backupChunksPerStoredChunk;

/** How long addMember waits between promotion attempts while the learner catches up. */
const promotionRetryMs = 50;

export class RaftDriver {
  readonly node: RaftNode;
  stateMachine: LockStateMachine;
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
  /** Readies whose writes were started and not yet reported to the core, oldest first. */
  private readonly writesInFlight: { readonly ready: Ready; durable: boolean }[] = [];
  /** Resolved once no write is in flight (a snapshot install waits for that). */
  private readonly writesDrained: (() => void)[] = [];
  /** A write failed: the storage is behind the core, nothing may be sent or applied that relies on it. */
  private writeFailed = false;
  private tickTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private softState: SoftState;
  private appliedIndex: LogIndex;
  private readonly pendingConfigChanges = new Map<number, PendingConfigChange>();
  private readonly snapshotListeners = new Set<(index: LogIndex) => void>();
  /** The address book last given to the transport, as `id=address` pairs joined (to spot changes). */
  private publishedPeersKey: string | undefined;
  /** The two configurations the address book was last built from (they are immutable: identity tells a change). */
  private publishedFrom: { readonly inForce: ClusterConfig; readonly applied: ClusterConfig } | undefined;
  /** Snapshot streams in progress; compaction waits while any runs, so the bytes they send stay put. */
  private snapshotPins = 0;
  /** The configuration as of the applied index (what a snapshot taken now records). */
  private appliedConfig: ClusterConfig;
  private appliedConfigIndex: number;
  private entriesSinceSnapshot = 0;
  private bytesSinceSnapshot = 0;
  /** Size of the last snapshot taken or installed here (0: none yet). */
  private lastSnapshotBytes = 0;
  /** Set to make a snapshot being encoded give up (a leader's snapshot is about to replace the state). */
  private snapshotAbandoned = false;
  private compaction: Promise<void> | undefined;
  /** Snapshot bytes the transport staged for the InstallSnapshot being stepped. */
  /** By snapshot index: a later, stale InstallSnapshot must not replace the bytes of one the core adopted. */
  private readonly stagedSnapshots = new Map<number, { readonly term: number; readonly data: Uint8Array }>();
  /** The entry the state machine is applying in parts, if any (see applyQueued). */
  private applyingInParts: { readonly entry: LogEntry; readonly command: LockCommand; readonly machine: LockStateMachine } | undefined;
  /** Committed entries handed over and not applied yet: applyQueue[applyQueueHead..], oldest first. */
  private readonly applyQueue: LogEntry[] = [];
  private applyQueueHead = 0;
  /** applyQueued() resumes on the next turn; entries handed over meanwhile only join the queue. */
  private applyResumeScheduled = false;
  /** The last committed entry handed over to be applied (applied, or in applyQueue). */
  private handedOverIndex: LogIndex;
  /**
   * The commit index on disk at start: replaying the log up to it is done back to back, as before
   * the member serves anything (sliced, it made a restarted member with a million locks ready a
   * second or more later); only what is applied after it is spread over turns.
   */
  private readonly replayThroughIndex: number;
  /**
   * Session ends (CloseSession, ExpireSession) committed but not applied yet, by entry index: a
   * keepalive confirmed without waiting for apply must not be acknowledged for such a session.
   * Only entries left for a later turn are decoded for it (applyQueueNoted marks how far).
   */
  private readonly queuedSessionEnds = new Map<number, string>();
  private applyQueueNoted = 0;
  /** Waiting for the state machine to be between entries (snapshots). */
  private readonly applyIdleWaiters: { resolve: () => void; reject: (error: ServiceError) => void }[] = [];

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
      fastFirstElection: true,
    });
    this.softState = this.node.softState();
    this.appliedIndex = asLogIndex(this.stateMachine.lastAppliedIndex());
    this.handedOverIndex = this.appliedIndex;
    this.replayThroughIndex = options.storage.initialHardState().commitIndex;
    const snapshot = options.storage.snapshotMetadata();
    assert(this.appliedIndex === snapshot.index, 'the state machine starts at the snapshot');
    // As of the snapshot: the entries after it re-apply their own changes (a joining member has none).
    this.appliedConfig = snapshot.config;
    this.appliedConfigIndex = snapshot.index;
    this.lastSnapshotBytes = options.storage.snapshotSizeBytes();
    options.metrics.sampleStateFrom(() => this.memberState());
  }

  /** The transport is built after the driver (its inbound handler is driver.step). */
  attachTransport(transport: PeerTransport): void {
    this.transport = transport;
  }

  start(): void {
    assert(this.transport !== undefined, 'a transport is attached before start');
    this.publishConfig();
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
    this.fillLookupsWhileIdle();
  }

  /**
   * A state machine restored from a snapshot builds its name lookups lazily (restore stays fast);
   * finish them a slice per turn so lookups stop paying a binary search soon after a restart.
   */
  private fillLookupsWhileIdle(): void {
    const machine = this.stateMachine;
    const fillSlice = () => {
      if (this.stopped || this.stateMachine !== machine) return;
      // Entries waiting to be applied (a restart replaying its log tail) come first: the fill only
      // makes lookups faster, and taking turns from the replay made a restarted member ready later.
      if (this.applyResumeScheduled || !machine.fillLookups(lookupFillRecordsPerSlice)) setImmediate(fillSlice);
    };
    setImmediate(fillSlice);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.tickTimer);
    clearInterval(this.expiryTimer);
    const shuttingDown = new UnavailableError('this member is shutting down');
    this.failPending(shuttingDown);
    for (const waiter of this.applyIdleWaiters.splice(0)) waiter.reject(shuttingDown);
  }

  step(message: Message): void {
    if (this.stopped) return;
    this.node.step(message);
    this.scheduleReady();
  }

  /** The transport lost a peer's connection: a follower may look for a new leader sooner (RaftNode.peerDisconnected). */
  peerDisconnected(peerId: NodeId): void {
    if (this.stopped) return;
    this.node.peerDisconnected(peerId);
    // Now, not at the next tick: from this moment no client is sent to the lost leader.
    this.scheduleReady();
  }

  /** An InstallSnapshot whose bytes the transport has received in full. */
  stepSnapshot(message: InstallSnapshot, data: Uint8Array): void {
    if (this.stopped) return;
    this.stagedSnapshots.set(message.snapshot.index, { term: message.snapshot.term, data });
    // Bounded: keep the newest few (a stale one the core ignores would otherwise stay).
    for (const index of [...this.stagedSnapshots.keys()].sort((left, right) => left - right).slice(0, -2)) this.stagedSnapshots.delete(index);
    this.step(message);
  }

  /** A snapshot stream starts: no compaction replaces the stored snapshot until the returned release. */
  pinSnapshot(): () => void {
    this.snapshotPins += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.snapshotPins -= 1;
    };
  }

  /** The transport could not stream a snapshot to peerId: let the core retry at once. */
  snapshotSendFailed(peerId: NodeId): void {
    if (this.stopped) return;
    this.node.reportSnapshotFailure(peerId);
    this.scheduleReady();
  }

  /** Called after the state machine was replaced by a snapshot (watches must start over). */
  onSnapshotRestored(listener: (index: LogIndex) => void): () => void {
    this.snapshotListeners.add(listener);
    return () => this.snapshotListeners.delete(listener);
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
      this.pendingProposals.set(result.index, { term: result.term, proposedAtMs: this.options.clock.monotonicMs(), resolve, reject });
    });
  }

  /**
   * Resolve once this member, still leader after the call, has applied everything committed when
   * it was made (ReadIndex, thesis §6.4). Reads in one event-loop turn share one heartbeat round.
   */
  linearizableRead(): Promise<number> {
    return this.queueRead(true);
  }

  /**
   * Resolve once a heartbeat round started after the call confirmed this member still leads: the
   * first half of linearizableRead(), for what needs no state (a keepalive of a known lease), so it
   * is not held up behind an entry being applied in parts.
   */
  private confirmLeadership(): Promise<number> {
    return this.queueRead(false);
  }

  private queueRead(untilApplied: boolean): Promise<number> {
    if (this.softState.role !== 'leader') return Promise.reject(this.notLeaderError());
    return new Promise((resolve, reject) => {
      this.queuedReads.push({ resolve, reject, untilApplied });
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
    // A lease unknown here may be one a new leader has not applied its predecessor's OpenSession
    // for yet: ReadIndex and apply first. A known one needs only leadership confirmed after receipt.
    await (extendedEarly ? this.confirmLeadership() : this.linearizableRead());
    if (this.softState.role !== 'leader') throw this.notLeaderError();
    // Confirmed without waiting for apply: a committed end of this session may still be queued.
    if (this.sessionEndQueued(sessionId)) throw new SessionExpiredError(`session ${sessionId} has expired or was closed`);
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

  /**
   * Add a member the way the thesis (§4.2.1) recommends: as a non-voting learner first, promoted to
   * voter once it has caught up, so a new, empty member never stalls commits. Idempotent: a retry
   * after a lost reply finds the learner (or voter) already there and carries on.
   */
  async addMember(id: string, address: string, timeoutMs: number): Promise<void> {
    const deadline = this.options.clock.monotonicMs() + timeoutMs;
    const nodeId = asNodeId(id);
    let member = this.configuration().members.find((known) => known.id === nodeId);
    if (member !== undefined && member.address !== address) {
      throw new InvalidArgumentError(`${id} is already a member with address ${member.address}; remove it first`);
    }
    if (member === undefined) {
      await this.changeConfiguration({ type: 'addLearner', id: nodeId, address }, deadline);
      member = this.configuration().members.find((known) => known.id === nodeId);
    }
    if (member?.role === 'voter') return;
    await this.changeConfiguration({ type: 'promote', id: nodeId }, deadline);
  }

  /** Remove any member, the leader included (it hands over and steps down once the change commits). */
  async removeMember(id: string, timeoutMs: number): Promise<void> {
    const deadline = this.options.clock.monotonicMs() + timeoutMs;
    const nodeId = asNodeId(id);
    if (!this.configuration().members.some((known) => known.id === nodeId)) {
      if (this.softState.role !== 'leader') throw this.notLeaderError();
      return; // already gone (a retry after the change committed)
    }
    await this.changeConfiguration({ type: 'remove', id: nodeId }, deadline);
  }

  /** Propose one change, retrying what is only a matter of time, and resolve once it is applied here. */
  private async changeConfiguration(change: ConfigChange, deadlineMs: number): Promise<void> {
    for (;;) {
      if (this.stopped) throw new UnavailableError('this member is shutting down');
      const result = this.node.proposeConfigChange(change);
      if (result.accepted) {
        this.scheduleReady();
        await new Promise<void>((resolve, reject) => this.pendingConfigChanges.set(result.index, { term: result.term, resolve, reject }));
        return;
      }
      switch (result.reason) {
        case 'NotLeader':
          throw this.notLeaderError();
        case 'InvalidConfigChange':
        case 'WouldLoseQuorum':
          throw new InvalidArgumentError(`${change.type === 'addLearner' ? 'add' : change.type} ${change.id}: ${result.detail ?? result.reason}`);
        case 'LeadershipTransferInProgress':
        case 'ConfigChangeInProgress':
        case 'LearnerNotCaughtUp':
        case 'TooManyPending':
          break;
      }
      if (this.options.clock.monotonicMs() + promotionRetryMs > deadlineMs) {
        throw new TimeoutError(`${change.type === 'addLearner' ? 'add' : change.type} ${change.id} did not complete in time: ${result.detail ?? result.reason}`);
      }
      await new Promise((resolve) => setTimeout(resolve, promotionRetryMs));
    }
  }

  configuration(): ClusterConfig {
    return this.node.configuration();
  }

  configurationIndex(): number {
    return this.appliedConfigIndex;
  }

  /**
   * One chunk of a consistent backup. Chunk 0 without an index takes a fresh snapshot of everything
   * committed when the call was made (ReadIndex first); later chunks name the index chunk 0 returned.
   */
  async backupSnapshotChunk(
    chunk: number,
    index: number | undefined,
  ): Promise<{ index: number; term: number; chunk: number; chunkCount: number; totalBytes: number; data: Uint8Array }> {
    const storage = this.options.storage;
    if (index === undefined) {
      if (chunk !== 0) throw new InvalidArgumentError('chunks after the first name the snapshot index the first one returned');
      // Everything committed before this call is applied here once the read returns; snapshot that.
      await this.linearizableRead();
      if (storage.snapshotMetadata().index < this.appliedIndex) await this.snapshotNow();
    } else if (storage.snapshotMetadata().index !== index) {
      throw new UnavailableError('the snapshot changed; start again from chunk 0');
    }
    // Backup chunks are smaller than stored ones: a whole stored chunk (1 MiB) plus the reply around
    // it would not fit in one client frame (1 MiB), and the reply would be refused as TOO_LARGE.
    const totalBytes = storage.snapshotSizeBytes();
    const chunkCount = Math.max(1, Math.ceil(totalBytes / backupChunkBytes));
    if (chunk >= chunkCount) throw new InvalidArgumentError(`chunk ${chunk} is beyond the snapshot's ${chunkCount} chunks`);
    const piece = storage.readSnapshotChunk(Math.floor(chunk / backupChunksPerStoredChunk));
    const offset = (chunk % backupChunksPerStoredChunk) * backupChunkBytes;
    const data = piece.data.subarray(offset, offset + backupChunkBytes);
    assert(piece.totalBytes === totalBytes, 'the stored snapshot is the one measured');
    assert(data.byteLength <= protocolLimits.maxFrameBytes / 2, 'a backup chunk fits in a client frame with room to spare');
    return { index: piece.metadata.index, term: piece.metadata.term, chunk, chunkCount, totalBytes, data };
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
    return leaderId === '' ? undefined : this.addressOf(leaderId);
  }

  addressOf(nodeId: NodeId): string | undefined {
    const member = this.node.configuration().members.find((known) => known.id === nodeId);
    return member !== undefined && member.address !== '' ? member.address : this.options.addresses.get(nodeId);
  }

  /** Every member of the configuration in force, voters and learners. */
  memberIds(): readonly NodeId[] {
    return this.node.configuration().members.map((member) => member.id);
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
      while (!this.stopped && !this.writeFailed && this.writesInFlight.length < maxWritesInFlight && this.node.hasReady()) {
        const ready = this.node.ready();
        if (ready.snapshot !== undefined) {
          await this.handleSnapshotReady(ready, ready.snapshot);
          continue;
        }
        this.startWrite(ready);
        this.publishConfig(); // before sending: appends may go to a member the configuration just added
        if (ready.messagesToSendNow.length > 0) this.transport?.send(ready.messagesToSendNow);
        this.handOver(ready);
      }
      this.transport?.flush();
    } finally {
      this.readyLoopRunning = false;
    }
    if (!this.stopped && this.writesInFlight.length < maxWritesInFlight && this.node.hasReady()) this.scheduleReady();
  }

  /** Steps 3 and 4 of a Ready: apply, serve reads, note a role change, advance. */
  private handOver(ready: Ready): void {
    this.applyEntries(ready.entriesToApply);
    this.recordReadStates(ready.readStates);
    if (ready.softState) this.changeRole(ready.softState);
    // The core counts entries handed over as applied; an entry applied in parts finishes later
    // (applyEntries), and everything here that depends on it waits for this.appliedIndex.
    this.node.advance(ready);
    this.afterApplying();
  }

  /** What follows applying: the address book, reads whose index is now applied, a snapshot if due. */
  private afterApplying(): void {
    this.publishConfig(); // a committed removal takes the member out of the address book
    this.serveAppliedReads();
    this.maybeSnapshot();
  }

  /**
   * Write a Ready's hard state and entries; once durable, report it to the core and send what
   * vouches for it. Writes land in the order they were started; the core hears of them strictly in
   * that order whatever order their promises settle in (a later write's promise may settle a few
   * microtasks before an earlier one's). A hard state that only moves the commit index is not
   * synced on its own (storage).
   */
  private startWrite(ready: Ready): void {
    const write = { ready, durable: false };
    this.writesInFlight.push(write);
    this.options.storage.persist(ready.hardState, ready.entriesToPersist).then(
      () => {
        write.durable = true;
        this.reportLandedWrites();
      },
      (error: unknown) => {
        if (this.writeFailed) return;
        this.writeFailed = true;
        this.options.onFatal(error);
      },
    );
  }

  /** Every write at the head of the queue that has landed, in order: persisted(), then its messages. */
  private reportLandedWrites(): void {
    // After a failed write nothing later may count as durable: the member is stopping.
    if (this.stopped || this.writeFailed) return;
    for (let landed = this.writesInFlight[0]; landed?.durable === true; landed = this.writesInFlight[0]) {
      this.writesInFlight.shift();
      const ready = landed.ready;
      this.node.persisted(ready);
      if (ready.messagesToSend.length > 0) this.transport?.send(ready.messagesToSend);
    }
    this.transport?.flush(); // acknowledgements leave now: a leader is waiting on them to commit
    if (this.writesInFlight.length === 0) {
      for (const resolve of this.writesDrained.splice(0)) resolve();
    }
    this.scheduleReady();
  }

  /** A snapshot from the leader is installed with nothing else in flight: everything in order, awaited. */
  private async handleSnapshotReady(ready: Ready, snapshot: SnapshotMetadata): Promise<void> {
    if (this.writesInFlight.length > 0) await new Promise<void>((resolve) => this.writesDrained.push(resolve));
    if (this.stopped || this.writeFailed) return;
    await this.installSnapshot(snapshot);
    await this.options.storage.persist(ready.hardState, ready.entriesToPersist);
    if (this.stopped) return;
    this.node.persisted(ready);
    this.publishConfig();
    const messages = [...ready.messagesToSendNow, ...ready.messagesToSend];
    if (messages.length > 0) this.transport?.send(messages);
    this.handOver(ready);
  }

  /** Ready.snapshot: the staged bytes become storage's snapshot and the state machine. */
  private async installSnapshot(metadata: SnapshotMetadata): Promise<void> {
    const staged = this.stagedSnapshots.get(metadata.index);
    assert(staged !== undefined && staged.term === metadata.term, 'the snapshot to install was staged by the transport');
    for (const index of [...this.stagedSnapshots.keys()]) if (index <= metadata.index) this.stagedSnapshots.delete(index);
    // Decode before touching storage: bytes that do not decode must not replace a working member.
    const stateMachine = this.options.codec.decode(staged.data);
    assert(stateMachine.lastAppliedIndex() === metadata.index, 'a snapshot holds the state at its own index');
    this.snapshotAbandoned = true; // a snapshot of our own being encoded would describe the old state
    // The snapshot is of a later index than anything committed here (the core adopts no other), so
    // it covers an entry being applied in parts and every entry queued behind it: stop applying them.
    assert(this.applyQueue.every((entry) => entry.index <= metadata.index), 'a leader\'s snapshot covers every entry waiting to apply');
    assert(this.applyingInParts === undefined || this.applyingInParts.entry.index <= metadata.index, 'a leader\'s snapshot covers the entry being applied');
    this.applyQueue.length = 0;
    this.applyQueueHead = 0;
    this.applyQueueNoted = 0;
    this.queuedSessionEnds.clear();
    await this.compaction?.catch(() => undefined);
    await this.options.storage.installSnapshot(metadata, staged.data);
    this.stateMachine = stateMachine;
    this.applyingInParts = undefined;
    for (const waiter of this.applyIdleWaiters.splice(0)) waiter.resolve();
    this.appliedIndex = metadata.index;
    this.handedOverIndex = metadata.index;
    this.appliedConfig = metadata.config;
    this.appliedConfigIndex = metadata.index;
    this.entriesSinceSnapshot = 0;
    this.bytesSinceSnapshot = 0;
    this.lastSnapshotBytes = staged.data.byteLength;
    // Waits and proposals of this member refer to entries the snapshot replaced: only a leader has
    // them, and a member installing a snapshot is a follower, so they were failed on step-down.
    if (this.softState.role === 'leader') this.leases.startAll(this.stateMachine.sessionTtls(), this.options.clock.monotonicMs());
    this.options.logger.info({ index: metadata.index, term: metadata.term, bytes: staged.data.byteLength }, 'installed snapshot from leader');
    this.fillLookupsWhileIdle();
    for (const listener of this.snapshotListeners) listener(metadata.index);
  }

  /**
   * Take a snapshot and compact the log once enough was applied since the last one — and at least
   * half the last snapshot's size in log bytes, so a large state (a million held locks) is not
   * re-encoded every few thousand entries: snapshot work stays proportional to the log it replaces.
   */
  private maybeSnapshot(): void {
    const policy = this.options.snapshotPolicy;
    const enough = (policy.everyEntries > 0 && this.entriesSinceSnapshot >= policy.everyEntries) || (policy.everyBytes > 0 && this.bytesSinceSnapshot >= policy.everyBytes);
    const due = enough && this.bytesSinceSnapshot >= this.lastSnapshotBytes * snapshotLogBytesPerSnapshotByte;
    // Not while entries wait to be applied: the snapshot would take turns from them (a restarted
    // member replaying its log tail would be ready seconds later); the last turn of the backlog
    // calls this again.
    if (due && this.compaction === undefined && this.snapshotPins === 0 && !this.applyResumeScheduled && this.applyingInParts === undefined) void this.snapshotNow().catch((error: unknown) => this.options.onFatal(error));
  }

  /** Snapshot the state machine at the applied index now; resolves once durable. */
  private snapshotNow(): Promise<void> {
    if (this.compaction !== undefined) return this.compaction.then(() => this.snapshotNow());
    // A snapshot holds the state after a whole entry, so not while one is applied in parts.
    if (this.applyingInParts !== undefined) return this.betweenEntries().then(() => this.snapshotNow());
    const index = this.appliedIndex;
    const storage = this.options.storage;
    if (index <= storage.snapshotMetadata().index) return Promise.resolve();
    const term = storage.term(index);
    assert(term !== undefined, 'the applied index is in the log');
    const metadata: SnapshotMetadata = { index, term, config: this.appliedConfig };
    const keepFrom = asLogIndex(Math.max(1, index - this.options.snapshotPolicy.trailingEntries + 1));
    this.entriesSinceSnapshot = 0;
    this.bytesSinceSnapshot = 0;
    const compaction = this.encodeAndCompact(metadata, keepFrom);
    this.compaction = compaction.finally(() => {
      if (this.compaction === tracked) this.compaction = undefined;
    });
    const tracked = this.compaction;
    return compaction;
  }

  /**
   * Encode the state machine a slice at a time — a few milliseconds between event-loop turns, so a
   * leader holding a million locks keeps heartbeating and serving while it snapshots — then compact.
   * A snapshot from the leader, or stop(), abandons it (the state it describes is being replaced).
   */
  private async encodeAndCompact(metadata: SnapshotMetadata, keepFrom: LogIndex): Promise<void> {
    const startedMs = this.options.clock.monotonicMs();
    const machine = this.stateMachine;
    const encoding = this.options.codec.beginEncode(machine);
    assert(encoding.index === metadata.index, 'the snapshot is of the applied index it is filed under');
    this.snapshotAbandoned = false;
    const clock = this.options.clock;
    for (let done = false; !done; ) {
      // A slice of a few milliseconds, then the event loop serves a turn: heartbeats and client
      // requests wait at most one slice, and the snapshot still gets most of an idle member.
      const sliceEndsAtMs = clock.monotonicMs() + snapshotSliceMs;
      do done = encoding.step(snapshotRecordsPerStep);
      while (!done && clock.monotonicMs() < sliceEndsAtMs);
      if (done) break;
      await new Promise((resolve) => setImmediate(resolve));
      if (this.stopped || this.snapshotAbandoned || this.stateMachine !== machine) {
        encoding.abort();
        return;
      }
    }
    const data = encoding.result();
    await this.options.storage.compact(metadata, data, keepFrom);
    const seconds = (this.options.clock.monotonicMs() - startedMs) / 1000;
    this.lastSnapshotBytes = data.byteLength;
    this.options.metrics.snapshotSeconds.observe(seconds);
    this.options.metrics.snapshotBytes.set(data.byteLength);
    this.options.logger.info({ index: metadata.index, bytes: data.byteLength, ms: Math.round(seconds * 1000) }, 'snapshot taken; log compacted');
  }

  /**
   * Tell the transport (and the metrics) about a new configuration. The address book is the union of
   * the configuration in force and the last committed one: a member being removed must still hear
   * our acknowledgement of its removal, or a leader removing itself could never commit it (it only
   * leaves the book once the change is applied, as in etcd-io/raft).
   */
  private publishConfig(): void {
    const config = this.node.configuration();
    // Called on every Ready; configurations change rarely and are replaced, never mutated.
    if (this.publishedFrom?.inForce === config && this.publishedFrom.applied === this.appliedConfig) return;
    this.publishedFrom = { inForce: config, applied: this.appliedConfig };
    const metrics = this.options.metrics;
    metrics.configMembers.set({ role: 'voter' }, config.members.filter((member) => member.role === 'voter').length);
    metrics.configMembers.set({ role: 'learner' }, config.members.filter((member) => member.role === 'learner').length);
    const peers = new Map<NodeId, string>();
    for (const member of [...this.appliedConfig.members, ...config.members]) {
      const address = member.address !== '' ? member.address : this.options.addresses.get(member.id);
      if (member.id !== this.options.nodeId && address !== undefined) peers.set(member.id, address);
    }
    const peersKey = [...peers].map(([id, address]) => `${id}=${address}`).sort().join(',');
    // A member missing from its own configuration is joining (or was removed): it keeps answering
    // whoever dials it, which is how the leader that adds it reaches it first.
    const known = peers.size > 0 || config.members.some((member) => member.id === this.options.nodeId);
    if (known && peersKey !== this.publishedPeersKey) {
      this.publishedPeersKey = peersKey;
      this.transport?.setPeers(peers);
    }
  }

  /**
   * Applies committed entries in order, a bounded amount of work per event-loop turn (applyQueued):
   * a member that releases a million locks, or applies a burst of expiries that release them
   * together, keeps heartbeating, voting and acknowledging keepalives meanwhile, instead of going
   * silent for seconds and costing the cluster an election. What does not fit in a turn waits in
   * applyQueue, in order; reads and snapshots wait for the applied index as always.
   */
  private applyEntries(entries: readonly LogEntry[]): void {
    if (entries.length === 0 && this.applyQueue.length === 0 && this.applyingInParts === undefined) return;
    for (const entry of entries) this.applyQueue.push(entry);
    const last = entries.at(-1);
    if (last !== undefined) this.handedOverIndex = last.index;
    if (this.applyResumeScheduled) this.noteQueuedSessionEnds();
    else this.applyQueued();
  }

  /** Decodes the queued entries not looked at yet and notes the sessions they end (see queuedSessionEnds). */
  private noteQueuedSessionEnds(): void {
    for (let position = Math.max(this.applyQueueNoted, this.applyQueueHead); position < this.applyQueue.length; position++) {
      const entry = this.applyQueue[position];
      if (entry?.kind !== 'command') continue;
      const ended = sessionEndedBy(decodeCommand(entry.data));
      if (ended !== undefined) this.queuedSessionEnds.set(entry.index, ended);
    }
    this.applyQueueNoted = this.applyQueue.length;
  }

  /** A session end is committed and not yet (wholly) applied. */
  private sessionEndQueued(sessionId: string): boolean {
    for (const ending of this.queuedSessionEnds.values()) if (ending === sessionId) return true;
    return false;
  }

  /**
   * Applies queued entries until none is left or this turn's share is spent: entries for up to
   * applySliceMs, and of an entry that ends a session holding many locks (applied in parts by the
   * state machine) one part per turn. The rest resumes on the next turn.
   */
  private applyQueued(): void {
    const clock = this.options.clock;
    const startedMs = clock.monotonicMs();
    const replaying = this.appliedIndex < this.replayThroughIndex;
    for (let partDone = false; !partDone && (replaying || clock.monotonicMs() - startedMs < applySliceMs); ) {
      const inParts = this.applyingInParts;
      if (inParts !== undefined) {
        partDone = true;
        const outcome = inParts.machine.continueApply(releasesPerApplyPart);
        if (outcome === undefined) break;
        this.applyingInParts = undefined;
        this.finishApplying(inParts.entry, inParts.command, outcome);
        this.options.logger.info({ index: inParts.entry.index, type: inParts.command.type }, 'applied the entry that released many locks');
        for (const waiter of this.applyIdleWaiters.splice(0)) waiter.resolve();
        continue;
      }
      const entry = this.applyQueue[this.applyQueueHead];
      if (entry === undefined) break;
      this.applyQueueHead++;
      this.entriesSinceSnapshot += 1;
      this.bytesSinceSnapshot += entrySizeBytes(entry);
      if (entry.kind === 'config') {
        this.applyConfigEntry(entry.index, entry.term, entry.config);
        continue;
      }
      const command: LockCommand = entry.kind === 'command' ? decodeCommand(entry.data) : { type: 'Noop' };
      const outcome = this.stateMachine.apply(entry.index, command, releasesPerApplyPart);
      if (outcome === undefined) {
        partDone = true;
        this.applyingInParts = { entry, command, machine: this.stateMachine };
        const ended = sessionEndedBy(command);
        if (ended !== undefined) this.queuedSessionEnds.set(entry.index, ended);
        this.options.logger.info({ index: entry.index, type: command.type }, 'applying an entry that releases many locks, in parts');
        continue;
      }
      this.finishApplying(entry, command, outcome);
    }
    if (this.applyQueueHead === this.applyQueue.length) {
      this.applyQueue.length = 0;
      this.applyQueueHead = 0;
      this.applyQueueNoted = 0;
    }
    this.options.metrics.applySeconds.observe((clock.monotonicMs() - startedMs) / 1000);
    if (this.applyingInParts === undefined && this.applyQueue.length === 0) return;
    this.noteQueuedSessionEnds();
    this.applyResumeScheduled = true;
    setImmediate(() => {
      this.applyResumeScheduled = false;
      if (this.stopped) return;
      try {
        this.applyQueued();
        this.afterApplying();
        this.scheduleReady();
      } catch (error) {
        this.options.onFatal(error); // as from the Ready loop: a broken invariant stops the member
      }
    });
  }

  /** An entry is applied: answer the proposal waiting on it and tell the listeners. */
  private finishApplying(entry: LogEntry, command: LockCommand, outcome: ApplyOutcome): void {
    this.appliedIndex = entry.index;
    if (this.queuedSessionEnds.size > 0) this.queuedSessionEnds.delete(entry.index);
    this.trackLeases(entry.index, command, outcome);
    const pending = this.pendingProposals.get(entry.index);
    if (pending) {
      this.pendingProposals.delete(entry.index);
      this.options.metrics.commitSeconds.observe((this.options.clock.monotonicMs() - pending.proposedAtMs) / 1000);
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

  /**
   * Runs `read` once the state machine is between entries, in the same turn as the check: what a
   * read or a watch snapshot sees is the state after some whole entry, never one half applied.
   */
  async readBetweenEntries<Value>(read: () => Value): Promise<Value> {
    while (this.applyingInParts !== undefined) await this.betweenEntries();
    return read();
  }

  /** Resolves once no entry is being applied in parts (the state machine is between entries). */
  private betweenEntries(): Promise<void> {
    if (this.applyingInParts === undefined) return Promise.resolve();
    return new Promise((resolve, reject) => this.applyIdleWaiters.push({ resolve, reject }));
  }

  /** A configuration entry is committed: it only moves the state machine's applied index. */
  private applyConfigEntry(index: LogIndex, term: number, config: ClusterConfig): void {
    this.stateMachine.apply(index, { type: 'Noop' });
    this.appliedIndex = index;
    this.appliedConfig = config;
    this.appliedConfigIndex = index;
    this.options.logger.info({ index, members: config.members }, 'configuration committed');
    const voterCount = config.members.filter((member) => member.role === 'voter').length;
    if (voterCount % 2 === 0) {
      this.options.logger.warn({ index, voters: voterCount }, `an even number of voters (${voterCount}) tolerates no more failures than ${voterCount - 1}; add or remove one`);
    }
    const pending = this.pendingConfigChanges.get(index);
    if (pending === undefined) return;
    this.pendingConfigChanges.delete(index);
    if (pending.term === term) pending.resolve();
    else pending.reject(this.notLeaderError());
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
    // A leader became known that is not the one known just before (etcd's leader_changes_seen): an
    // election counts once, and a lost connection to a leader that comes back (no leader named in
    // between) counts once too, not twice.
    if (next.leaderId !== '' && next.leaderId !== previous.leaderId) metrics.leaderChanges.inc();
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
    for (const pending of this.pendingConfigChanges.values()) pending.reject(error);
    this.pendingConfigChanges.clear();
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

  /**
   * Serve the reads whose index is known: a read once that index is applied here, a leadership
   * confirmation once every entry up to it was handed over (so a committed end of a session is
   * known to keepalive(): applied, or queued and noted in queuedSessionEnds). Called after a step
   * down failed every batch, so nothing is served by a member that no longer leads.
   */
  private serveAppliedReads(): void {
    for (const [context, batch] of this.readBatches) {
      if (batch.index === undefined) continue;
      if (batch.index <= this.handedOverIndex && batch.waiters.some((waiter) => !waiter.untilApplied)) {
        for (const waiter of batch.waiters) if (!waiter.untilApplied) waiter.resolve(batch.index);
        batch.waiters = batch.waiters.filter((waiter) => waiter.untilApplied);
      }
      if (batch.index > this.appliedIndex && batch.waiters.length > 0) continue;
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
      case 'ConfigChangeInProgress':
      case 'InvalidConfigChange':
      case 'LearnerNotCaughtUp':
      case 'WouldLoseQuorum':
        return new UnavailableError(`refused: ${reason}`);
    }
  }

  /** What the state gauges show when scraped. */
  private memberState(): MemberState {
    const storage = this.options.storage;
    const stats = this.stateMachine.stats();
    return {
      commitIndex: this.node.currentCommitIndex(),
      appliedIndex: this.appliedIndex,
      logEntries: storage.lastIndex() - storage.firstIndex() + 1,
      snapshotIndex: storage.snapshotMetadata().index,
      sessions: stats.sessions,
      locksHeld: stats.locksHeld,
      electionsLed: stats.elections,
      waiters: stats.waiters,
    };
  }
}

/** The session a command ends, if it is a CloseSession or an ExpireSession. */
function sessionEndedBy(command: LockCommand): string | undefined {
  return command.type === 'CloseSession' || command.type === 'ExpireSession' ? command.sessionId : undefined;
}
