// RaftNode: the pure, synchronous Raft consensus core (etcd-io/raft's RawNode shape).
//
// Inputs: tick() for logical time, step(message) for the network, propose(data), readIndex(context)
// and transferLeadership(to) for the application. Output: ready(), a batch of work for the driver
// (persist, send, apply), acknowledged with advance(ready) once handed over and persisted(ready) once
// durable — the write may still be in flight when the next Ready is taken (ready.ts). No I/O, clock, timer or
// ambient randomness: the same inputs always give the same outputs, which is what lets one seed
// replay a whole cluster in the simulation.
//
// Implements the Raft paper (Ongaro & Ousterhout 2014) and thesis (Ongaro 2014): leader election with
// randomised timeouts drawn from the injected Random (§5.2), PreVote (thesis §9.6), CheckQuorum and
// the leader lease that protects a healthy leader from disruptive candidates (thesis §6.2, §9.6), log
// replication with the consistency check and conflict-term backtracking (§5.3), commit of current-term
// entries only with a no-op on election (§5.4.2), ReadIndex confirmed by a heartbeat quorum
// (thesis §6.4), leadership transfer with TimeoutNow (thesis §3.10), flow control (probe /
// replicate with bounded in-flight appends), membership changes one server at a time through the log
// with non-voting learners (thesis §4), and InstallSnapshot for followers behind the compacted log
// (paper §7).
//
// Key invariants (asserted; they stay on in production):
//   - at most one vote per term, and it is persisted before any message that depends on it is sent:
//     only a leader's appends, heartbeats, snapshots and TimeoutNow of a term already durable may
//     leave before their Ready is on disk (thesis §10.2.1: the leader writes in parallel)
//   - the leader counts itself toward commit only for entries persisted() on its own disk
//   - a leader only ever appends to its own log, never truncates it
//   - the commit index never decreases and only advances by counting voters' replicas of a
//     current-term entry
//   - a member uses the latest configuration in its log, committed or not; at most one configuration
//     change is uncommitted, and a leader proposes one only after committing an entry of its term

import { assert, assertNever } from '../assert.js';
import { asLogIndex, asTerm, noNode, type LogIndex, type NodeId, type Term } from '../ids.js';
import {
  applyConfigChange,
  configChangeProblem,
  configsEqual,
  emptyConfig,
  isVoter,
  makeConfig,
  votersOf,
  type ClusterConfig,
  type ConfigChange,
} from './cluster-config.js';
import { hardStatesEqual, type HardState, type LogEntry, type SnapshotMetadata } from './log-entry.js';
import type {
  AppendEntries,
  AppendEntriesResponse,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  Message,
  RequestVote,
  RequestVoteResponse,
  TimeoutNow,
} from './messages.js';
import type { Logger, RaftStorage, Random } from './ports.js';
import { Progress } from './progress.js';
import { majorityMatchIndex, majoritySize, voteOutcome } from './quorum.js';
import { RaftLog } from './raft-log.js';
import type { ReadState, Ready, Role, SoftState } from './ready.js';

/** Logical timing, in ticks. Every election wait is drawn uniformly from [electionTimeoutTicks, 2×). */
export interface RaftTiming {
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
}

/** Bounds on everything that could otherwise grow without limit (STYLE §11). */
export interface RaftLimits {
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  readonly maxInflightAppends: number;
  /** Proposals appended but not yet committed; further proposals are refused until they commit. */
  readonly maxUncommittedEntries: number;
  readonly maxPendingReads: number;
  readonly maxBytesPerApply: number;
}

export const defaultRaftLimits: RaftLimits = {
  maxEntriesPerAppend: 256,
  maxBytesPerAppend: 1024 * 1024,
  maxInflightAppends: 64,
  maxUncommittedEntries: 8192,
  maxPendingReads: 4096,
  maxBytesPerApply: 4 * 1024 * 1024,
};

export interface RaftNodeOptions {
  readonly nodeId: NodeId;
  /**
   * The voting members to start with when storage holds no configuration yet (tests and the
   * simulation bootstrap this way; raftlockd stamps the configuration into storage instead). Empty for
   * a member that joins an existing cluster: it waits for a leader to add it.
   */
  readonly voters: readonly NodeId[];
  readonly storage: RaftStorage;
  readonly random: Random;
  readonly logger: Logger;
  readonly timing: RaftTiming;
  readonly limits: RaftLimits;
  /** Thesis §9.6: probe with a PreVote round before bumping the term. */
  readonly preVote: boolean;
  /** Thesis §6.2: a leader steps down when it stops hearing from a majority; followers honour its lease. */
  readonly checkQuorum: boolean;
  /**
   * Start with the election timer advanced to one tick short of the base timeout (etcd's
   * initial-election-tick-advance), so a cluster restarted as a whole elects within [1, T] ticks
   * instead of [T, 2T). Only with PreVote: a member restarted into a healthy cluster then merely
   * probes, and the leader's lease makes the others refuse.
   */
  readonly fastFirstElection?: boolean;
}

export type RefusalReason =
  | 'NotLeader'
  | 'LeadershipTransferInProgress'
  | 'TooManyPending'
  /** Another change is not committed yet, or this leader has not committed an entry of its term. */
  | 'ConfigChangeInProgress'
  | 'InvalidConfigChange'
  | 'LearnerNotCaughtUp'
  /** The voters of the new configuration that this leader hears from would not be a majority. */
  | 'WouldLoseQuorum';

export type ProposeResult =
  | { readonly accepted: true; readonly index: LogIndex; readonly term: Term }
  | { readonly accepted: false; readonly reason: RefusalReason; readonly leaderId: NodeId; readonly detail?: string };

/** A learner is caught up enough to be promoted when it trails the leader by at most this many entries. */
export const learnerCatchUpMarginEntries = 1024;
/** A snapshot not acknowledged within this many election timeouts is sent again. */
const snapshotTimeoutElectionTimeouts = 10;

export type ReadIndexResult = { readonly accepted: true } | { readonly accepted: false; readonly reason: RefusalReason; readonly leaderId: NodeId };

interface PendingRead {
  readonly requestContext: string;
  readonly index: LogIndex;
  readonly round: number;
}

export interface RaftStatus {
  readonly nodeId: NodeId;
  readonly role: Role;
  readonly term: Term;
  readonly leaderId: NodeId;
  readonly votedFor: NodeId;
  readonly commitIndex: LogIndex;
  readonly appliedIndex: LogIndex;
  readonly lastIndex: LogIndex;
  readonly leadTransferee: NodeId;
  readonly firstIndex: LogIndex;
  readonly config: ClusterConfig;
  readonly progress: ReadonlyMap<
    NodeId,
    { readonly matchIndex: LogIndex; readonly nextIndex: LogIndex; readonly state: string; readonly recentlyHeard: boolean }
  >;
}

interface ConfigEntry {
  readonly index: LogIndex;
  readonly term: Term;
  readonly config: ClusterConfig;
}

export class RaftNode {
  readonly nodeId: NodeId;
  private readonly random: Random;
  private readonly logger: Logger;
  private readonly timing: RaftTiming;
  private readonly limits: RaftLimits;
  private readonly preVoteEnabled: boolean;
  private readonly checkQuorumEnabled: boolean;
  private readonly log: RaftLog;

  // Membership (thesis §4.1): the configuration of the snapshot, then every config entry after it in
  // the log, committed or not. The last one is in force.
  private baseConfig: ClusterConfig;
  private configEntries: ConfigEntry[] = [];
  private config: ClusterConfig = emptyConfig;
  private voters: readonly NodeId[] = [];
  /** Every member but this one: who a leader replicates to. */
  private replicaIds: readonly NodeId[] = [];

  // Persistent state (Figure 2); written out through Ready.hardState.
  private currentTerm: Term;
  private votedFor: NodeId;

  // Volatile state.
  private role: Role = 'follower';
  private leaderId: NodeId = noNode;
  /**
   * A follower lost its connection to leaderId (peerDisconnected) and has not heard from a leader
   * since. leaderId stays set — it still means "a leader of this term exists", which is what keeps
   * this member from granting a real vote in the same term (§5.2, one leader per term) — but the
   * member no longer names that leader to anyone (softState, status, refusals): a client sent there
   * would only find a dead process, while "no leader known" lets the client API hold its answer
   * until the successor is known and then redirect straight to it.
   */
  private leaderUnreachable = false;
  private electionElapsedTicks = 0;
  private heartbeatElapsedTicks = 0;
  /** Ticks as leader of this term, for how recently each follower was heard from. */
  private leaderTicks = 0;
  private transferElapsedTicks = 0;
  private randomizedElectionTimeoutTicks = 0;
  private readonly votesReceived = new Map<NodeId, boolean>();
  private readonly progress = new Map<NodeId, Progress>();
  private leadTransferee: NodeId = noNode;
  private heartbeatRound = 0;
  private readonly heartbeatRoundAcked = new Map<NodeId, number>();
  private pendingReads: PendingRead[] = [];
  /** Reads that arrived before this leader committed its no-op; it cannot know the commit index yet. */
  private readsAwaitingFirstCommit: string[] = [];
  private readStates: ReadState[] = [];
  /** Messages that may leave only once everything handed out for persisting so far is durable. */
  private outbox: Message[] = [];
  /** A leader's messages that may leave while its own write is in flight (thesis §10.2.1). */
  private outboxNow: Message[] = [];

  // What the driver has (or is being handed) already; ready() reports only differences.
  private lastHardState: HardState;
  /** The hard state last reported durable (persisted()); a leader's early messages need its term on disk. */
  private durableHardState: HardState;
  private lastSoftState: SoftState;
  private readyInFlight: Ready | undefined;
  /** Readies handed out whose persistence the driver has not confirmed yet, oldest first. */
  private readonly readiesAwaitingPersist: Ready[] = [];

  constructor(options: RaftNodeOptions) {
    assert(new Set(options.voters).size === options.voters.length, 'voter ids are unique');
    assert(options.timing.heartbeatIntervalTicks >= 1, 'heartbeat interval is at least one tick');
    assert(options.timing.electionTimeoutTicks > options.timing.heartbeatIntervalTicks, 'election timeout exceeds heartbeat interval');
    assert(options.limits.maxEntriesPerAppend >= 1, 'an append may carry at least one entry');
    this.nodeId = options.nodeId;
    this.random = options.random;
    this.logger = options.logger;
    this.timing = options.timing;
    this.limits = options.limits;
    this.preVoteEnabled = options.preVote;
    this.checkQuorumEnabled = options.checkQuorum;

    const hardState = options.storage.initialHardState();
    this.log = new RaftLog(options.storage, hardState.commitIndex);
    this.currentTerm = hardState.term;
    this.votedFor = hardState.votedFor;
    this.lastHardState = hardState;
    this.durableHardState = hardState;
    const snapshot = options.storage.snapshotMetadata();
    this.baseConfig =
      snapshot.config.members.length > 0 ? snapshot.config : makeConfig(options.voters.map((id) => ({ id, address: '', role: 'voter' as const })));
    this.configEntries = this.readConfigEntries(options.storage, snapshot);
    this.refreshConfig();
    this.lastSoftState = this.softState();
    this.becomeFollower(this.currentTerm, noNode);
    if (options.fastFirstElection === true && options.preVote) this.electionElapsedTicks = this.timing.electionTimeoutTicks - 1;
  }

  /** Config entries in the log after the snapshot, read once at start (the log is bounded by compaction). */
  private readConfigEntries(storage: RaftStorage, snapshot: SnapshotMetadata): ConfigEntry[] {
    const found: ConfigEntry[] = [];
    if (storage.configEntries !== undefined) {
      for (const entry of storage.configEntries()) {
        if (entry.kind === 'config' && entry.index > snapshot.index) found.push({ index: entry.index, term: entry.term, config: entry.config });
      }
      return found;
    }
    let next = asLogIndex(snapshot.index + 1);
    const end = asLogIndex(storage.lastIndex() + 1);
    while (next < end) {
      const batch = storage.entries(next, end, this.limits.maxBytesPerApply);
      for (const entry of batch) if (entry.kind === 'config') found.push({ index: entry.index, term: entry.term, config: entry.config });
      next = asLogIndex(next + batch.length);
    }
    return found;
  }

  // ---------------------------------------------------------------------------------------------
  // Driving surface

  /** One unit of logical time. The driver calls it on a fixed interval (e.g. every 10 ms). */
  tick(): void {
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
    this.checkInvariants();
  }

  step(message: Message): void {
    assert(message.to === this.nodeId, 'messages are delivered to their addressee');
    assert(message.from !== this.nodeId, 'a node never messages itself');
    if (!this.stepTerm(message)) return;
    switch (message.type) {
      case 'RequestVote':
        this.handleRequestVote(message);
        break;
      case 'RequestVoteResponse':
        this.handleRequestVoteResponse(message);
        break;
      case 'AppendEntries':
        this.handleAppendEntries(message);
        break;
      case 'AppendEntriesResponse':
        this.handleAppendEntriesResponse(message);
        break;
      case 'Heartbeat':
        this.handleHeartbeat(message);
        break;
      case 'HeartbeatResponse':
        this.handleHeartbeatResponse(message);
        break;
      case 'TimeoutNow':
        this.handleTimeoutNow(message);
        break;
      case 'InstallSnapshot':
        this.handleInstallSnapshot(message);
        break;
      default:
        assertNever(message, 'unknown message type');
    }
    this.checkInvariants();
  }

  propose(data: Uint8Array): ProposeResult {
    const refusal = this.refuseUnlessLeader();
    if (refusal) return refusal;
    if (this.leadTransferee !== noNode) return { accepted: false, reason: 'LeadershipTransferInProgress', leaderId: this.nodeId };
    if (this.log.lastIndex() - this.log.commitIndex >= this.limits.maxUncommittedEntries) {
      return { accepted: false, reason: 'TooManyPending', leaderId: this.nodeId };
    }
    const index = asLogIndex(this.log.lastIndex() + 1);
    this.log.append([{ kind: 'command', index, term: this.currentTerm, data }]);
    this.broadcastAppend({ allowEmpty: false });
    this.checkInvariants();
    return { accepted: true, index, term: this.currentTerm };
  }

  /**
   * Propose one membership change (thesis §4.1, §4.3). Refused while another is uncommitted, before
   * this leader committed an entry of its own term (the single-server-change bug Ongaro described on
   * raft-dev in 2015: an earlier leader's uncommitted change could otherwise combine with this one
   * into two disjoint majorities), when the learner to promote is far behind, and when the voters of
   * the new configuration this leader can hear from would not make a majority of it.
   */
  proposeConfigChange(change: ConfigChange): ProposeResult {
    const refusal = this.refuseUnlessLeader();
    if (refusal) return refusal;
    const refuse = (reason: RefusalReason, detail: string): ProposeResult => ({ accepted: false, reason, leaderId: this.nodeId, detail });
    if (this.leadTransferee !== noNode) return refuse('LeadershipTransferInProgress', 'leadership is being transferred');
    if (!this.committedInCurrentTerm()) return refuse('ConfigChangeInProgress', 'this leader has not committed an entry of its term yet');
    const latest = this.configEntries.at(-1);
    if (latest !== undefined && latest.index > this.log.commitIndex) {
      return refuse('ConfigChangeInProgress', `the configuration change at index ${latest.index} is not committed yet`);
    }
    const problem = configChangeProblem(this.config, change);
    if (problem !== undefined) return refuse('InvalidConfigChange', problem);
    if (change.type === 'promote') {
      const behind = this.log.lastIndex() - this.progressOf(change.id).matchIndex;
      if (behind > learnerCatchUpMarginEntries) return refuse('LearnerNotCaughtUp', `${change.id} is ${behind} entries behind the leader`);
    }
    const next = applyConfigChange(this.config, change);
    const nextVoters = votersOf(next);
    const heard = nextVoters.filter((id) => id === this.nodeId || this.recentlyHeard(id)).length;
    if (heard < majoritySize(nextVoters.length)) {
      return refuse('WouldLoseQuorum', `only ${heard} of the ${nextVoters.length} voters after this change are reachable; a majority is ${majoritySize(nextVoters.length)}`);
    }
    if (this.log.lastIndex() - this.log.commitIndex >= this.limits.maxUncommittedEntries) return refuse('TooManyPending', 'too many uncommitted entries');
    const index = asLogIndex(this.log.lastIndex() + 1);
    this.log.append([{ kind: 'config', index, term: this.currentTerm, config: next }]);
    this.configEntries.push({ index, term: this.currentTerm, config: next });
    this.logger.info({ term: this.currentTerm, index, change }, 'configuration change proposed');
    this.refreshConfig();
    this.broadcastAppend({ allowEmpty: false });
    this.checkInvariants();
    return { accepted: true, index, term: this.currentTerm };
  }

  /**
   * The transport lost its connection to peerId (closed or reset: its process most likely died). A
   * follower that loses its leader's connection waits a fresh random [T/4, T/2) from now instead of
   * what is left of [T, 2T) since it last heard the leader, so a crashed leader is replaced several
   * times faster. The first of the followers to probe decides the failover: the earlier of two
   * uniform draws from [T/4, T) lies at 0.47 T at the median and at 0.93 T at the 99th percentile,
   * two to one; from [T/4, T/2), at 0.32 T and 0.48 T. A window of T/4 (75 ms at a 300 ms timeout)
   * is still hundreds of LAN round trips wide, so two followers rarely probe within a round trip of
   * each other; in a three-member cluster probes that do cross are settled without a split vote
   * (outranksCrossingProbe), with five they can still split it and cost a timeout. The window is at
   * least two ticks wide, so tiny timeouts still draw. Only with PreVote: a leader that is in fact
   * alive keeps its lease with the other followers, who refuse the probe, so a dropped connection
   * alone never raises a term or deposes anyone; if the leader is heard again, acceptLeader draws
   * the usual [T, 2T) once more.
   */
  peerDisconnected(peerId: NodeId): void {
    if (!this.preVoteEnabled || this.role !== 'follower' || peerId === noNode || this.leaderId !== peerId) return;
    const minimumWaitTicks = Math.max(1, Math.floor(this.timing.electionTimeoutTicks / 4));
    const maximumWaitTicks = Math.max(minimumWaitTicks + 2, Math.floor(this.timing.electionTimeoutTicks / 2));
    const waitTicks = minimumWaitTicks + this.random.nextInt(maximumWaitTicks - minimumWaitTicks);
    // The lease ends now: this follower no longer vouches for the lost leader, so it grants the
    // PreVote of another follower that lost it too (one that still hears the leader does not).
    this.electionElapsedTicks = Math.max(this.electionElapsedTicks, this.timing.electionTimeoutTicks);
    this.randomizedElectionTimeoutTicks = this.electionElapsedTicks + waitTicks;
    this.leaderUnreachable = true;
    assert(this.electionElapsedTicks < this.randomizedElectionTimeoutTicks, 'the follower still waits before it probes');
  }

  /** The configuration in force here: the latest in the log, committed or not. */
  configuration(): ClusterConfig {
    return this.config;
  }

  /** The transport could not deliver a snapshot to `to`: probe it again instead of waiting for the timeout. */
  reportSnapshotFailure(to: NodeId): void {
    const peer = this.progress.get(to);
    if (this.role !== 'leader' || peer?.state !== 'snapshot') return;
    peer.becomeProbe();
  }

  /**
   * Linearizable read (thesis §6.4): remember the commit index now, confirm we are still leader with a
   * heartbeat round acknowledged by a majority, then hand back a ReadState; the driver serves the read
   * once it has applied up to that index.
   */
  readIndex(requestContext: string): ReadIndexResult {
    const refusal = this.refuseUnlessLeader();
    if (refusal) return refusal;
    if (this.pendingReads.length + this.readsAwaitingFirstCommit.length >= this.limits.maxPendingReads) {
      return { accepted: false, reason: 'TooManyPending', leaderId: this.nodeId };
    }
    if (!this.committedInCurrentTerm()) {
      this.readsAwaitingFirstCommit.push(requestContext);
      return { accepted: true };
    }
    this.startReads([requestContext]);
    this.checkInvariants();
    return { accepted: true };
  }

  /** Thesis §3.10: bring `target` up to date, then tell it to campaign at once. */
  transferLeadership(target: NodeId): ReadIndexResult {
    const refusal = this.refuseUnlessLeader();
    if (refusal) return refusal;
    if (target === this.nodeId || !this.voters.includes(target)) return { accepted: true };
    if (this.leadTransferee === target) return { accepted: true };
    this.leadTransferee = target;
    // The transfer must finish within one election timeout or it is abandoned (tickLeader). It has
    // its own timer: resetting the CheckQuorum one would let repeated transfers keep a cut-off leader.
    this.transferElapsedTicks = 0;
    this.logger.info({ term: this.currentTerm, target }, 'leadership transfer started');
    const targetProgress = this.progressOf(target);
    if (targetProgress.matchIndex === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target, { allowEmpty: true });
    return { accepted: true };
  }

  hasReady(): boolean {
    if (this.readyInFlight !== undefined) return false;
    return (
      this.log.hasSnapshotToInstall() ||
      this.outbox.length > 0 ||
      this.outboxNow.length > 0 ||
      this.readStates.length > 0 ||
      this.log.hasEntriesToPersist() ||
      !hardStatesEqual(this.hardState(), this.lastHardState) ||
      this.softStateChanged() ||
      (this.log.commitIndex > this.log.appliedIndex && this.log.stableLastIndex() > this.log.appliedIndex)
    );
  }

  /**
   * Take the next batch of work. Only one Ready is handed over at a time (advance() before the next),
   * but its write may still be in flight: persisted() reports it durable, in the order handed out.
   */
  ready(): Ready {
    assert(this.readyInFlight === undefined, 'the previous Ready was advanced before the next is taken');
    const hardState = this.hardState();
    const softState = this.softState();
    const ready: Ready = {
      snapshot: this.log.takeSnapshotToInstall(),
      hardState: hardStatesEqual(hardState, this.lastHardState) ? undefined : hardState,
      entriesToPersist: this.log.takeEntriesToPersist(),
      messagesToSend: this.outbox,
      messagesToSendNow: this.outboxNow,
      entriesToApply: this.log.entriesToApply(this.limits.maxBytesPerApply),
      readStates: this.readStates,
      softState: this.softStateChanged() ? softState : undefined,
    };
    this.outbox = [];
    this.outboxNow = [];
    this.readStates = [];
    this.lastHardState = hardState;
    this.lastSoftState = softState;
    this.readyInFlight = ready;
    this.readiesAwaitingPersist.push(ready);
    return ready;
  }

  /** The driver has handed over everything in ready: sent what it may send now, applied entriesToApply. */
  advance(ready: Ready): void {
    assert(this.readyInFlight === ready, 'advance is given the Ready that ready() handed out');
    this.readyInFlight = undefined;
    const lastApplied = ready.entriesToApply.at(-1);
    // A snapshot restored meanwhile already moved the applied index past these entries.
    if (lastApplied && lastApplied.index > this.log.appliedIndex) this.log.appliedTo(lastApplied.index);
    this.checkInvariants();
  }

  /**
   * Everything ready asked to persist (snapshot, hard state, entries) is durable. Called once per
   * Ready, in the order they were handed out, before or after advance(ready).
   */
  persisted(ready: Ready): void {
    assert(this.readiesAwaitingPersist[0] === ready, 'Readies are reported durable once each, in order');
    this.readiesAwaitingPersist.shift();
    if (ready.snapshot) this.log.snapshotStable(ready.snapshot);
    if (ready.hardState) this.durableHardState = ready.hardState;
    const lastPersisted = ready.entriesToPersist.at(-1);
    if (lastPersisted) {
      this.log.stableTo(lastPersisted.index, lastPersisted.term);
      // The leader's own vote toward commit counts only entries on its own disk (thesis §10.2.1).
      if (this.role === 'leader') {
        this.progressOf(this.nodeId).acknowledge(this.log.stableLastIndex());
        if (this.maybeCommit()) this.afterCommit();
      }
    }
    this.checkInvariants();
  }

  status(): RaftStatus {
    const progress = new Map<NodeId, { matchIndex: LogIndex; nextIndex: LogIndex; state: string; recentlyHeard: boolean }>();
    for (const [peerId, peer] of this.progress) {
      progress.set(peerId, { matchIndex: peer.matchIndex, nextIndex: peer.nextIndex, state: peer.state, recentlyHeard: peerId === this.nodeId || this.recentlyHeard(peerId) });
    }
    return {
      nodeId: this.nodeId,
      role: this.role,
      term: this.currentTerm,
      leaderId: this.advertisedLeader(),
      votedFor: this.votedFor,
      commitIndex: this.log.commitIndex,
      appliedIndex: this.log.appliedIndex,
      lastIndex: this.log.lastIndex(),
      leadTransferee: this.leadTransferee,
      firstIndex: this.log.firstIndex(),
      config: this.config,
      progress,
    };
  }

  currentCommitIndex(): LogIndex {
    return this.log.commitIndex;
  }

  /** Term of the entry at index, for observers (the simulation's checkers). */
  termAt(index: LogIndex): Term | undefined {
    return this.log.term(index);
  }

  // ---------------------------------------------------------------------------------------------
  // Role changes: the only places that switch role (etcd-io/raft become*)

  private becomeFollower(term: Term, leaderId: NodeId): void {
    assert(term >= this.currentTerm, 'terms never go backwards');
    if (this.role === 'leader' && term === this.currentTerm) this.logger.info({ term }, 'leader stepping down');
    this.reset(term);
    this.role = 'follower';
    this.leaderId = leaderId;
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not campaign');
    // PreVote changes neither term nor vote: a member that cannot win leaves the cluster undisturbed.
    this.votesReceived.clear();
    this.role = 'preCandidate';
    this.leaderId = noNode;
    this.leaderUnreachable = false;
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader does not campaign');
    this.reset(asTerm(this.currentTerm + 1));
    this.votedFor = this.nodeId;
    this.role = 'candidate';
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', 'only a candidate becomes leader');
    assert(this.votedFor === this.nodeId, 'a leader voted for itself');
    this.reset(this.currentTerm);
    this.role = 'leader';
    this.leaderId = this.nodeId;
    const nextIndex = asLogIndex(this.log.lastIndex() + 1);
    this.progress.set(this.nodeId, new Progress(nextIndex, this.limits.maxInflightAppends));
    this.trackReplicas();
    this.progressOf(this.nodeId).acknowledge(this.log.stableLastIndex());
    this.progressOf(this.nodeId).becomeReplicate();
    // §5.4.2 / §8: a leader commits entries of older terms only by committing one of its own.
    this.log.append([{ kind: 'noop', index: nextIndex, term: this.currentTerm }]);
    this.logger.info({ term: this.currentTerm, lastIndex: this.log.lastIndex() }, 'became leader');
    this.broadcastAppend({ allowEmpty: true });
  }

  /** Raft §5.2: each wait for an election is drawn from [T, 2T), so members rarely time out together. */
  private drawElectionTimeout(): void {
    this.randomizedElectionTimeoutTicks = this.timing.electionTimeoutTicks + this.random.nextInt(this.timing.electionTimeoutTicks);
  }

  /** Shared by every role change that starts a new term or a new reign. */
  private reset(term: Term): void {
    if (term !== this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = noNode;
    }
    this.leaderId = noNode;
    this.leaderUnreachable = false;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.drawElectionTimeout();
    this.votesReceived.clear();
    this.progress.clear();
    this.leaderTicks = 0;
    this.leadTransferee = noNode;
    this.transferElapsedTicks = 0;
    this.heartbeatRoundAcked.clear();
    // Reads in flight cannot be confirmed by a different reign; the driver fails them on role change.
    this.pendingReads = [];
    this.readsAwaitingFirstCommit = [];
  }

  // ---------------------------------------------------------------------------------------------
  // Time

  private tickElection(): void {
    this.electionElapsedTicks++;
    // Only a member that may campaign starts counting again. One that may not (a learner, a removed
    // member, one whose snapshot is not on disk yet) keeps counting, so its lease on a leader it no
    // longer hears stays over and it answers vote requests: it may be a voter already without
    // knowing it (its promotion not yet in its log), and the others may need its vote to elect
    // anyone. Restarting the count made it honour the silent leader's lease again for a whole
    // timeout in every round, ignoring every vote request meanwhile (as etcd-io/raft, which
    // restarts the count only when promotable).
    if (this.electionElapsedTicks >= this.randomizedElectionTimeoutTicks && this.mayCampaign()) {
      this.electionElapsedTicks = 0;
      this.campaign(this.preVoteEnabled ? 'preVote' : 'election');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsedTicks++;
    this.electionElapsedTicks++;
    this.leaderTicks++;
    for (const [peerId, peer] of this.progress) {
      if (peer.state !== 'snapshot' || ++peer.snapshotElapsedTicks < snapshotTimeoutElectionTimeouts * this.timing.electionTimeoutTicks) continue;
      // The snapshot (or its acknowledgement) was lost: probe again, which sends a fresh one.
      this.logger.warn({ term: this.currentTerm, peer: peerId, snapshotIndex: peer.pendingSnapshotIndex }, 'snapshot not acknowledged in time; retrying');
      peer.becomeProbe();
    }
    if (this.leadTransferee !== noNode && ++this.transferElapsedTicks >= this.timing.electionTimeoutTicks) {
      this.logger.warn({ term: this.currentTerm, target: this.leadTransferee }, 'leadership transfer timed out');
      this.leadTransferee = noNode;
    }
    if (this.electionElapsedTicks >= this.timing.electionTimeoutTicks) {
      this.electionElapsedTicks = 0;
      if (this.checkQuorumEnabled && !this.quorumRecentlyActive()) {
        this.logger.warn({ term: this.currentTerm }, 'lost contact with a majority; stepping down');
        this.becomeFollower(this.currentTerm, noNode);
        return;
      }
    }
    if (this.heartbeatElapsedTicks >= this.timing.heartbeatIntervalTicks) {
      this.heartbeatElapsedTicks = 0;
      this.broadcastHeartbeat();
    }
    // Followers that have not been sent the latest commit index (afterCommit) get it now.
    for (const id of this.replicaIds) {
      if (this.progressOf(id).commitSent < this.log.commitIndex) this.sendAppend(id, { allowEmpty: true });
    }
  }

  private quorumRecentlyActive(): boolean {
    let activeCount = 0;
    for (const voter of this.voters) {
      const peer = this.progressOf(voter);
      if (voter === this.nodeId || peer.recentActive) activeCount++;
      if (voter !== this.nodeId) peer.recentActive = false;
    }
    return activeCount >= majoritySize(this.voters.length);
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  /**
   * `preVote` probes without changing state; `election` bumps the term and votes for itself;
   * `transfer` is an election on TimeoutNow that voters honour even inside a leader lease.
   */
  private campaign(kind: 'preVote' | 'election' | 'transfer'): void {
    if (!this.mayCampaign()) return;
    const preVote = kind === 'preVote';
    if (preVote) this.becomePreCandidate();
    else this.becomeCandidate();
    const campaignTerm = asTerm(preVote ? this.currentTerm + 1 : this.currentTerm);
    this.logger.info({ term: this.currentTerm, campaignTerm, kind }, 'starting election');
    for (const voter of this.voters) {
      if (voter === this.nodeId) continue;
      this.send({
        type: 'RequestVote',
        from: this.nodeId,
        to: voter,
        term: campaignTerm,
        preVote,
        leadershipTransfer: kind === 'transfer',
        lastLogIndex: this.log.lastIndex(),
        lastLogTerm: this.log.lastTerm(),
      });
    }
    // Our own vote. For a real election it is votedFor already, and it reaches disk in the same Ready
    // that carries the RequestVote messages, before they are sent. A single voter wins right here.
    this.recordVote(this.nodeId, true, preVote);
  }

  /** Learners and removed members never campaign; nor does a member whose snapshot is not on disk yet (it could not serve it to followers; etcd-io/raft). */
  private mayCampaign(): boolean {
    return this.voters.includes(this.nodeId) && this.log.pendingSnapshot() === undefined;
  }

  private recordVote(voter: NodeId, granted: boolean, preVote: boolean): void {
    if (!this.votesReceived.has(voter)) this.votesReceived.set(voter, granted);
    let grantedCount = 0;
    let rejectedCount = 0;
    for (const [id, vote] of this.votesReceived) {
      if (!this.voters.includes(id)) continue;
      if (vote) grantedCount++;
      else rejectedCount++;
    }
    const outcome = voteOutcome(this.voters.length, grantedCount, rejectedCount);
    if (outcome === 'won') {
      if (preVote) this.campaign('election');
      else this.becomeLeader();
    } else if (outcome === 'lost') {
      this.becomeFollower(this.currentTerm, noNode);
    }
  }

  private handleRequestVote(message: RequestVote): void {
    // stepTerm has already moved us to message.term for a real vote of a higher term; a PreVote never moves it.
    const canVote =
      this.votedFor === message.from ||
      (this.votedFor === noNode && this.leaderId === noNode && message.term === this.currentTerm) ||
      (message.preVote && message.term > this.currentTerm);
    const upToDate = this.log.isUpToDate(message.lastLogIndex, message.lastLogTerm);
    const voteGranted = canVote && upToDate && !(message.preVote && this.outranksCrossingProbe(message));
    if (voteGranted && !message.preVote) {
      assert(this.votedFor === noNode || this.votedFor === message.from, 'at most one vote per term');
      this.votedFor = message.from;
      this.electionElapsedTicks = 0; // granting a vote defers our own candidacy (§5.2)
    }
    if (voteGranted && message.preVote && this.role === 'follower') {
      // The member we just encouraged is about to ask for our real vote: probing ourselves before
      // that request arrives would make two candidates of one term and split the vote (each votes
      // for itself), costing a whole election timeout. A PreVote grant changes no state; this only
      // holds our own probe back for the round trip.
      const holdTicks = Math.max(2, Math.floor(this.timing.electionTimeoutTicks / 10));
      this.randomizedElectionTimeoutTicks = Math.max(this.randomizedElectionTimeoutTicks, this.electionElapsedTicks + holdTicks);
    }
    this.logger.debug({ term: this.currentTerm, candidate: message.from, preVote: message.preVote, voteGranted }, 'vote request');
    this.send({
      type: 'RequestVoteResponse',
      from: this.nodeId,
      to: message.from,
      // A granted PreVote answers in the candidate's prospective term so it is not discarded as stale.
      term: voteGranted && message.preVote ? message.term : this.currentTerm,
      preVote: message.preVote,
      voteGranted,
    });
  }

  /**
   * Two members whose probes cross (both pre-candidates at once) would each grant the other and then
   * split the real vote. A pre-candidate therefore yields only to a probe that is strictly more
   * up-to-date, or as up-to-date with a greater id: of two simultaneous probes exactly one is
   * encouraged. Always false when this member is not probing (the usual rules apply). Liveness is
   * kept: the best of the probing members is refused by none of the others.
   */
  private outranksCrossingProbe(message: RequestVote): boolean {
    if (this.role !== 'preCandidate') return false;
    const ourLastTerm = this.log.lastTerm();
    const ourLastIndex = this.log.lastIndex();
    if (message.lastLogTerm !== ourLastTerm) return message.lastLogTerm < ourLastTerm;
    if (message.lastLogIndex !== ourLastIndex) return message.lastLogIndex < ourLastIndex;
    return message.from < this.nodeId;
  }

  private handleRequestVoteResponse(message: RequestVoteResponse): void {
    if (message.preVote && this.role === 'preCandidate') this.recordVote(message.from, message.voteGranted, true);
    else if (!message.preVote && this.role === 'candidate') this.recordVote(message.from, message.voteGranted, false);
  }

  private handleTimeoutNow(message: TimeoutNow): void {
    if (this.role !== 'follower' || this.leaderId !== message.from) return;
    if (this.log.lastIndex() !== message.lastLogIndex) return; // stale: the leader has moved on
    this.logger.info({ term: this.currentTerm }, 'received TimeoutNow; campaigning for leadership transfer');
    this.campaign('transfer');
  }

  // ---------------------------------------------------------------------------------------------
  // Term rules common to every message (Figure 2 "Rules for Servers"; etcd-io/raft Step)

  /** Returns false when the message must be dropped. */
  private stepTerm(message: Message): boolean {
    if (message.term > this.currentTerm) {
      if (message.type === 'RequestVote') {
        // Leader lease (thesis §6.2 with CheckQuorum): while we hear from a live leader, a vote request
        // comes from a member that merely lost contact; ignoring it keeps it from deposing the leader.
        // PreVote alone implies the same check (thesis §9.6): a member that hears its leader does not
        // help anyone else campaign.
        const leaseEnabled = this.checkQuorumEnabled || this.preVoteEnabled;
        const inLease = leaseEnabled && this.leaderId !== noNode && this.electionElapsedTicks < this.timing.electionTimeoutTicks;
        if (inLease && !message.leadershipTransfer) return false;
        if (message.preVote) return true; // PreVote never changes our term
      }
      if (message.type === 'RequestVoteResponse' && message.preVote && message.voteGranted) return true;
      const fromLeader = message.type === 'AppendEntries' || message.type === 'Heartbeat' || message.type === 'InstallSnapshot';
      this.becomeFollower(message.term, fromLeader ? message.from : noNode);
      return true;
    }
    if (message.term < this.currentTerm) {
      if (message.type === 'AppendEntries' || message.type === 'Heartbeat' || message.type === 'InstallSnapshot') {
        // Tell a stale leader our term so it steps down; without PreVote's term bump being avoided
        // this also unsticks a member that raised its term while partitioned.
        this.send({
          type: 'AppendEntriesResponse',
          from: this.nodeId,
          to: message.from,
          term: this.currentTerm,
          success: false,
          matchIndex: asLogIndex(0),
          conflictTerm: undefined,
          conflictIndex: asLogIndex(0),
        });
      } else if (message.type === 'RequestVote' && message.preVote) {
        this.send({ type: 'RequestVoteResponse', from: this.nodeId, to: message.from, term: this.currentTerm, preVote: true, voteGranted: false });
      }
      return false;
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Replication, follower side

  private acceptLeader(leaderId: NodeId): void {
    if (this.role !== 'follower') this.becomeFollower(this.currentTerm, leaderId);
    assert(this.leaderId === noNode || this.leaderId === leaderId, 'one leader per term');
    this.leaderId = leaderId;
    // Hearing the leader makes moot a wait drawn because its connection closed (peerDisconnected),
    // or one a probe we encouraged pushed past 2T (a member that may not campaign keeps counting a
    // long silence, tickElection): wait the usual [T, 2T) from here, as after any other heartbeat.
    if (this.leaderUnreachable || this.randomizedElectionTimeoutTicks >= 2 * this.timing.electionTimeoutTicks) this.drawElectionTimeout();
    this.leaderUnreachable = false;
    this.electionElapsedTicks = 0;
  }

  private handleAppendEntries(message: AppendEntries): void {
    assert(this.role !== 'leader', 'two leaders in one term');
    this.acceptLeader(message.from);
    const reply = { type: 'AppendEntriesResponse', from: this.nodeId, to: message.from, term: this.currentTerm } as const;
    if (message.prevLogIndex < this.log.commitIndex) {
      // Everything up to our commit index already matches any leader of this term; tell it so.
      this.send({ ...reply, success: true, matchIndex: this.log.commitIndex, conflictTerm: undefined, conflictIndex: asLogIndex(0) });
      return;
    }
    if (!this.log.matchTerm(message.prevLogIndex, message.prevLogTerm)) {
      const ourLastIndex = this.log.lastIndex();
      const conflictTerm = message.prevLogIndex <= ourLastIndex ? this.log.term(message.prevLogIndex) : undefined;
      const conflictIndex = conflictTerm === undefined ? asLogIndex(ourLastIndex + 1) : this.log.firstIndexOfTermAt(message.prevLogIndex);
      this.send({ ...reply, success: false, matchIndex: message.prevLogIndex, conflictTerm, conflictIndex });
      return;
    }
    const lastNewIndex = this.log.appendFromLeader(message.prevLogIndex, message.entries);
    this.trackConfigEntries(message.entries);
    // Commit no further than the entries this message proved to match the leader's log.
    this.log.commitTo(asLogIndex(Math.min(message.leaderCommit, lastNewIndex)));
    this.send({ ...reply, success: true, matchIndex: lastNewIndex, conflictTerm: undefined, conflictIndex: asLogIndex(0) });
  }

  /** Paper §7, Figure 13; the snapshot's bytes are already staged by the transport. */
  private handleInstallSnapshot(message: InstallSnapshot): void {
    assert(this.role !== 'leader', 'two leaders in one term');
    this.acceptLeader(message.from);
    const snapshot = message.snapshot;
    const reply = { type: 'AppendEntriesResponse', from: this.nodeId, to: message.from, term: this.currentTerm, conflictTerm: undefined, conflictIndex: asLogIndex(0) } as const;
    if (snapshot.index <= this.log.commitIndex) {
      // Stale or duplicated: we already have everything it holds.
      this.send({ ...reply, success: true, matchIndex: this.log.commitIndex });
      return;
    }
    if (this.log.matchTerm(snapshot.index, snapshot.term)) {
      // We hold the entry it ends at, so our log matches the leader's up to there (Log Matching):
      // keep the entries after it and commit to it (Figure 13 step 6); the staged bytes are not needed.
      this.log.commitTo(snapshot.index);
      this.send({ ...reply, success: true, matchIndex: snapshot.index });
      return;
    }
    this.logger.info({ term: this.currentTerm, index: snapshot.index, snapshotTerm: snapshot.term }, 'installing snapshot from leader');
    this.log.restoreSnapshot(snapshot);
    this.baseConfig = snapshot.config;
    this.configEntries = [];
    this.refreshConfig();
    // Sent only after the Ready that carries the snapshot has made it durable.
    this.send({ ...reply, success: true, matchIndex: snapshot.index });
  }

  private handleHeartbeat(message: Heartbeat): void {
    assert(this.role !== 'leader', 'two leaders in one term');
    this.acceptLeader(message.from);
    // The leader caps leaderCommit at our matchIndex, so this never commits entries it did not confirm.
    this.log.commitTo(asLogIndex(Math.min(message.leaderCommit, this.log.lastIndex())));
    this.send({ type: 'HeartbeatResponse', from: this.nodeId, to: message.from, term: this.currentTerm, round: message.round });
  }

  // ---------------------------------------------------------------------------------------------
  // Replication, leader side

  private handleAppendEntriesResponse(message: AppendEntriesResponse): void {
    if (this.role !== 'leader') return;
    const peer = this.progress.get(message.from);
    if (!peer) return;
    this.heard(peer);
    if (!message.success) {
      this.handleRejectedAppend(peer, message);
      return;
    }
    const advanced = peer.acknowledge(message.matchIndex);
    // A success reply in probe means the logs match up to matchIndex: start pipelining from there.
    // In snapshot state only the reply to the snapshot (or to something later) ends the wait.
    if (peer.state === 'probe' && message.matchIndex >= peer.matchIndex) peer.becomeReplicate();
    if (peer.state === 'snapshot' && peer.matchIndex >= peer.pendingSnapshotIndex) peer.becomeReplicate();
    if (advanced && this.maybeCommit()) this.afterCommit();
    else this.sendAppend(message.from, { allowEmpty: false });
    if (message.from === this.leadTransferee && peer.matchIndex === this.log.lastIndex()) this.sendTimeoutNow(message.from);
  }

  private handleRejectedAppend(peer: Progress, message: AppendEntriesResponse): void {
    // A rejection of an index at or below what the follower already matched is a stale reply; so is
    // any rejection while a snapshot is outstanding (it answers an append sent before it).
    if (message.matchIndex <= peer.matchIndex || peer.state === 'snapshot') return;
    if (peer.state === 'probe' && message.matchIndex !== peer.nextIndex - 1) return; // not our current probe
    let nextIndex = message.conflictIndex;
    if (message.conflictTerm !== undefined) {
      const lastOfTerm = this.log.lastIndexOfTerm(message.conflictTerm, message.matchIndex);
      if (lastOfTerm !== undefined) nextIndex = asLogIndex(lastOfTerm + 1);
    }
    // Never jump forward past the rejected index, never back over matched entries.
    nextIndex = asLogIndex(Math.max(peer.matchIndex + 1, Math.min(nextIndex, message.matchIndex)));
    peer.becomeProbeAt(nextIndex);
    this.sendAppend(message.from, { allowEmpty: true });
  }

  private handleHeartbeatResponse(message: HeartbeatResponse): void {
    if (this.role !== 'leader') return;
    const peer = this.progress.get(message.from);
    if (!peer) return;
    this.heard(peer);
    // A heartbeat reply unpauses a probe whose append was lost, and frees a pipeline slot so that an
    // append lost in replicate state is found out: the next append is rejected and we probe back.
    peer.probeSent = false;
    if (peer.state === 'replicate' && peer.isPaused()) peer.freeFirstInflight();
    if (peer.matchIndex < this.log.lastIndex()) this.sendAppend(message.from, { allowEmpty: true });
    const acked = this.heartbeatRoundAcked.get(message.from) ?? 0;
    if (message.round > acked) {
      this.heartbeatRoundAcked.set(message.from, message.round);
      this.releaseConfirmedReads();
    }
  }

  /** allowEmpty: send even with no new entries (to probe, or to carry a new commit index). */
  private sendAppend(to: NodeId, options: { readonly allowEmpty: boolean }): void {
    const peer = this.progressOf(to);
    if (peer.isPaused()) return;
    if (!options.allowEmpty && peer.nextIndex > this.log.lastIndex()) return;
    const prevLogIndex = asLogIndex(peer.nextIndex - 1);
    const prevLogTerm = this.log.term(prevLogIndex);
    if (prevLogTerm === undefined) {
      // The entries this follower needs were compacted away: it gets the snapshot instead (paper §7).
      assert(prevLogIndex < this.log.firstIndex(), 'only a compacted entry has no term in the leader log');
      this.sendSnapshot(to, peer);
      return;
    }
    const high = asLogIndex(Math.min(this.log.lastIndex() + 1, peer.nextIndex + this.limits.maxEntriesPerAppend));
    const entries = this.log.slice(peer.nextIndex, high, this.limits.maxBytesPerAppend);
    const lastIndex = asLogIndex(prevLogIndex + entries.length);
    this.send({
      type: 'AppendEntries',
      from: this.nodeId,
      to,
      term: this.currentTerm,
      prevLogIndex,
      prevLogTerm,
      entries,
      leaderCommit: this.log.commitIndex,
    });
    peer.sentAppend(lastIndex, entries.length);
    peer.commitSent = this.log.commitIndex;
    // A follower that matches gets the pipeline filled, not one batch per round trip.
    if (peer.state === 'replicate' && entries.length > 0 && !peer.isPaused() && peer.nextIndex <= this.log.lastIndex()) {
      this.sendAppend(to, { allowEmpty: false });
    }
  }

  private sendSnapshot(to: NodeId, peer: Progress): void {
    const snapshot = this.log.snapshotMetadata();
    assert(snapshot.index >= peer.nextIndex - 1, 'the snapshot covers the entries the follower is missing');
    this.logger.info({ term: this.currentTerm, peer: to, index: snapshot.index }, 'sending snapshot');
    this.send({ type: 'InstallSnapshot', from: this.nodeId, to, term: this.currentTerm, snapshot });
    peer.becomeSnapshot(snapshot.index);
  }

  /** Learners are replicated to like voters; they just do not count toward any majority. */
  private broadcastAppend(options: { readonly allowEmpty: boolean }): void {
    for (const id of this.replicaIds) this.sendAppend(id, options);
  }

  private broadcastHeartbeat(): number {
    const round = ++this.heartbeatRound;
    for (const id of this.replicaIds) {
      const leaderCommit = asLogIndex(Math.min(this.progressOf(id).matchIndex, this.log.commitIndex));
      this.send({ type: 'Heartbeat', from: this.nodeId, to: id, term: this.currentTerm, leaderCommit, round });
    }
    return round;
  }

  /**
   * A new commit index: new entries carry it to the followers at once; a follower with nothing new
   * hears of it at the next tick (tickLeader), so a burst of commits costs one message per follower
   * per tick instead of one each — followers' applied state lags by at most a tick, which nothing
   * waits on (clients are answered by the leader). Then leave if this leader was removed by what committed.
   */
  private afterCommit(): void {
    this.broadcastAppend({ allowEmpty: false });
    const latest = this.configEntries.at(-1);
    if (isVoter(this.config, this.nodeId) || latest === undefined || latest.index > this.log.commitIndex) return;
    // Thesis §4.2.2: a leader removed from the configuration steps down once the change commits. It
    // hands over to the most up-to-date voter first so the cluster does not wait out an election timeout.
    let successor: NodeId | undefined;
    for (const id of this.voters) if (this.progressOf(id).matchIndex === this.log.lastIndex()) successor ??= id;
    this.logger.info({ term: this.currentTerm, successor }, 'removed from the configuration; stepping down');
    if (successor !== undefined) this.sendTimeoutNow(successor);
    this.becomeFollower(this.currentTerm, noNode);
  }

  /** Advance the commit index to what a majority has matched, if that entry is from our term. */
  private maybeCommit(): boolean {
    const matchIndexes = this.voters.map((voter) => this.progressOf(voter).matchIndex);
    const candidate = majorityMatchIndex(matchIndexes);
    if (candidate <= this.log.commitIndex) return false;
    // Figure 8: counting replicas is only safe for an entry of the current term.
    if (this.log.term(candidate) !== this.currentTerm) return false;
    const wasCommittedInTerm = this.committedInCurrentTerm();
    this.log.commitTo(candidate);
    if (!wasCommittedInTerm && this.readsAwaitingFirstCommit.length > 0) {
      const waiting = this.readsAwaitingFirstCommit;
      this.readsAwaitingFirstCommit = [];
      this.startReads(waiting);
    }
    return true;
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.commitIndex) === this.currentTerm;
  }

  // ---------------------------------------------------------------------------------------------
  // ReadIndex

  /** Reads started together share one heartbeat round (the driver batches client reads the same way). */
  private startReads(requestContexts: readonly string[]): void {
    assert(this.committedInCurrentTerm(), 'a read index is taken only once the leader committed in its term');
    const aloneInCluster = this.voters.length === 1 && this.voters[0] === this.nodeId && this.replicaIds.length === 0;
    const round = aloneInCluster ? this.heartbeatRound : this.broadcastHeartbeat();
    for (const requestContext of requestContexts) this.pendingReads.push({ requestContext, index: this.log.commitIndex, round });
    this.releaseConfirmedReads();
  }

  private releaseConfirmedReads(): void {
    const needed = majoritySize(this.voters.length);
    while (this.pendingReads.length > 0) {
      const read = this.pendingReads[0];
      assert(read !== undefined, 'non-empty queue has a head');
      let confirmations = isVoter(this.config, this.nodeId) ? 1 : 0; // ourselves
      for (const [id, round] of this.heartbeatRoundAcked) if (round >= read.round && isVoter(this.config, id)) confirmations++;
      if (confirmations < needed) return;
      this.pendingReads.shift();
      this.readStates.push({ requestContext: read.requestContext, index: read.index });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private refuseUnlessLeader(): { accepted: false; reason: RefusalReason; leaderId: NodeId } | undefined {
    return this.role === 'leader' ? undefined : { accepted: false, reason: 'NotLeader', leaderId: this.advertisedLeader() };
  }

  private progressOf(id: NodeId): Progress {
    const peer = this.progress.get(id);
    assert(peer !== undefined, 'the leader tracks progress for every member');
    return peer;
  }

  private heard(peer: Progress): void {
    peer.recentActive = true;
    peer.lastHeardAtTick = this.leaderTicks;
  }

  /** Heard from within the last election timeout (a member just added gets the benefit of the doubt). */
  private recentlyHeard(id: NodeId): boolean {
    const peer = this.progress.get(id);
    return peer !== undefined && this.leaderTicks - peer.lastHeardAtTick <= this.timing.electionTimeoutTicks;
  }

  // ---------------------------------------------------------------------------------------------
  // Membership

  /** Follower side: config entries just accepted from the leader take effect now; truncated ones are undone. */
  private trackConfigEntries(entries: readonly LogEntry[]): void {
    const before = this.configEntries.length;
    // Entries replaced by a truncation no longer hold their term at their index. Committed ones are
    // never truncated (and may be compacted away, so their term is no longer known): they stay.
    this.configEntries = this.configEntries.filter((entry) => entry.index <= this.log.commitIndex || this.log.term(entry.index) === entry.term);
    let changed = this.configEntries.length !== before;
    for (const entry of entries) {
      if (entry.kind !== 'config' || this.configEntries.some((known) => known.index === entry.index)) continue;
      if (this.log.term(entry.index) !== entry.term) continue;
      this.configEntries.push({ index: entry.index, term: entry.term, config: entry.config });
      changed = true;
    }
    if (changed) {
      this.configEntries.sort((left, right) => left.index - right.index);
      this.refreshConfig();
    }
  }

  private refreshConfig(): void {
    // Only the latest committed entry and the uncommitted ones can still matter.
    const lastCommitted = this.configEntries.findLastIndex((entry) => entry.index <= this.log.commitIndex);
    if (lastCommitted > 0) {
      const latestCommitted = this.configEntries[lastCommitted];
      assert(latestCommitted !== undefined, 'index found in the list');
      this.baseConfig = latestCommitted.config;
      this.configEntries = this.configEntries.slice(lastCommitted);
    }
    const next = this.configEntries.at(-1)?.config ?? this.baseConfig;
    if (configsEqual(next, this.config)) return;
    this.config = next;
    this.voters = votersOf(next);
    this.replicaIds = next.members.map((member) => member.id).filter((id) => id !== this.nodeId);
    this.logger.info({ term: this.currentTerm, members: next.members }, 'configuration in force');
    if (this.role === 'leader') this.trackReplicas();
  }

  /** Leader: a Progress for every member of the configuration (and itself), none for anyone else. */
  private trackReplicas(): void {
    const nextIndex = asLogIndex(this.log.lastIndex() + 1);
    for (const id of this.replicaIds) {
      if (this.progress.has(id)) continue;
      const peer = new Progress(nextIndex, this.limits.maxInflightAppends);
      peer.recentActive = true; // give every follower a full election timeout to answer
      peer.lastHeardAtTick = this.leaderTicks;
      this.progress.set(id, peer);
    }
    for (const id of [...this.progress.keys()]) {
      if (id === this.nodeId || this.replicaIds.includes(id)) continue;
      this.progress.delete(id);
      this.heartbeatRoundAcked.delete(id);
    }
  }

  private sendTimeoutNow(target: NodeId): void {
    this.send({ type: 'TimeoutNow', from: this.nodeId, to: target, term: this.currentTerm, lastLogIndex: this.log.lastIndex() });
  }

  private send(message: Message): void {
    // A leader's appends, heartbeats, snapshots and TimeoutNow claim nothing about this member's disk
    // beyond its term, which it persisted before asking for the votes that made it leader — unless
    // it won alone, in the very Ready that persists its vote (a single voter): then they wait too.
    const leaderMessage = message.type === 'AppendEntries' || message.type === 'Heartbeat' || message.type === 'InstallSnapshot' || message.type === 'TimeoutNow';
    if (leaderMessage && this.role === 'leader' && this.durableHardState.term === this.currentTerm) this.outboxNow.push(message);
    else this.outbox.push(message);
  }

  private hardState(): HardState {
    return { term: this.currentTerm, votedFor: this.votedFor, commitIndex: this.log.commitIndex };
  }

  /** Role, leader and term right now (cheap; status() is the full picture). */
  softState(): SoftState {
    return { role: this.role, leaderId: this.advertisedLeader(), term: this.currentTerm };
  }

  /** The leader this member names to others: none while its connection to the leader is lost. */
  private advertisedLeader(): NodeId {
    return this.leaderUnreachable ? noNode : this.leaderId;
  }

  private softStateChanged(): boolean {
    const current = this.softState();
    return current.role !== this.lastSoftState.role || current.leaderId !== this.lastSoftState.leaderId || current.term !== this.lastSoftState.term;
  }

  private checkInvariants(): void {
    assert(this.log.commitIndex <= this.log.lastIndex(), 'commit index within the log');
    assert(this.log.appliedIndex <= this.log.commitIndex, 'applied index never passes commit index');
    assert(this.role !== 'leader' || this.leaderId === this.nodeId, 'a leader knows itself as leader');
    assert(this.role !== 'candidate' || this.votedFor === this.nodeId, 'a candidate voted for itself');
    assert(this.role === 'leader' || this.progress.size === 0, 'only a leader tracks progress');
    assert(!this.leaderUnreachable || (this.role === 'follower' && this.leaderId !== noNode), 'only a follower of a known leader loses it');
  }
}
