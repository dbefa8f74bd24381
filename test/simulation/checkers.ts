// Cluster-wide checkers, run continuously while the simulation executes (TigerBeetle's
// state_checker). Each keeps what it needs incrementally, so checking costs O(1) per event:
//
//   Election Safety      at most one leader per term                          (Raft paper Figure 3)
//   Log Matching         same index and term ⇒ identical logs up to there     (chain hashes of persisted logs)
//   Leader Completeness  a new leader holds every entry applied anywhere      (checked at election)
//   State Machine Safety every member applies the same entry at each index, in order, without gaps
//   Commit monotonic     a member's commit index never decreases within one incarnation
//   Apply from disk      a member applies only entries on its own disk (writes land after the
//                        Ready is handed over: the core must not apply what is still in flight)
//   Linearizable reads   a ReadState index covers every entry acknowledged before the read began
//   Durability           every acknowledged proposal is applied everywhere at the end
//   Snapshots            a restored or installed snapshot is the applied history at its index

import type { LogEntry, NodeId } from '@raftlock/server/testing';

function fnv1a(hash: number, value: number): number {
  let mixed = hash ^ (value & 0xff);
  mixed = Math.imul(mixed, 0x01000193);
  mixed ^= (value >>> 8) & 0xff;
  mixed = Math.imul(mixed, 0x01000193);
  mixed ^= (value >>> 16) & 0xff;
  mixed = Math.imul(mixed, 0x01000193);
  mixed ^= value >>> 24;
  return Math.imul(mixed, 0x01000193) >>> 0;
}

/** Hash of an entry chained onto the hash of everything before it. */
export function chainHash(previous: number, entry: LogEntry): number {
  let hash = fnv1a(previous, entry.term);
  hash = fnv1a(hash, entry.index);
  if (entry.kind === 'command') for (const byte of entry.data) hash = fnv1a(hash, byte);
  else hash = fnv1a(hash, 0x6e6f6f70);
  return hash;
}

export interface Violation {
  readonly atMs: number;
  readonly rule: string;
  readonly detail: string;
}

export class ClusterChecker {
  readonly violations: Violation[] = [];
  private nowMs = 0;
  private readonly leaderOfTerm = new Map<number, NodeId>();
  /** Per member: chain hash of its persisted log, position i = index i (0 = empty log). */
  private readonly persistedChains = new Map<NodeId, number[]>();
  /** `${index}:${term}` → chain hash, from whichever member persisted it first. */
  private readonly chainAt = new Map<string, number>();
  /** Index → chain hash of the applied sequence. */
  private readonly appliedChain: number[] = [0];
  private readonly appliedTerms: number[] = [0];
  private readonly lastAppliedOf = new Map<NodeId, number>();
  private readonly appliedChainOf = new Map<NodeId, number>();
  private readonly commitIndexOf = new Map<NodeId, number>();
  counters = { leadersElected: 0, entriesApplied: 0, readsChecked: 0 };

  setTime(nowMs: number): void {
    this.nowMs = nowMs;
  }

  private fail(rule: string, detail: string): void {
    this.violations.push({ atMs: this.nowMs, rule, detail });
  }

  maxAppliedIndex(): number {
    return this.appliedChain.length - 1;
  }

  /** Chain hash of the applied sequence at index (undefined when nothing applied there yet). */
  appliedChainAt(index: number): number | undefined {
    return this.appliedChain[index];
  }

  /**
   * termAt answers for the leader's log from its compaction point on; no member compacts beyond what it
   * applied, so the highest applied index anywhere is always inside a complete leader's log.
   */
  onBecameLeader(nodeId: NodeId, term: number, termAt: (index: number) => number | undefined): void {
    this.counters.leadersElected++;
    const existing = this.leaderOfTerm.get(term);
    if (existing !== undefined && existing !== nodeId) {
      this.fail('Election Safety', `term ${term} has two leaders: ${existing} and ${nodeId}`);
    }
    this.leaderOfTerm.set(term, nodeId);
    const appliedIndex = this.maxAppliedIndex();
    if (appliedIndex > 0) {
      // Same index and term means the same entry and prefix (Log Matching, checked separately).
      if (termAt(appliedIndex) !== this.appliedTerms[appliedIndex]) {
        this.fail('Leader Completeness', `${nodeId} became leader of term ${term} without the applied entry at index ${appliedIndex}`);
      }
    }
  }

  /** A member durably wrote entries (truncating its log before the first of them). */
  onPersist(nodeId: NodeId, entries: readonly LogEntry[]): void {
    const chain = this.persistedChainOf(nodeId);
    const first = entries[0];
    if (!first) return;
    if (first.index > chain.length) {
      this.fail('Log contiguity', `${nodeId} persisted index ${first.index} after a log ending at ${chain.length - 1}`);
      return;
    }
    chain.length = first.index;
    for (const entry of entries) {
      const hash = chainHash(chain[chain.length - 1] ?? 0, entry);
      chain.push(hash);
      const key = `${entry.index}:${entry.term}`;
      const known = this.chainAt.get(key);
      if (known === undefined) this.chainAt.set(key, hash);
      else if (known !== hash) this.fail('Log Matching', `${nodeId} holds a different log up to index ${entry.index} term ${entry.term} than another member`);
    }
  }

  /**
   * Commit quorum: when a leader advances its commit index to `index`, a majority of the voters of
   * its configuration hold that entry on disk (or in a snapshot past it). This is the commit rule
   * itself, checked directly, so counting a learner (or a removed member) shows up at once.
   */
  onLeaderCommit(leader: NodeId, index: number, term: number, voters: readonly NodeId[]): void {
    const known = this.chainAt.get(`${index}:${term}`);
    const holders = voters.filter((voter) => {
      const chain = this.persistedChains.get(voter);
      if (chain === undefined || chain.length <= index) return false;
      const hash = chain[index];
      return hash === undefined || hash === known; // a hole is an entry folded into an installed snapshot
    });
    if (holders.length < Math.floor(voters.length / 2) + 1) {
      this.fail('Commit quorum', `${leader} committed index ${index} term ${term} held by only ${holders.length} of voters ${voters.join(',')}`);
    }
  }

  persistedChainOf(nodeId: NodeId): number[] {
    let chain = this.persistedChains.get(nodeId);
    if (!chain) {
      chain = [0];
      this.persistedChains.set(nodeId, chain);
    }
    return chain;
  }

  /** A member installed a leader's snapshot: its log now starts after (index, term). */
  onSnapshotInstalled(nodeId: NodeId, index: number, term: number): void {
    const known = this.chainAt.get(`${index}:${term}`);
    if (known === undefined) {
      this.fail('Snapshot', `${nodeId} installed a snapshot at ${index}/${term}, an entry no member ever persisted`);
      return;
    }
    const chain = this.persistedChainOf(nodeId);
    chain.length = index + 1;
    chain[index] = known;
  }

  /** A member's state machine restarted from a snapshot at index whose applied-history hash is chain. */
  onRestoreSnapshot(nodeId: NodeId, index: number, term: number, chain: number): void {
    if (this.appliedChain[index] !== chain || this.appliedTerms[index] !== term) {
      this.fail('Snapshot', `${nodeId} restored a snapshot at ${index}/${term} that is not the applied history there`);
    }
    this.lastAppliedOf.set(nodeId, index);
    this.appliedChainOf.set(nodeId, chain);
  }

  appliedChainOfMember(nodeId: NodeId): number {
    return this.appliedChainOf.get(nodeId) ?? 0;
  }

  /** A member (re)started: it will apply from the beginning of its log again. */
  onRestart(nodeId: NodeId): void {
    this.lastAppliedOf.set(nodeId, 0);
    this.appliedChainOf.set(nodeId, 0);
    this.commitIndexOf.delete(nodeId);
  }

  onApply(nodeId: NodeId, entry: LogEntry): void {
    this.counters.entriesApplied++;
    const persisted = this.persistedChains.get(nodeId);
    const persistedHash = persisted?.[entry.index];
    const onDisk = persistedHash !== undefined && persistedHash === this.chainAt.get(`${entry.index}:${entry.term}`);
    if (!onDisk) this.fail('Apply from disk', `${nodeId} applied index ${entry.index} term ${entry.term} before that entry was on its own disk`);
    const lastApplied = this.lastAppliedOf.get(nodeId) ?? 0;
    if (entry.index !== lastApplied + 1) {
      this.fail('State Machine Safety', `${nodeId} applied index ${entry.index} after ${lastApplied}`);
    }
    const hash = chainHash(this.appliedChainOf.get(nodeId) ?? 0, entry);
    this.lastAppliedOf.set(nodeId, entry.index);
    this.appliedChainOf.set(nodeId, hash);
    const known = this.appliedChain[entry.index];
    if (known === undefined) {
      if (entry.index === this.appliedChain.length) {
        this.appliedChain.push(hash);
        this.appliedTerms.push(entry.term);
      }
    } else if (known !== hash) {
      this.fail('State Machine Safety', `${nodeId} applied a different entry (or history) at index ${entry.index} term ${entry.term}`);
    }
  }

  onCommitIndex(nodeId: NodeId, commitIndex: number): void {
    const previous = this.commitIndexOf.get(nodeId) ?? 0;
    if (commitIndex < previous) this.fail('Commit monotonic', `${nodeId} commit index went from ${previous} to ${commitIndex}`);
    this.commitIndexOf.set(nodeId, commitIndex);
  }

  onReadState(nodeId: NodeId, readIndex: number, minimumIndex: number): void {
    this.counters.readsChecked++;
    if (readIndex < minimumIndex) {
      this.fail('Linearizable read', `${nodeId} released a read at index ${readIndex} after index ${minimumIndex} was acknowledged`);
    }
  }

  onDurabilityCheck(lostDescription: string): void {
    this.fail('Durability', lostDescription);
  }

  onLiveness(detail: string): void {
    this.fail('Liveness', detail);
  }
}
