// Swarm options (TigerBeetle's VOPR `options_swarm`): each seed picks the cluster shape and which
// faults are on, and how hard, so that 500 seeds cover many combinations instead of one average mix.

import { SeededRandom } from '@raftlock/server/testing';

export interface FaultOptions {
  /** Probability that a message is lost. */
  readonly dropRate: number;
  /** Probability that a message is delivered twice. */
  readonly duplicateRate: number;
  /** Every message takes baseDelayMs plus up to jitterMs; jitter reorders messages. */
  readonly baseDelayMs: number;
  readonly jitterMs: number;
  /** Mean time between symmetric partitions (0: never). */
  readonly partitionEveryMs: number;
  /** Mean time between one-way link cuts (0: never). */
  readonly oneWayCutEveryMs: number;
  /** Mean time between member crashes (0: never); a crashed member restarts after a while. */
  readonly crashEveryMs: number;
  /** Mean time between leadership transfer requests (0: never). */
  readonly transferEveryMs: number;
  /** Upper bound of the fsync delay (time between a step and its Ready being persisted). */
  readonly persistDelayMaxMs: number;
  /**
   * Probability that a write stalls (an overloaded disk, a long fsync) for up to persistStallMaxMs,
   * with every later write of that member queued behind it (0: never). Stalls of several election
   * timeouts let leaders change while a follower's writes are in flight.
   */
  readonly persistStallRate: number;
  readonly persistStallMaxMs: number;
  /** Mean time between membership changes: add a learner, promote it, remove a member (0: never). */
  readonly membershipChangeEveryMs: number;
}

export interface SnapshotOptions {
  /** A member snapshots its state and compacts its log every this many applied entries (0: never). */
  readonly everyEntries: number;
  /** Entries kept before the snapshot index for followers that are only a little behind. */
  readonly trailingEntries: number;
}

export interface SimulationOptions {
  readonly seed: number;
  readonly nodeCount: 3 | 5;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly tickIntervalMs: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly maxInflightAppends: number;
  readonly maxEntriesPerAppend: number;
  /** How long faults run (the safety phase). */
  readonly safetyPhaseMs: number;
  /** After faults stop, a leader must commit a new proposal on every member within this bound. */
  readonly livenessBoundMs: number;
  /** Mean time between client proposals / linearizable reads. */
  readonly proposeEveryMs: number;
  readonly readEveryMs: number;
  readonly faults: FaultOptions;
  readonly snapshots: SnapshotOptions;
}

export type FaultKind = 'drop' | 'duplicate' | 'reorder' | 'partition' | 'oneWayPartition' | 'crash' | 'transfer' | 'membership' | 'snapshot' | 'diskStall';

export function swarmOptions(seed: number, overrides: Partial<SimulationOptions> = {}): SimulationOptions {
  const random = new SeededRandom(seed);
  const on = (probability: number) => random.chance(probability);
  const nodeCount: 3 | 5 = random.chance(0.5) ? 3 : 5;
  const faults: Omit<FaultOptions, 'persistStallRate' | 'persistStallMaxMs'> = {
    dropRate: on(0.5) ? random.pick([0.01, 0.05, 0.1, 0.2]) : 0,
    duplicateRate: on(0.4) ? random.pick([0.01, 0.05, 0.1]) : 0,
    baseDelayMs: random.between(1, 5),
    jitterMs: on(0.6) ? random.pick([5, 20, 60]) : 1,
    partitionEveryMs: on(0.5) ? random.pick([500, 1500, 4000]) : 0,
    oneWayCutEveryMs: on(0.35) ? random.pick([800, 2500]) : 0,
    crashEveryMs: on(0.5) ? random.pick([600, 2000, 5000]) : 0,
    transferEveryMs: on(0.3) ? random.pick([700, 3000]) : 0,
    persistDelayMaxMs: random.pick([0, 2, 8]),
    // Always on, at varying rates: every seed exercises membership changes and snapshots (issue 6).
    membershipChangeEveryMs: random.pick([300, 1000, 2500]),
  };
  const snapshots: SnapshotOptions = {
    everyEntries: random.pick([10, 50, 300]),
    trailingEntries: random.pick([0, 5, 100]),
  };
  const common = {
    seed,
    nodeCount,
    preVote: on(0.85),
    checkQuorum: on(0.85),
    tickIntervalMs: 10,
    electionTimeoutTicks: random.pick([10, 15, 30]),
    heartbeatIntervalTicks: random.pick([1, 3]),
    maxInflightAppends: random.pick([1, 4, 64]),
    maxEntriesPerAppend: random.pick([1, 8, 64]),
    safetyPhaseMs: 12_000,
    livenessBoundMs: 20_000,
    proposeEveryMs: random.pick([5, 20, 60]),
    readEveryMs: random.pick([50, 200]),
  };
  // Drawn last, so that the seeds drawn before disk stalls existed keep every other choice.
  const persistStallRate = on(0.3) ? random.pick([0.002, 0.01, 0.05]) : 0;
  const persistStallMaxMs = random.pick([500, 1500, 4000]);
  return { ...common, faults: { ...faults, persistStallRate, persistStallMaxMs }, snapshots, ...overrides };
}

export function enabledFaults(options: SimulationOptions): FaultKind[] {
  const { faults } = options;
  const kinds: FaultKind[] = [];
  if (faults.dropRate > 0) kinds.push('drop');
  if (faults.duplicateRate > 0) kinds.push('duplicate');
  if (faults.jitterMs > faults.baseDelayMs) kinds.push('reorder');
  if (faults.partitionEveryMs > 0) kinds.push('partition');
  if (faults.oneWayCutEveryMs > 0) kinds.push('oneWayPartition');
  if (faults.crashEveryMs > 0) kinds.push('crash');
  if (faults.transferEveryMs > 0) kinds.push('transfer');
  if (faults.membershipChangeEveryMs > 0) kinds.push('membership');
  if (options.snapshots.everyEntries > 0) kinds.push('snapshot');
  if (faults.persistStallRate > 0) kinds.push('diskStall');
  return kinds;
}
