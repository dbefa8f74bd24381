// Simulation: a whole raftlock cluster in one process, on a virtual clock and a faulty network, all
// decided by one seed (TigerBeetle's VOPR, FoundationDB's simulator). The real RaftNode runs
// unchanged; only its ports are simulated: MemoryStorage for the disk, an event queue for the clock
// and the network, SeededRandom for every random choice.
//
// A run has two phases. The safety phase injects faults — message loss, duplication, delay and
// reordering, symmetric and one-way partitions, crashes that lose everything not yet persisted,
// leadership transfers — while clients propose and read; the checkers watch every event. The
// liveness phase heals everything and requires that a new proposal commits on every member within a
// bound. A failure prints its seed; `pnpm sim --seed N` replays it exactly.

import {
  AssertionError,
  asNodeId,
  defaultRaftLimits,
  MemoryStorage,
  RaftNode,
  SeededRandom,
  silentLogger,
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
  | { readonly kind: 'deliver'; readonly message: Message }
  | { readonly kind: 'takeReady'; readonly nodeId: NodeId; readonly incarnation: number }
  | { readonly kind: 'readyPersisted'; readonly nodeId: NodeId; readonly incarnation: number }
  | { readonly kind: 'propose' }
  | { readonly kind: 'read' }
  | { readonly kind: 'partition' }
  | { readonly kind: 'oneWayCut' }
  | { readonly kind: 'healLinks'; readonly links: readonly string[] }
  | { readonly kind: 'crash' }
  | { readonly kind: 'restart'; readonly nodeId: NodeId }
  | { readonly kind: 'transfer' }
  | { readonly kind: 'startLivenessPhase' }
  | { readonly kind: 'proposeLivenessMarker' }
  | { readonly kind: 'settled' };

interface Member {
  readonly id: NodeId;
  node: RaftNode | undefined;
  readonly storage: MemoryStorage;
  /** Bumped on every crash, so events scheduled for an earlier life are ignored. */
  incarnation: number;
  readyScheduled: boolean;
  inflightReady: Ready | undefined;
  role: Role;
  term: number;
  /** Proposals this member accepted as leader: index → (term, key); acknowledged once applied here. */
  readonly pendingProposals: Map<number, { readonly term: number; readonly key: string }>;
  /** Reads accepted: context → the highest acknowledged index when the read began. */
  readonly pendingReads: Map<string, number>;
  appliedKeys: Set<string>;
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

export class Simulation {
  private readonly random: SeededRandom;
  private readonly queue = new EventQueue<SimEvent>();
  private readonly checker = new ClusterChecker();
  private readonly members = new Map<NodeId, Member>();
  private readonly ids: NodeId[];
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
  };

  constructor(private readonly options: SimulationOptions, private readonly traceAll = false) {
    this.random = new SeededRandom(options.seed);
    this.dropRate = options.faults.dropRate;
    this.duplicateRate = options.faults.duplicateRate;
    this.jitterMs = options.faults.jitterMs;
    this.ids = Array.from({ length: options.nodeCount }, (_, position) => asNodeId(`n${position + 1}`));
    this.leaderGuess = this.ids[0] as NodeId;
    for (const id of this.ids) {
      const member: Member = {
        id,
        node: undefined,
        storage: new MemoryStorage(),
        incarnation: 0,
        readyScheduled: false,
        inflightReady: undefined,
        role: 'follower',
        term: 0,
        pendingProposals: new Map(),
        pendingReads: new Map(),
        appliedKeys: new Set(),
      };
      this.members.set(id, member);
      this.startMember(member);
    }
  }

  run(): SimulationResult {
    const { faults } = this.options;
    for (const id of this.ids) this.queue.push(this.random.nextInt(this.options.tickIntervalMs), { kind: 'tick', nodeId: id });
    this.scheduleIn(this.options.proposeEveryMs, { kind: 'propose' });
    this.scheduleIn(this.options.readEveryMs, { kind: 'read' });
    if (faults.partitionEveryMs > 0) this.scheduleIn(faults.partitionEveryMs, { kind: 'partition' });
    if (faults.oneWayCutEveryMs > 0) this.scheduleIn(faults.oneWayCutEveryMs, { kind: 'oneWayCut' });
    if (faults.crashEveryMs > 0) this.scheduleIn(faults.crashEveryMs, { kind: 'crash' });
    if (faults.transferEveryMs > 0) this.scheduleIn(faults.transferEveryMs, { kind: 'transfer' });
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
        return this.onDeliver(event.message);
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
      case 'transfer':
        return this.onTransfer();
      case 'startLivenessPhase':
        return this.onStartLivenessPhase();
      case 'proposeLivenessMarker':
        return this.onProposeLivenessMarker();
      case 'settled':
        if (this.ids.every((id) => (this.member(id).node?.status().appliedIndex ?? 0) >= this.highestAcknowledgedIndex)) this.settled = true;
        else this.queue.push(this.nowMs + settleCheckEveryMs, { kind: 'settled' });
        return;
    }
  }

  private onTick(nodeId: NodeId): void {
    this.queue.push(this.nowMs + this.options.tickIntervalMs, { kind: 'tick', nodeId });
    const member = this.member(nodeId);
    if (!member.node) return;
    member.node.tick();
    this.afterActivity(member);
  }

  private onDeliver(message: Message): void {
    const member = this.member(message.to);
    if (!member.node || this.isCut(message.from, message.to)) {
      this.stats.messagesDropped++;
      return;
    }
    this.record(`deliver ${describeMessage(message)}`);
    member.node.step(message);
    this.afterActivity(member);
  }

  /** The driver takes a Ready; its fsync completes a little later, while steps go on meanwhile. */
  private onTakeReady(nodeId: NodeId, incarnation: number): void {
    const member = this.member(nodeId);
    member.readyScheduled = false;
    if (!member.node || member.incarnation !== incarnation || member.inflightReady) return;
    if (!member.node.hasReady()) return;
    member.inflightReady = member.node.ready();
    const fsyncMs = this.random.nextInt(this.options.faults.persistDelayMaxMs + 1);
    this.queue.push(this.nowMs + fsyncMs, { kind: 'readyPersisted', nodeId, incarnation });
  }

  /** Persist, then send, then apply, then advance: the order a real driver must keep. */
  private onReadyPersisted(nodeId: NodeId, incarnation: number): void {
    const member = this.member(nodeId);
    const ready = member.inflightReady;
    if (!member.node || member.incarnation !== incarnation || !ready) return;
    member.inflightReady = undefined;
    member.storage.persist(ready.hardState, ready.entriesToPersist);
    this.checker.onPersist(nodeId, ready.entriesToPersist);
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
    for (const entry of ready.entriesToApply) {
      this.checker.onApply(nodeId, entry);
      if (entry.kind !== 'command') continue;
      const key = new TextDecoder().decode(entry.data);
      member.appliedKeys.add(key);
      const pending = member.pendingProposals.get(entry.index);
      if (pending) {
        member.pendingProposals.delete(entry.index);
        if (pending.term === entry.term && pending.key === key) this.acknowledge(key, entry.index);
      }
      if (this.recoveryMs === undefined && this.livenessKeys.has(key) && this.ids.every((id) => this.member(id).appliedKeys.has(key))) {
        this.recoveryMs = this.nowMs - (this.livenessStartMs ?? this.nowMs);
        // Let every acknowledged entry reach every member before the durability check (a slow
        // follower may still be catching up one entry per round trip).
        this.queue.push(this.nowMs, { kind: 'settled' });
      }
    }
    for (const readState of ready.readStates) {
      const minimumIndex = member.pendingReads.get(readState.requestContext);
      if (minimumIndex === undefined) continue;
      member.pendingReads.delete(readState.requestContext);
      this.stats.readsReleased++;
      this.checker.onReadState(nodeId, readState.index, minimumIndex);
    }
    member.node.advance(ready);
    this.afterActivity(member);
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
      this.checker.onBecameLeader(member.id, softState.term, (index) => node.termAt(index as never));
      this.leaderGuess = member.id;
    }
    member.role = softState.role;
    member.term = softState.term;
    this.checker.onCommitIndex(member.id, node.currentCommitIndex());
    if (!member.readyScheduled && !member.inflightReady && node.hasReady()) {
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
    const delayMs = () => faults.baseDelayMs + this.random.nextInt(Math.max(1, this.jitterMs));
    this.queue.push(this.nowMs + delayMs(), { kind: 'deliver', message });
    if (this.random.chance(this.duplicateRate)) {
      this.stats.messagesDuplicated++;
      this.queue.push(this.nowMs + delayMs(), { kind: 'deliver', message });
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
      this.leaderGuess = this.random.pick(this.ids);
      return false;
    }
    const result = member.node.propose(new TextEncoder().encode(key));
    if (result.accepted) {
      this.stats.proposalsAccepted++;
      member.pendingProposals.set(result.index, { term: result.term, key });
    } else {
      this.leaderGuess = result.leaderId !== '' ? result.leaderId : this.random.pick(this.ids);
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
    const shuffled = this.ids.map((id) => ({ id, key: this.random.nextFloat() })).sort((a, b) => a.key - b.key);
    const minoritySize = 1 + this.random.nextInt(Math.floor(this.ids.length / 2));
    const minority = new Set(shuffled.slice(0, minoritySize).map((entry) => entry.id));
    const links: string[] = [];
    for (const from of this.ids) for (const to of this.ids) if (from !== to && minority.has(from) !== minority.has(to)) links.push(`${from}->${to}`);
    this.stats.partitions++;
    this.record(`partition ${[...minority].join(',')} | rest`);
    this.cut(links, this.random.between(100, 3000));
  }

  private onOneWayCut(): void {
    if (!this.faultsActive) return;
    this.scheduleIn(this.options.faults.oneWayCutEveryMs, { kind: 'oneWayCut' });
    const from = this.random.pick(this.ids);
    const to = this.random.pick(this.ids.filter((id) => id !== from));
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
    const running = this.ids.filter((id) => this.member(id).node !== undefined);
    if (running.length === 0) return;
    const member = this.member(this.random.pick(running));
    this.stats.crashes++;
    this.record(`crash ${member.id}${member.inflightReady ? ' (losing an unpersisted Ready)' : ''}`);
    this.crashMember(member);
    this.queue.push(this.nowMs + this.random.between(50, 2500), { kind: 'restart', nodeId: member.id });
  }

  private crashMember(member: Member): void {
    member.node = undefined;
    member.incarnation++;
    member.inflightReady = undefined;
    member.readyScheduled = false;
    member.pendingProposals.clear();
    member.pendingReads.clear();
    member.role = 'follower';
  }

  private onRestart(nodeId: NodeId): void {
    const member = this.member(nodeId);
    if (member.node) return;
    this.record(`restart ${nodeId}`);
    this.startMember(member);
  }

  private startMember(member: Member): void {
    member.appliedKeys = new Set();
    this.checker.onRestart(member.id);
    member.node = new RaftNode({
      nodeId: member.id,
      voters: this.ids,
      storage: member.storage,
      random: this.random.fork(),
      logger: silentLogger,
      timing: { electionTimeoutTicks: this.options.electionTimeoutTicks, heartbeatIntervalTicks: this.options.heartbeatIntervalTicks },
      limits: { ...defaultRaftLimits, maxUncommittedEntries, maxInflightAppends: this.options.maxInflightAppends, maxEntriesPerAppend: this.options.maxEntriesPerAppend },
      preVote: this.options.preVote,
      checkQuorum: this.options.checkQuorum,
    });
    member.role = 'follower';
    member.term = member.node.softState().term;
  }

  private onTransfer(): void {
    if (!this.faultsActive) return;
    this.scheduleIn(this.options.faults.transferEveryMs, { kind: 'transfer' });
    const leader = this.ids.map((id) => this.member(id)).find((member) => member.role === 'leader' && member.node);
    if (!leader?.node) return;
    const target = this.random.pick(this.ids.filter((id) => id !== leader.id));
    this.stats.transfers++;
    this.record(`transfer leadership ${leader.id} -> ${target}`);
    leader.node.transferLeadership(target);
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
    for (const id of this.ids) this.onRestart(id);
    this.queue.push(this.nowMs, { kind: 'proposeLivenessMarker' });
  }

  private checkDurability(): void {
    for (const key of this.acknowledgedKeys) {
      for (const id of this.ids) {
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
    return this.ids
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
    default:
      return head;
  }
}

export function runSimulation(options: SimulationOptions, traceAll = false): SimulationResult {
  return new Simulation(options, traceAll).run();
}
