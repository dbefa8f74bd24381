// Simulation: a whole raftlock cluster in one process, on a virtual clock and a faulty network, all
// decided by one seed (TigerBeetle's VOPR, FoundationDB's simulator). The real RaftNode runs
// unchanged; only its ports are simulated: MemoryStorage for the disk, an event queue for the clock
// and the network, SeededRandom for every random choice.
//
// A run has two phases. The safety phase injects faults — message loss, duplication, delay and
// reordering, symmetric and one-way partitions, crashes that lose everything not yet persisted,
// leadership transfers, membership changes (new members join as learners, are promoted, any member
// is removed and its disk thrown away), snapshots with log compaction and InstallSnapshot — while
// clients propose and read; the checkers watch every event. The
// liveness phase heals everything and requires that a new proposal commits on every member within a
// bound. A failure prints its seed; `pnpm sim --seed N` replays it exactly.

import {
  AssertionError,
  asLogIndex,
  asNodeId,
  defaultRaftLimits,
  makeConfig,
  MemoryStorage,
  RaftNode,
  SeededRandom,
  silentLogger,
  votersOf,
  type ClusterConfig,
  type ConfigChange,
  type HardState,
  type Message,
  type NodeId,
  type Ready,
  type Role,
} from '@raftlock/server/testing';
import { ClusterChecker, type Violation } from './checkers.js';
import { EventQueue } from './event-queue.js';
import type { SimulationOptions } from './swarm.js';

type SimEvent =
  | { readonly kind: 'tick'; readonly nodeId: NodeId }
  | { readonly kind: 'deliver'; readonly message: Message; readonly snapshotData: Uint8Array | undefined }
  | { readonly kind: 'takeReady'; readonly nodeId: NodeId; readonly incarnation: number }
  | { readonly kind: 'readyPersisted'; readonly nodeId: NodeId; readonly incarnation: number }
  | { readonly kind: 'propose' }
  | { readonly kind: 'read' }
  | { readonly kind: 'partition' }
  | { readonly kind: 'oneWayCut' }
  | { readonly kind: 'healLinks'; readonly links: readonly string[] }
  | { readonly kind: 'crash' }
  | { readonly kind: 'restart'; readonly nodeId: NodeId }
  | { readonly kind: 'peerDisconnected'; readonly nodeId: NodeId; readonly peerId: NodeId }
  | { readonly kind: 'transfer' }
  | { readonly kind: 'membershipChange' }
  | { readonly kind: 'startLivenessPhase' }
  | { readonly kind: 'proposeLivenessMarker' }
  | { readonly kind: 'settled' };

interface Member {
  readonly id: NodeId;
  node: RaftNode | undefined;
  readonly storage: MemoryStorage;
  /** Removed from the cluster by a committed change: stopped for good, its disk thrown away. */
  removed: boolean;
  /** Some member applied a configuration that includes it (so leaving one later means removal). */
  everInConfig: boolean;
  /** Snapshot bytes the "transport" has staged for the core, by snapshot index. */
  readonly stagedSnapshots: Map<number, Uint8Array>;
  /** The state machine's configuration: the latest config entry applied (or restored). */
  appliedConfig: ClusterConfig;
  /** What this member's state machine has applied (the core's count runs ahead while a snapshot installs). */
  appliedIndex: number;
  /** Highest commit index this member was checked against the commit quorum for, as leader. */
  checkedCommitIndex: number;
  /** Bumped on every crash, so events scheduled for an earlier life are ignored. */
  incarnation: number;
  readyScheduled: boolean;
  /**
   * Readies handed over whose write is in flight, oldest first; a crash loses them all. A Ready
   * with a snapshot is handled whole when its write lands (the real driver waits for it too).
   */
  readonly writesInFlight: { readonly ready: Ready; readonly durableAtMs: number }[];
  /**
   * A landed hard state that only moved the commit index: like LmdbStorage, it is not synced on its
   * own but written with the next landed write that writes anything, and a crash loses it.
   */
  unsyncedHardState: HardState | undefined;
  role: Role;
  term: number;
  /** Proposals this member accepted as leader: index → (term, key); acknowledged once applied here. */
  readonly pendingProposals: Map<number, { readonly term: number; readonly key: string }>;
  /** Reads accepted: context → the highest acknowledged index when the read began. */
  readonly pendingReads: Map<string, number>;
  appliedKeys: Set<string>;
}

/**
 * The simulated state machine's snapshot: the hash chain of the history it applied. Its keys are
 * that history's command keys; they are read back from the cluster-wide record of what was applied
 * at each index (identical everywhere, which the chain hash proves), so a snapshot stays a few bytes
 * instead of re-encoding every key on each compaction.
 */
interface SimSnapshot {
  readonly chain: number;
}

export interface SimulationStats {
  messagesSent: number;
  messagesDropped: number;
  messagesDuplicated: number;
  partitions: number;
  oneWayCuts: number;
  crashes: number;
  transfers: number;
  proposalsAccepted: number;
  proposalsAcknowledged: number;
  readsReleased: number;
  leadersElected: number;
  entriesApplied: number;
  configChangesProposed: number;
  configChangesCommitted: number;
  membersRemoved: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  diskStalls: number;
  /** Lost-connection hints delivered (a crash, or a partition that resets connections). */
  disconnectHints: number;
}

export interface SimulationResult {
  readonly seed: number;
  readonly options: SimulationOptions;
  readonly violations: readonly Violation[];
  readonly stats: SimulationStats;
  readonly endMs: number;
  /** Virtual time from healing every fault to a new proposal applied on every member. */
  readonly recoveryMs: number | undefined;
  /** The last events before the end, for reading a failure. */
  readonly trace: readonly string[];
}

const traceLength = 400;
const livenessMarkerEveryMs = 100;
const settleCheckEveryMs = 50;
const crashAfterVoteProbability = 0.3;
/** Proposal backpressure in the simulation: a small bound keeps the backlog a healed cluster must drain short. */
const maxUncommittedEntries = 256;
const maxEvents = 5_000_000;
/** Membership changes keep the voters within these bounds (removals below the minimum are skipped). */
const minVoters = 3;
const maxVotersAbove = 2;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export class Simulation {
  private readonly random: SeededRandom;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly checker = new ClusterChecker();
  private readonly members = new Map<NodeId, Member>();
  /** Every member ever started, in order (removed ones stay, marked removed; ids are never reused). */
  private readonly ids: NodeId[] = [];
  private nextMemberNumber: number;
  /** The configuration of the highest-index config entry applied anywhere (committed). */
  private committedConfig: ClusterConfig;
  private committedConfigIndex = 0;
  /** Directed links currently cut, with how many faults cut each. */
  private readonly cutLinks = new Map<string, number>();
  private nowMs = 0;
  private faultsActive = true;
  private dropRate: number;
  private duplicateRate: number;
  private jitterMs: number;
  private leaderGuess: NodeId;
  private proposalCounter = 0;
  private readCounter = 0;
  private highestAcknowledgedIndex = 0;
  private readonly acknowledgedKeys = new Set<string>();
  /** The command key applied at each index (the first member to apply it records it). */
  private readonly keyAtIndex: (string | undefined)[] = [];
  private livenessStartMs: number | undefined;
  /** Markers proposed after healing; liveness holds once every member applied one of them. */
  private readonly livenessKeys = new Set<string>();
  private recoveryMs: number | undefined;
  private settled = false;
  private readonly trace: string[] = [];
  readonly stats: SimulationStats = {
    messagesSent: 0,
    messagesDropped: 0,
    messagesDuplicated: 0,
    partitions: 0,
    oneWayCuts: 0,
    crashes: 0,
    transfers: 0,
    proposalsAccepted: 0,
    proposalsAcknowledged: 0,
    readsReleased: 0,
    leadersElected: 0,
    entriesApplied: 0,
    configChangesProposed: 0,
    configChangesCommitted: 0,
    membersRemoved: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    diskStalls: 0,
    disconnectHints: 0,
  };

  constructor(private readonly options: SimulationOptions, private readonly traceAll = false) {
    this.random = new SeededRandom(options.seed);
    this.dropRate = options.faults.dropRate;
    this.duplicateRate = options.faults.duplicateRate;
    this.jitterMs = options.faults.jitterMs;
    const bootstrapIds = Array.from({ length: options.nodeCount }, (_, position) => asNodeId(`n${position + 1}`));
    this.nextMemberNumber = options.nodeCount + 1;
    this.leaderGuess = bootstrapIds[0] as NodeId;
    // The bootstrap configuration is stamped into every initial member's storage, as raftlockd does.
    this.committedConfig = makeConfig(bootstrapIds.map((id) => ({ id, address: `${id}:7070`, role: 'voter' as const })));
    for (const id of bootstrapIds) this.addMember(id, new MemoryStorage(this.committedConfig));
  }

  private addMember(id: NodeId, storage: MemoryStorage): Member {
    const member: Member = {
      id,
      node: undefined,
      storage,
      removed: false,
      everInConfig: storage.snapshotMetadata().config.members.some((known) => known.id === id),
      stagedSnapshots: new Map(),
      appliedConfig: storage.snapshotMetadata().config,
      appliedIndex: 0,
      checkedCommitIndex: 0,
      incarnation: 0,
      readyScheduled: false,
      writesInFlight: [],
      unsyncedHardState: undefined,
      role: 'follower',
      term: 0,
      pendingProposals: new Map(),
      pendingReads: new Map(),
      appliedKeys: new Set(),
    };
    this.members.set(id, member);
    this.ids.push(id);
    this.startMember(member);
    this.queue.push(this.nowMs + this.random.nextInt(this.options.tickIntervalMs), { kind: 'tick', nodeId: id });
    return member;
  }

  /** Members not removed: the ones faults, clients and checks deal with. */
  private liveIds(): NodeId[] {
    return this.ids.filter((id) => !this.member(id).removed);
  }

  /** The members of the latest committed configuration: every one must end up with every acknowledged entry. */
  private configMemberIds(): NodeId[] {
    return this.committedConfig.members.map((member) => member.id);
  }

  run(): SimulationResult {
    const { faults } = this.options;
    this.scheduleIn(this.options.proposeEveryMs, { kind: 'propose' });
    this.scheduleIn(this.options.readEveryMs, { kind: 'read' });
    if (faults.partitionEveryMs > 0) this.scheduleIn(faults.partitionEveryMs, { kind: 'partition' });
    if (faults.oneWayCutEveryMs > 0) this.scheduleIn(faults.oneWayCutEveryMs, { kind: 'oneWayCut' });
    if (faults.crashEveryMs > 0) this.scheduleIn(faults.crashEveryMs, { kind: 'crash' });
    if (faults.transferEveryMs > 0) this.scheduleIn(faults.transferEveryMs, { kind: 'transfer' });
    if (faults.membershipChangeEveryMs > 0) this.scheduleIn(faults.membershipChangeEveryMs, { kind: 'membershipChange' });
    this.queue.push(this.options.safetyPhaseMs, { kind: 'startLivenessPhase' });
    const deadlineMs = this.options.safetyPhaseMs + this.options.livenessBoundMs;

    for (let processed = 0; processed < maxEvents; processed++) {
      const next = this.queue.pop();
      if (!next) break;
      if (next.timeMs > deadlineMs) break;
      this.nowMs = next.timeMs;
      this.checker.setTime(this.nowMs);
      try {
        this.handle(next.event);
      } catch (error) {
        if (!(error instanceof AssertionError)) throw error;
        this.checker.violations.push({ atMs: this.nowMs, rule: 'Core assertion', detail: error.message });
      }
      if (this.checker.violations.length > 0 || this.settled) break;
    }
    if (this.checker.violations.length === 0 && this.recoveryMs === undefined) {
      this.checker.onLiveness(`no new proposal committed on every member within ${this.options.livenessBoundMs} ms of healing: ${this.describeMembers()}`);
    } else if (this.checker.violations.length === 0 && !this.settled) {
      this.checker.onLiveness(`acknowledged entries up to index ${this.highestAcknowledgedIndex} did not reach every member within ${this.options.livenessBoundMs} ms of healing: ${this.describeMembers()}`);
    }
    if (this.checker.violations.length === 0) this.checkDurability();
    this.stats.leadersElected = this.checker.counters.leadersElected;
    this.stats.entriesApplied = this.checker.counters.entriesApplied;
    return {
      seed: this.options.seed,
      options: this.options,
      violations: this.checker.violations,
      stats: this.stats,
      endMs: this.nowMs,
      recoveryMs: this.recoveryMs,
      trace: this.trace,
    };
  }

  // ---------------------------------------------------------------------------------------------

  private handle(event: SimEvent): void {
    switch (event.kind) {
      case 'tick':
        return this.onTick(event.nodeId);
      case 'deliver':
        return this.onDeliver(event.message, event.snapshotData);
      case 'takeReady':
        return this.onTakeReady(event.nodeId, event.incarnation);
      case 'readyPersisted':
        return this.onReadyPersisted(event.nodeId, event.incarnation);
      case 'propose':
        return this.onPropose();
      case 'read':
        return this.onRead();
      case 'partition':
        return this.onPartition();
      case 'oneWayCut':
        return this.onOneWayCut();
      case 'healLinks':
        return this.healLinks(event.links);
      case 'crash':
        return this.onCrash();
      case 'restart':
        return this.onRestart(event.nodeId);
      case 'peerDisconnected':
        return this.onPeerDisconnected(event.nodeId, event.peerId);
      case 'transfer':
        return this.onTransfer();
      case 'membershipChange':
        return this.onMembershipChange();
      case 'startLivenessPhase':
        return this.onStartLivenessPhase();
      case 'proposeLivenessMarker':
        return this.onProposeLivenessMarker();
      case 'settled':
        if (this.configMemberIds().every((id) => (this.member(id).node?.status().appliedIndex ?? 0) >= this.highestAcknowledgedIndex)) this.settled = true;
        else this.queue.push(this.nowMs + settleCheckEveryMs, { kind: 'settled' });
        return;
    }
  }

  private onTick(nodeId: NodeId): void {
    const member = this.member(nodeId);
    if (member.removed) return;
    this.queue.push(this.nowMs + this.options.tickIntervalMs, { kind: 'tick', nodeId });
    if (!member.node) return;
    member.node.tick();
    this.afterActivity(member);
  }

  private onDeliver(message: Message, snapshotData: Uint8Array | undefined): void {
    const member = this.members.get(message.to);
    if (!member?.node || this.isCut(message.from, message.to)) {
      this.stats.messagesDropped++;
      return;
    }
    this.record(`deliver ${describeMessage(message)}`);
    // The transport stages the snapshot's bytes before the core sees the message (as the real one does).
    if (message.type === 'InstallSnapshot' && snapshotData !== undefined) member.stagedSnapshots.set(message.snapshot.index, snapshotData);
    member.node.step(message);
    this.afterActivity(member);
  }

  /**
   * The driver takes a Ready (raft-driver.ts does the same): a leader's messages leave at once,
   * committed entries are applied, the Ready is advanced, and its write lands a little later — in
   * order, after every earlier write — while steps and further Readies go on meanwhile.
   */
  private onTakeReady(nodeId: NodeId, incarnation: number): void {
    const member = this.member(nodeId);
    member.readyScheduled = false;
    if (!member.node || member.incarnation !== incarnation) return;
    if (!member.node.hasReady()) return;
    const ready = member.node.ready();
    const lastDurableAtMs = member.writesInFlight.at(-1)?.durableAtMs ?? this.nowMs;
    let fsyncMs = this.random.nextInt(this.options.faults.persistDelayMaxMs + 1);
    // Only seeds with disk stalls draw here: the others keep their random sequence.
    const { persistStallRate, persistStallMaxMs } = this.options.faults;
    if (this.faultsActive && persistStallRate > 0 && this.random.chance(persistStallRate)) {
      fsyncMs = this.random.between(1, persistStallMaxMs);
      this.stats.diskStalls++;
      this.record(`disk stall ${nodeId}: write lands in ${fsyncMs} ms`);
    }
    const durableAtMs = Math.max(lastDurableAtMs, this.nowMs + fsyncMs);
    member.writesInFlight.push({ ready, durableAtMs });
    this.queue.push(durableAtMs, { kind: 'readyPersisted', nodeId, incarnation });
    if (ready.snapshot) return; // handed over whole once the snapshot and everything before it is durable
    for (const message of ready.messagesToSendNow) this.send(message);
    this.applyReady(member, ready);
    if (!member.node) return; // the entries just applied removed this member from the cluster
    member.node.advance(ready);
    this.maybeCompact(member);
    this.afterActivity(member);
  }

  /** The oldest write in flight is on disk: now the messages that vouch for it may leave. */
  private onReadyPersisted(nodeId: NodeId, incarnation: number): void {
    const member = this.member(nodeId);
    if (!member.node || member.incarnation !== incarnation) return;
    const write = member.writesInFlight.shift();
    if (!write) throw new AssertionError(`invariant violated: ${nodeId} has a write in flight for each readyPersisted event`);
    const ready = write.ready;
    if (ready.snapshot) this.installSnapshot(member, ready);
    member.storage.persist(this.hardStateToSync(member, ready), ready.entriesToPersist);
    this.checker.onPersist(nodeId, ready.entriesToPersist);
    member.node.persisted(ready);
    if (ready.snapshot) for (const message of ready.messagesToSendNow) this.send(message);
    for (const message of ready.messagesToSend) this.send(message);
    if (this.shouldCrashAfterVote(ready)) {
      // BUGGIFY (FoundationDB): crash right after a vote leaves, where a vote that was not durable
      // would be forgotten and cast again in the same term.
      this.record(`crash ${nodeId} right after voting`);
      this.stats.crashes++;
      this.crashMember(member);
      this.queue.push(this.nowMs + this.random.between(1, 30), { kind: 'restart', nodeId });
      return;
    }
    if (ready.snapshot) {
      this.applyReady(member, ready);
      if (!member.node) return;
      member.node.advance(ready);
    }
    this.maybeCompact(member);
    this.afterActivity(member);
  }

  /** The hard state a landed write syncs (LmdbStorage.persist): none when only the commit index moved. */
  private hardStateToSync(member: Member, ready: Ready): HardState | undefined {
    const previous = member.unsyncedHardState ?? member.storage.initialHardState();
    const next = ready.hardState ?? member.unsyncedHardState;
    const onlyCommitMoved = next !== undefined && next.term === previous.term && next.votedFor === previous.votedFor;
    if (ready.snapshot === undefined && ready.entriesToPersist.length === 0 && onlyCommitMoved) {
      member.unsyncedHardState = next;
      return undefined;
    }
    member.unsyncedHardState = undefined;
    return next;
  }

  /** Apply a Ready's committed entries and release its confirmed reads. */
  private applyReady(member: Member, ready: Ready): void {
    for (const entry of ready.entriesToApply) {
      this.checker.onApply(member.id, entry);
      member.appliedIndex = entry.index;
      if (entry.kind === 'config') this.onConfigApplied(member, entry.index, entry.config);
      if (entry.kind !== 'command') continue;
      const key = textDecoder.decode(entry.data);
      member.appliedKeys.add(key);
      this.keyAtIndex[entry.index] ??= key;
      const pending = member.pendingProposals.get(entry.index);
      if (pending) {
        member.pendingProposals.delete(entry.index);
        if (pending.term === entry.term && pending.key === key) this.acknowledge(key, entry.index);
      }
      if (this.recoveryMs === undefined && this.livenessKeys.has(key) && this.configMemberIds().every((id) => this.member(id).appliedKeys.has(key))) {
        this.recoveryMs = this.nowMs - (this.livenessStartMs ?? this.nowMs);
        // Let every acknowledged entry reach every member before the durability check (a slow
        // follower may still be catching up one entry per round trip).
        this.queue.push(this.nowMs, { kind: 'settled' });
      }
    }
    if (!member.node) return; // the entries just applied removed this member from the cluster
    for (const readState of ready.readStates) {
      const minimumIndex = member.pendingReads.get(readState.requestContext);
      if (minimumIndex === undefined) continue;
      member.pendingReads.delete(readState.requestContext);
      this.stats.readsReleased++;
      this.checker.onReadState(member.id, readState.index, minimumIndex);
    }
  }

  /** Ready.snapshot: the staged bytes become this member's snapshot and state machine. */
  private installSnapshot(member: Member, ready: Ready): void {
    const metadata = ready.snapshot;
    if (!metadata) return;
    const data = member.stagedSnapshots.get(metadata.index);
    if (data === undefined) throw new AssertionError(`invariant violated: ${member.id} installs snapshot ${metadata.index} whose bytes were staged`);
    // Like the driver, keep the bytes of a newer snapshot the core adopted while this one was in flight.
    for (const index of [...member.stagedSnapshots.keys()]) if (index <= metadata.index) member.stagedSnapshots.delete(index);
    member.storage.installSnapshot(metadata, data);
    this.stats.snapshotsInstalled++;
    this.record(`${member.id} installed snapshot ${metadata.index}/${metadata.term}`);
    this.checker.onSnapshotInstalled(member.id, metadata.index, metadata.term);
    this.restoreStateMachine(member);
  }

  /** The state machine restarts from the member's snapshot (after a restart, or an InstallSnapshot). */
  private restoreStateMachine(member: Member): void {
    const { metadata, data } = member.storage.storedSnapshot();
    member.appliedConfig = metadata.config;
    member.appliedIndex = metadata.index;
    if (metadata.index === 0) {
      member.appliedKeys = new Set();
      return;
    }
    const snapshot = JSON.parse(textDecoder.decode(data)) as SimSnapshot;
    member.appliedKeys = new Set();
    for (let index = 1; index <= metadata.index; index++) {
      const key = this.keyAtIndex[index];
      if (key !== undefined) member.appliedKeys.add(key);
    }
    this.checker.onRestoreSnapshot(member.id, metadata.index, metadata.term, snapshot.chain);
  }

  /** Like raftlockd: snapshot the applied state every N entries, keeping a trailing window of log. */
  private maybeCompact(member: Member): void {
    const { everyEntries, trailingEntries } = this.options.snapshots;
    const node = member.node;
    if (everyEntries === 0 || !node) return;
    const appliedIndex = asLogIndex(member.appliedIndex);
    const snapshotIndex = member.storage.snapshotMetadata().index;
    // Only what is applied here and on this member's disk with a commit index that covers it (the
    // hard state that committed it may still be in flight: the next landed write carries it).
    if (appliedIndex - snapshotIndex < everyEntries || appliedIndex > member.storage.lastIndex()) return;
    if (appliedIndex > member.storage.initialHardState().commitIndex) return;
    const term = member.storage.term(appliedIndex);
    if (term === undefined) throw new AssertionError(`invariant violated: ${member.id} has a term for its applied index ${appliedIndex}`);
    const chain = this.checker.appliedChainOfMember(member.id);
    const data = textEncoder.encode(JSON.stringify({ chain } satisfies SimSnapshot));
    member.storage.compact({ index: appliedIndex, term, config: member.appliedConfig }, data, asLogIndex(Math.max(1, appliedIndex - trailingEntries + 1)));
    this.stats.snapshotsTaken++;
  }

  /** A config entry applied (so committed): members it leaves out were removed; stop them for good. */
  private onConfigApplied(member: Member, index: number, config: ClusterConfig): void {
    member.appliedConfig = config;
    if (index <= this.committedConfigIndex) return;
    this.committedConfigIndex = index;
    this.committedConfig = config;
    this.stats.configChangesCommitted++;
    for (const known of config.members) this.member(known.id).everInConfig = true;
    for (const id of this.liveIds()) {
      const other = this.member(id);
      if (!other.everInConfig || config.members.some((known) => known.id === id)) continue;
      this.record(`${id} removed by the configuration at index ${index}; stopped and its disk discarded`);
      this.stats.membersRemoved++;
      this.crashMember(other);
      other.removed = true;
    }
  }

  private shouldCrashAfterVote(ready: Ready): boolean {
    if (!this.faultsActive || this.options.faults.crashEveryMs === 0) return false;
    const votedNow = ready.messagesToSend.some((message) => message.type === 'RequestVoteResponse' && message.voteGranted && !message.preVote);
    return votedNow && this.random.chance(crashAfterVoteProbability);
  }

  private acknowledge(key: string, index: number): void {
    this.stats.proposalsAcknowledged++;
    this.acknowledgedKeys.add(key);
    this.highestAcknowledgedIndex = Math.max(this.highestAcknowledgedIndex, index);
  }

  /** After any input to a node: observe role and commit changes, and schedule its next Ready. */
  private afterActivity(member: Member): void {
    const node = member.node;
    if (!node) return;
    const softState = node.softState();
    if (softState.role === 'leader' && (member.role !== 'leader' || member.term !== softState.term)) {
      this.record(`${member.id} became leader of term ${softState.term}`);
      this.checker.onBecameLeader(member.id, softState.term, (index) => node.termAt(asLogIndex(index)));
      this.leaderGuess = member.id;
    }
    member.role = softState.role;
    member.term = softState.term;
    const commitIndex = node.currentCommitIndex();
    this.checker.onCommitIndex(member.id, commitIndex);
    if (softState.role === 'leader' && commitIndex > member.checkedCommitIndex) {
      member.checkedCommitIndex = commitIndex;
      const term = node.termAt(commitIndex);
      if (term !== undefined && term === softState.term) this.checker.onLeaderCommit(member.id, commitIndex, term, votersOf(node.configuration()));
    }
    if (!member.readyScheduled && node.hasReady()) {
      member.readyScheduled = true;
      this.queue.push(this.nowMs, { kind: 'takeReady', nodeId: member.id, incarnation: member.incarnation });
    }
  }

  private send(message: Message): void {
    this.stats.messagesSent++;
    const { faults } = this.options;
    if (this.isCut(message.from, message.to) || this.random.chance(this.dropRate)) {
      this.stats.messagesDropped++;
      return;
    }
    // The sender's transport streams the snapshot it has on disk now beside the message. It may be
    // newer than the one the core named (the member compacted again meanwhile): it covers more.
    let snapshotData: Uint8Array | undefined;
    if (message.type === 'InstallSnapshot') {
      const stored = this.member(message.from).storage.storedSnapshot();
      if (stored.metadata.index < message.snapshot.index) throw new AssertionError(`invariant violated: ${message.from} has the snapshot its core named`);
      snapshotData = stored.data;
      message = { ...message, snapshot: stored.metadata };
    }
    const delayMs = () => faults.baseDelayMs + this.random.nextInt(Math.max(1, this.jitterMs));
    this.queue.push(this.nowMs + delayMs(), { kind: 'deliver', message, snapshotData });
    if (this.random.chance(this.duplicateRate)) {
      this.stats.messagesDuplicated++;
      this.queue.push(this.nowMs + delayMs(), { kind: 'deliver', message, snapshotData });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  private onPropose(): void {
    if (this.livenessStartMs !== undefined) return; // after healing, only liveness markers are proposed
    this.scheduleIn(this.options.proposeEveryMs, { kind: 'propose' });
    this.proposeToLeaderGuess(`p${++this.proposalCounter}`);
  }

  private onProposeLivenessMarker(): void {
    if (this.recoveryMs !== undefined) return;
    this.queue.push(this.nowMs + livenessMarkerEveryMs, { kind: 'proposeLivenessMarker' });
    const key = `m${++this.proposalCounter}`;
    if (this.proposeToLeaderGuess(key)) this.livenessKeys.add(key);
  }

  /** A client's proposal: to the member it believes leads, following NotLeader hints. */
  private proposeToLeaderGuess(key: string): boolean {
    const member = this.member(this.leaderGuess);
    if (!member.node) {
      this.leaderGuess = this.random.pick(this.liveIds());
      return false;
    }
    const result = member.node.propose(new TextEncoder().encode(key));
    if (result.accepted) {
      this.stats.proposalsAccepted++;
      member.pendingProposals.set(result.index, { term: result.term, key });
    } else {
      this.leaderGuess = result.leaderId !== '' && !this.member(result.leaderId).removed ? result.leaderId : this.random.pick(this.liveIds());
    }
    this.afterActivity(member);
    return result.accepted;
  }

  private onRead(): void {
    this.scheduleIn(this.options.readEveryMs, { kind: 'read' });
    const member = this.member(this.leaderGuess);
    if (!member.node) return;
    const context = `r${++this.readCounter}`;
    const result = member.node.readIndex(context);
    if (result.accepted) member.pendingReads.set(context, this.highestAcknowledgedIndex);
    this.afterActivity(member);
  }

  // ---------------------------------------------------------------------------------------------
  // Faults

  private onPartition(): void {
    if (!this.faultsActive) return;
    this.scheduleIn(this.options.faults.partitionEveryMs, { kind: 'partition' });
    const ids = this.liveIds();
    const shuffled = ids.map((id) => ({ id, key: this.random.nextFloat() })).sort((a, b) => a.key - b.key);
    const minoritySize = 1 + this.random.nextInt(Math.floor(ids.length / 2));
    const minority = new Set(shuffled.slice(0, minoritySize).map((entry) => entry.id));
    const links: string[] = [];
    for (const from of ids) for (const to of ids) if (from !== to && minority.has(from) !== minority.has(to)) links.push(`${from}->${to}`);
    this.stats.partitions++;
    this.record(`partition ${[...minority].join(',')} | rest`);
    this.cut(links, this.random.between(100, 3000));
    // Some partitions reset the connections they cut (a proxy or firewall that sends RST): both
    // sides hear of it, though every member is alive — the hint must not disturb a live leader.
    if (this.random.chance(0.5)) {
      for (const link of links) {
        const [from, to] = link.split('->') as [NodeId, NodeId];
        this.queue.push(this.nowMs + this.random.between(1, 5), { kind: 'peerDisconnected', nodeId: to, peerId: from });
      }
    }
  }

  private onOneWayCut(): void {
    if (!this.faultsActive) return;
    this.scheduleIn(this.options.faults.oneWayCutEveryMs, { kind: 'oneWayCut' });
    const ids = this.liveIds();
    const from = this.random.pick(ids);
    const to = this.random.pick(ids.filter((id) => id !== from));
    this.stats.oneWayCuts++;
    this.record(`one-way cut ${from}->${to}`);
    this.cut([`${from}->${to}`], this.random.between(100, 3000));
  }

  private cut(links: readonly string[], durationMs: number): void {
    for (const link of links) this.cutLinks.set(link, (this.cutLinks.get(link) ?? 0) + 1);
    this.queue.push(this.nowMs + durationMs, { kind: 'healLinks', links });
  }

  private healLinks(links: readonly string[]): void {
    for (const link of links) {
      const count = (this.cutLinks.get(link) ?? 0) - 1;
      if (count > 0) this.cutLinks.set(link, count);
      else this.cutLinks.delete(link);
    }
  }

  private isCut(from: NodeId, to: NodeId): boolean {
    return this.cutLinks.has(`${from}->${to}`);
  }

  private onCrash(): void {
    if (!this.faultsActive) return;
    this.scheduleIn(this.options.faults.crashEveryMs, { kind: 'crash' });
    const running = this.liveIds().filter((id) => this.member(id).node !== undefined);
    if (running.length === 0) return;
    const member = this.member(this.random.pick(running));
    this.stats.crashes++;
    this.record(`crash ${member.id}${member.writesInFlight.length > 0 ? ` (losing ${member.writesInFlight.length} unpersisted Readies)` : ''}`);
    this.crashMember(member);
    this.queue.push(this.nowMs + this.random.between(50, 2500), { kind: 'restart', nodeId: member.id });
  }

  private crashMember(member: Member): void {
    // Its connections close with it: the others hear of it unless the link is cut (no FIN gets through).
    for (const id of this.liveIds()) {
      if (id !== member.id && !this.isCut(member.id, id)) this.queue.push(this.nowMs + this.random.between(1, 5), { kind: 'peerDisconnected', nodeId: id, peerId: member.id });
    }
    member.node = undefined;
    member.incarnation++;
    member.writesInFlight.length = 0;
    member.unsyncedHardState = undefined;
    member.readyScheduled = false;
    member.pendingProposals.clear();
    member.pendingReads.clear();
    member.role = 'follower';
  }

  private onPeerDisconnected(nodeId: NodeId, peerId: NodeId): void {
    const member = this.member(nodeId);
    if (!member.node) return;
    this.stats.disconnectHints++;
    member.node.peerDisconnected(peerId);
    this.afterActivity(member);
  }

  private onRestart(nodeId: NodeId): void {
    const member = this.member(nodeId);
    if (member.node || member.removed) return;
    this.record(`restart ${nodeId}`);
    this.startMember(member);
  }

  private startMember(member: Member): void {
    this.checker.onRestart(member.id);
    member.stagedSnapshots.clear();
    this.restoreStateMachine(member);
    member.node = new RaftNode({
      nodeId: member.id,
      voters: [], // the configuration comes from storage: bootstrapped, or empty for a member that joins
      storage: member.storage,
      random: this.random.fork(),
      logger: silentLogger,
      timing: { electionTimeoutTicks: this.options.electionTimeoutTicks, heartbeatIntervalTicks: this.options.heartbeatIntervalTicks },
      limits: { ...defaultRaftLimits, maxUncommittedEntries, maxInflightAppends: this.options.maxInflightAppends, maxEntriesPerAppend: this.options.maxEntriesPerAppend },
      preVote: this.options.preVote,
      checkQuorum: this.options.checkQuorum,
      fastFirstElection: true,
    });
    member.role = 'follower';
    member.term = member.node.softState().term;
  }

  private onTransfer(): void {
    if (!this.faultsActive) return;
    this.scheduleIn(this.options.faults.transferEveryMs, { kind: 'transfer' });
    const leader = this.currentLeader();
    if (!leader?.node) return;
    const target = this.random.pick(this.liveIds().filter((id) => id !== leader.id));
    this.stats.transfers++;
    this.record(`transfer leadership ${leader.id} -> ${target}`);
    leader.node.transferLeadership(target);
    this.afterActivity(leader);
  }

  private currentLeader(): Member | undefined {
    return this.liveIds()
      .map((id) => this.member(id))
      .find((member) => member.role === 'leader' && member.node);
  }

  /**
   * One membership change through the leader, as an operator would make it: promote a learner, add a
   * brand-new member (it starts empty and joins), or remove a member — any of them, the leader too.
   * The core refuses what is unsafe (another change pending, learner behind, quorum at risk).
   */
  private onMembershipChange(): void {
    if (!this.faultsActive) return;
    this.scheduleIn(this.options.faults.membershipChangeEveryMs, { kind: 'membershipChange' });
    const leader = this.currentLeader();
    if (!leader?.node) return;
    const config = leader.node.configuration();
    const voters = votersOf(config);
    const learner = config.members.find((member) => member.role === 'learner');
    const maxVoters = this.options.nodeCount + maxVotersAbove;
    let change: ConfigChange;
    if (learner && this.random.chance(0.8)) {
      change = { type: 'promote', id: learner.id };
    } else if (!learner && voters.length < maxVoters && this.random.chance(0.5)) {
      const id = asNodeId(`n${this.nextMemberNumber++}`);
      this.record(`start ${id} empty, to join`);
      this.addMember(id, new MemoryStorage());
      change = { type: 'addLearner', id, address: `${id}:7070` };
    } else {
      const candidates = config.members.filter((member) => member.role === 'learner' || voters.length > minVoters).map((member) => member.id);
      if (candidates.length === 0) return;
      change = { type: 'remove', id: this.random.pick(candidates) };
    }
    const result = leader.node.proposeConfigChange(change);
    this.record(`${leader.id} proposes ${change.type} ${change.id}: ${result.accepted ? `index ${result.index}` : `refused (${result.reason})`}`);
    if (result.accepted) this.stats.configChangesProposed++;
    this.afterActivity(leader);
  }

  private onStartLivenessPhase(): void {
    this.record('liveness phase: healing every fault');
    this.faultsActive = false;
    this.cutLinks.clear();
    this.dropRate = 0;
    this.duplicateRate = 0;
    this.jitterMs = 1; // a healthy network delivers each link in order
    this.livenessStartMs = this.nowMs;
    for (const id of this.liveIds()) this.onRestart(id);
    this.queue.push(this.nowMs, { kind: 'proposeLivenessMarker' });
  }

  private checkDurability(): void {
    for (const key of this.acknowledgedKeys) {
      for (const id of this.configMemberIds()) {
        if (!this.member(id).appliedKeys.has(key)) {
          this.checker.onDurabilityCheck(`acknowledged proposal ${key} is missing from ${id}'s applied entries`);
          return;
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  private scheduleIn(meanMs: number, event: SimEvent): void {
    // Uniform in [0.5, 1.5) × mean keeps the rate while varying the spacing.
    this.queue.push(this.nowMs + Math.max(1, Math.round(meanMs * (0.5 + this.random.nextFloat()))), event);
  }

  private member(id: NodeId): Member {
    const member = this.members.get(id);
    if (!member) throw new Error(`unknown member ${id}`);
    return member;
  }

  private record(line: string): void {
    const entry = `${this.nowMs}ms ${line}`;
    if (this.traceAll) console.log(entry);
    this.trace.push(entry);
    if (this.trace.length > traceLength) this.trace.shift();
  }

  private describeMembers(): string {
    return this.liveIds()
      .map((id) => {
        const node = this.member(id).node;
        if (!node) return `${id}:down`;
        const status = node.status();
        return `${id}:${status.role}/t${status.term}/commit${status.commitIndex}/last${status.lastIndex}`;
      })
      .join(' ');
  }
}

export function describeMessage(message: Message): string {
  const head = `${message.type} ${message.from}->${message.to} t${message.term}`;
  switch (message.type) {
    case 'AppendEntries':
      return `${head} prev=${message.prevLogIndex}/${message.prevLogTerm} n=${message.entries.length} commit=${message.leaderCommit}`;
    case 'AppendEntriesResponse':
      return `${head} ${message.success ? 'ok' : 'reject'} match=${message.matchIndex}`;
    case 'RequestVote':
      return `${head}${message.preVote ? ' pre' : ''} last=${message.lastLogIndex}/${message.lastLogTerm}`;
    case 'RequestVoteResponse':
      return `${head}${message.preVote ? ' pre' : ''} ${message.voteGranted ? 'granted' : 'rejected'}`;
    case 'InstallSnapshot':
      return `${head} snapshot=${message.snapshot.index}/${message.snapshot.term} members=${message.snapshot.config.members.map((member) => `${member.id}:${member.role[0]}`).join(',')}`;
    default:
      return head;
  }
}

export function runSimulation(options: SimulationOptions, traceAll = false): SimulationResult {
  return new Simulation(options, traceAll).run();
}
