// ScenarioCluster: a whole cluster driven by hand, one step at a time (etcd-io/raft raft_test.go's
// `network`). Messages are delivered synchronously and in order; links can be cut both ways or one
// way; members can crash (keeping only their persisted storage) and restart. Scenario tests use it to
// replay the paper's figures exactly; the seeded simulation (test/simulation) explores the rest.

import {
  asLogIndex,
  asNodeId,
  asTerm,
  defaultRaftLimits,
  MemoryStorage,
  noNode,
  RaftNode,
  SeededRandom,
  silentLogger,
  type LogEntry,
  type Message,
  type NodeId,
  type RaftLimits,
  type RaftNodeOptions,
  type ReadState,
} from '@raftlock/server/testing';

export interface ScenarioOptions {
  readonly nodeCount: number;
  readonly seed?: number;
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly electionTimeoutTicks?: number;
  readonly heartbeatIntervalTicks?: number;
  /** Overrides of defaultRaftLimits (e.g. one entry per append, to split a figure's appends). */
  readonly limits?: Partial<RaftLimits>;
}

export interface PresetLog {
  /** Terms of entries 1..n. */
  readonly terms: readonly number[];
  readonly currentTerm?: number;
  /**
   * Label entries by (index, term) only, so that members preset with the same index and term hold the
   * same entry, as in a real history (Log Matching). By default the label also names the member.
   */
  readonly sharedHistory?: boolean;
}

const maxDeliveryRounds = 10_000;

export class ScenarioCluster {
  readonly ids: NodeId[];
  readonly nodes = new Map<NodeId, RaftNode | undefined>();
  readonly storages = new Map<NodeId, MemoryStorage>();
  readonly applied = new Map<NodeId, LogEntry[]>();
  readonly readStates = new Map<NodeId, ReadState[]>();
  /** Every message sent, in order, for assertions about what was (not) said. */
  readonly sent: Message[] = [];
  private readonly cutLinks = new Set<string>();
  private readonly dropFilters: ((message: Message) => boolean)[] = [];
  private readonly pending: Message[] = [];
  private readonly random: SeededRandom;
  private readonly options: Required<ScenarioOptions>;

  constructor(options: ScenarioOptions) {
    this.options = {
      seed: 1,
      preVote: true,
      checkQuorum: true,
      electionTimeoutTicks: 10,
      heartbeatIntervalTicks: 1,
      limits: {},
      ...options,
    };
    this.random = new SeededRandom(this.options.seed);
    this.ids = Array.from({ length: options.nodeCount }, (_, position) => asNodeId(`n${position + 1}`));
    for (const id of this.ids) {
      this.storages.set(id, new MemoryStorage());
      this.applied.set(id, []);
      this.readStates.set(id, []);
      this.nodes.set(id, this.createNode(id));
    }
  }

  /** Give a member a log (terms of entries 1..n) before anything runs, as in the paper's figures. */
  presetLog(member: NodeId | string, preset: PresetLog): void {
    const id = member as NodeId;
    const storage = new MemoryStorage();
    const entries: LogEntry[] = preset.terms.map((term, position) => ({
      kind: 'command',
      index: asLogIndex(position + 1),
      term: asTerm(term),
      data: new TextEncoder().encode(preset.sharedHistory === true ? `preset:${position + 1}:${term}` : `preset:${id}:${position + 1}:${term}`),
    }));
    const lastTerm = preset.terms.at(-1) ?? 0;
    storage.persist({ term: asTerm(preset.currentTerm ?? lastTerm), votedFor: noNode, commitIndex: asLogIndex(0) }, entries);
    this.storages.set(id, storage);
    this.nodes.set(id, this.createNode(id));
  }

  node(id: NodeId | string): RaftNode {
    const node = this.nodes.get(id as NodeId);
    if (!node) throw new Error(`member ${id} is down`);
    return node;
  }

  leader(): NodeId | undefined {
    const leaders = this.ids.filter((id) => this.nodes.get(id)?.status().role === 'leader');
    const highestTerm = Math.max(...leaders.map((id) => this.node(id).status().term));
    return leaders.find((id) => this.node(id).status().term === highestTerm);
  }

  /** Tick one member n times, delivering everything after each tick. */
  tick(id: NodeId | string, times = 1): void {
    for (let count = 0; count < times; count++) {
      this.nodes.get(id as NodeId)?.tick();
      this.stabilize();
    }
  }

  tickAll(times = 1): void {
    for (let count = 0; count < times; count++) {
      for (const id of this.ids) this.nodes.get(id)?.tick();
      this.stabilize();
    }
  }

  /** Tick a member until it starts an election (PreVote or real), then deliver. */
  campaign(id: NodeId | string): void {
    const node = this.node(id);
    const startTerm = node.status().term;
    for (let count = 0; count < this.options.electionTimeoutTicks * 2 + 1; count++) {
      node.tick();
      if (node.status().role !== 'follower' || node.status().term !== startTerm) break;
    }
    this.stabilize();
  }

  propose(id: NodeId | string, text: string): ReturnType<RaftNode['propose']> {
    const result = this.node(id).propose(new TextEncoder().encode(text));
    this.stabilize();
    return result;
  }

  /** Ask a member to hand leadership to `target`, then deliver. */
  transferLeadership(id: NodeId | string, target: NodeId | string): ReturnType<RaftNode['transferLeadership']> {
    const result = this.node(id).transferLeadership(target as NodeId);
    this.stabilize();
    return result;
  }

  /** Ask a member for a linearizable read, then deliver; ReadStates land in `readStates`. */
  readIndex(id: NodeId | string, requestContext: string): ReturnType<RaftNode['readIndex']> {
    const result = this.node(id).readIndex(requestContext);
    this.stabilize();
    return result;
  }

  /** Messages of one type in `sent`, narrowed, optionally filtered. */
  sentOfType<T extends Message['type']>(type: T, filter: (message: Extract<Message, { type: T }>) => boolean = () => true): Extract<Message, { type: T }>[] {
    return this.sent.filter((message): message is Extract<Message, { type: T }> => message.type === type).filter(filter);
  }

  cut(a: NodeId | string, b: NodeId | string): void {
    this.cutLinks.add(`${a}->${b}`);
    this.cutLinks.add(`${b}->${a}`);
  }

  cutOneWay(from: NodeId | string, to: NodeId | string): void {
    this.cutLinks.add(`${from}->${to}`);
  }

  isolate(id: NodeId | string): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other);
  }

  heal(): void {
    this.cutLinks.clear();
    this.dropFilters.length = 0;
  }

  /** Drop every message for which the filter returns true (until heal()). */
  dropWhere(filter: (message: Message) => boolean): void {
    this.dropFilters.push(filter);
  }

  /** Crash: the node and everything it had not persisted are gone; its storage stays. */
  crash(id: NodeId | string): void {
    this.nodes.set(id as NodeId, undefined);
  }

  restart(id: NodeId | string): void {
    this.applied.set(id as NodeId, []);
    this.nodes.set(id as NodeId, this.createNode(id as NodeId));
  }

  /** Hand a message straight to a node (a delayed or duplicated delivery), then deliver the rest. */
  deliver(message: Message): void {
    this.nodes.get(message.to)?.step(message);
    this.stabilize();
  }

  appliedTexts(id: NodeId | string): string[] {
    const decoder = new TextDecoder();
    return (this.applied.get(id as NodeId) ?? []).flatMap((entry) => (entry.kind === 'command' ? [decoder.decode(entry.data)] : []));
  }

  logTerms(id: NodeId | string): number[] {
    return this.storages.get(id as NodeId)?.allEntries().map((entry) => entry.term) ?? [];
  }

  /** Process Ready and deliver messages until nothing moves. */
  stabilize(): void {
    for (let round = 0; round < maxDeliveryRounds; round++) {
      let moved = false;
      for (const id of this.ids) moved = this.processReady(id) || moved;
      const batch = this.pending.splice(0);
      for (const message of batch) {
        moved = true;
        if (this.cutLinks.has(`${message.from}->${message.to}`)) continue;
        if (this.dropFilters.some((filter) => filter(message))) continue;
        this.nodes.get(message.to)?.step(message);
      }
      if (!moved) return;
    }
    throw new Error('cluster did not stabilize');
  }

  private processReady(id: NodeId): boolean {
    const node = this.nodes.get(id);
    if (!node?.hasReady()) return false;
    const ready = node.ready();
    // The contract under test: persist first, then send, then apply.
    this.storages.get(id)?.persist(ready.hardState, ready.entriesToPersist);
    node.persisted(ready);
    for (const message of [...ready.messagesToSendNow, ...ready.messagesToSend]) {
      this.sent.push(message);
      this.pending.push(message);
    }
    this.applied.get(id)?.push(...ready.entriesToApply);
    this.readStates.get(id)?.push(...ready.readStates);
    node.advance(ready);
    return true;
  }

  private createNode(id: NodeId): RaftNode {
    const storage = this.storages.get(id);
    if (!storage) throw new Error(`no storage for ${id}`);
    const options: RaftNodeOptions = {
      nodeId: id,
      voters: this.ids,
      storage,
      random: this.random.fork(),
      logger: silentLogger,
      timing: { electionTimeoutTicks: this.options.electionTimeoutTicks, heartbeatIntervalTicks: this.options.heartbeatIntervalTicks },
      limits: { ...defaultRaftLimits, ...this.options.limits },
      preVote: this.options.preVote,
      checkQuorum: this.options.checkQuorum,
    };
    return new RaftNode(options);
  }
}
