// Nemesis: injects faults into a ChaosCluster on a seeded schedule, and heals them.
//
// Each fault is started with a duration drawn from the seed and healed when it is over; faults
// overlap. The seed decides the schedule — when the next fault starts, which kind, how long it lasts,
// how hard it hits, which member or client it picks — but not the interleaving with real processes,
// so a seed reproduces the kind of run, not every byte of it. Faults that target "the leader" ask
// the cluster who leads at that moment.
//
// Limits: at most a minority of members is down (killed or paused) at once, so the cluster is
// sometimes able to make progress; at most maxNetworkFaults link faults are active at once. Safety
// must hold regardless; the limits only keep the run from being all outage and no traffic.
//
// Kinds, and what they model:
//   kill            SIGKILL a member (the leader half the time), restart it later on the same data
//   pause           SIGSTOP a member (the leader half the time), SIGCONT later: a GC or VM pause
//   isolate-leader  cut every link to and from the leader: it is partitioned away
//   isolate-member  the same for a random member
//   split           cut a random minority from the majority (5 members: 2 | 3, 3 members: 1 | 2)
//   one-way         cut a member's links in one direction only (it cannot send, or cannot hear)
//   delay           add latency and jitter to the links of every member, or of one
//   drop            drop Raft messages at random on the links of every member, or of one
//   client-cut      cut one random SDK client off from every member
//   holder-cut      cut off a client that holds a lock right now (preferably one in a hold meant to
//                   outlast its lease) for 2–7 s: its lease lapses mid-hold, the lock
//                   moves on, and the holder may keep writing — what fencing and the SDK's
//                   conservative lease deadline exist for
//   reset           reset every connection into one member, as a TCP RST would

import type { SeededRandom } from '@raftlock/server/testing';
import { sleep } from '../e2e/local-cluster.js';
import type { ChaosCluster } from './chaos-cluster.js';
import type { History } from './history.js';
import { linksBetween, linksFrom, type LinkConditions, type LinkFault } from './link-conditions.js';

export const faultKinds = ['kill', 'pause', 'isolate-leader', 'isolate-member', 'split', 'one-way', 'delay', 'drop', 'client-cut', 'holder-cut', 'reset'] as const;
export type FaultKind = (typeof faultKinds)[number];

export interface NemesisOptions {
  readonly cluster: ChaosCluster;
  readonly conditions: LinkConditions;
  readonly history: History;
  readonly random: SeededRandom;
  readonly clientIds: readonly string[];
  /** Clients holding a lock or leading an election right now, the best holder-cut targets (see chaos-run.ts). */
  readonly holdingClientIds: () => readonly string[];
  /** Pause between one fault's start and the next one's. */
  readonly gapMs: { readonly min: number; readonly max: number };
  /** How long a fault lasts (kills and pauses, partitions, link faults), drawn per fault. */
  readonly durationMs: { readonly min: number; readonly max: number };
  readonly maxNetworkFaults: number;
}

interface ActiveFault {
  readonly faultId: number;
  readonly kind: FaultKind;
  readonly healAtMs: number;
  readonly heal: () => Promise<void>;
  readonly detail: string;
}

const weights: Readonly<Record<FaultKind, number>> = {
  kill: 3,
  pause: 3,
  'isolate-leader': 2,
  'isolate-member': 1,
  split: 1,
  'one-way': 2,
  delay: 2,
  drop: 2,
  'client-cut': 1,
  'holder-cut': 3,
  reset: 1,
};

export class Nemesis {
  readonly faultCounts: Record<FaultKind, number> = Object.fromEntries(faultKinds.map((kind) => [kind, 0])) as Record<FaultKind, number>;
  private readonly active = new Map<number, ActiveFault>();
  private nextFaultId = 1;

  constructor(private readonly options: NemesisOptions) {}

  get totalFaults(): number {
    return Object.values(this.faultCounts).reduce((sum, count) => sum + count, 0);
  }

  /** Inject faults until durationMs has passed, healing each when its time is up. */
  async run(durationMs: number): Promise<void> {
    const endMs = performance.now() + durationMs;
    let nextStartMs = performance.now() + this.drawGap();
    while (performance.now() < endMs) {
      await this.healDue();
      if (performance.now() >= nextStartMs) {
        await this.startOne();
        nextStartMs = performance.now() + this.drawGap();
      }
      const nextHealMs = Math.min(...[...this.active.values()].map((fault) => fault.healAtMs), Infinity);
      await sleep(Math.max(5, Math.min(nextStartMs, nextHealMs, endMs) - performance.now()));
    }
  }

  /** Heal everything: link faults cleared, paused members resumed, killed members restarted. */
  async healAll(): Promise<void> {
    for (const fault of [...this.active.values()]) await this.heal(fault);
    // A member that crashed on its own (recorded as a violation) is restarted too, so the run can finish.
    for (const member of this.options.cluster.members) {
      if (member.state === 'paused') this.options.cluster.resume(member.id);
      if (member.state === 'killed') this.options.cluster.restart(member.id);
    }
    this.options.conditions.clear();
  }

  private drawGap(): number {
    return this.options.random.between(this.options.gapMs.min, this.options.gapMs.max);
  }

  private drawDuration(): number {
    return this.options.random.between(this.options.durationMs.min, this.options.durationMs.max);
  }

  private async healDue(): Promise<void> {
    const nowMs = performance.now();
    for (const fault of [...this.active.values()]) if (fault.healAtMs <= nowMs) await this.heal(fault);
  }

  private async heal(fault: ActiveFault): Promise<void> {
    this.active.delete(fault.faultId);
    await fault.heal();
    this.options.history.record({ kind: 'nemesis', action: 'heal', faultId: fault.faultId, fault: fault.kind, detail: fault.detail });
  }

  private async startOne(): Promise<void> {
    const { random } = this.options;
    // Draw the kind first, from the seed alone, so the schedule does not depend on cluster state;
    // a kind that cannot run right now (limits) is skipped, not redrawn.
    const kind = pickWeighted(random, weights);
    const durationMs = this.drawDuration();
    // Each fault draws its details from its own stream, so the main schedule stays the same whatever
    // each fault found (who led, who was running) and however many draws that took.
    const started = await this.start(kind, durationMs, random.fork());
    if (!started) return;
    const faultId = this.nextFaultId++;
    this.faultCounts[kind] += 1;
    this.options.history.record({ kind: 'nemesis', action: 'start', faultId, fault: kind, detail: started.detail });
    if (started.heal) this.active.set(faultId, { faultId, kind, healAtMs: performance.now() + (started.healAfterMs ?? durationMs), heal: started.heal, detail: started.detail });
  }

  private async start(kind: FaultKind, durationMs: number, random: SeededRandom): Promise<{ detail: string; heal: (() => Promise<void>) | undefined; healAfterMs?: number } | undefined> {
    const { cluster } = this.options;
    const memberIds = cluster.members.map((member) => member.id);
    const running = cluster.members.filter((member) => member.state === 'running').map((member) => member.id);
    const downCount = cluster.members.length - running.length;
    const maxDown = Math.floor((cluster.members.length - 1) / 2);
    const networkFaults = [...this.active.values()].filter((fault) => fault.kind !== 'kill' && fault.kind !== 'pause').length;
    const targetLeader = random.chance(0.5);
    const randomMember = random.pick(memberIds);
    switch (kind) {
      case 'kill':
      case 'pause': {
        if (downCount >= maxDown) return undefined;
        const target = (targetLeader ? await cluster.leaderId() : undefined) ?? random.pick(running);
        if (!running.includes(target)) return undefined;
        const detail = `${target}${targetLeader ? ' (leader)' : ''} for ${durationMs} ms`;
        if (kind === 'kill') {
          await cluster.kill(target);
          return {
            detail,
            heal: async () => {
              if (cluster.member(target).state === 'killed') cluster.restart(target);
            },
          };
        }
        cluster.pause(target);
        return {
          detail,
          heal: async () => {
            if (cluster.member(target).state === 'paused') cluster.resume(target);
          },
        };
      }
      case 'isolate-leader':
      case 'isolate-member': {
        if (networkFaults >= this.options.maxNetworkFaults) return undefined;
        const target = kind === 'isolate-leader' ? ((await cluster.leaderId()) ?? randomMember) : randomMember;
        return this.linkFault({ kind: 'cut', links: linksBetween([target], memberIds) }, `${target} for ${durationMs} ms`);
      }
      case 'split': {
        if (networkFaults >= this.options.maxNetworkFaults) return undefined;
        const shuffled = shuffle(random, memberIds);
        const minority = shuffled.slice(0, maxDown);
        const majority = shuffled.slice(maxDown);
        return this.linkFault({ kind: 'cut', links: linksBetween(minority, majority) }, `${minority.join(',')} | ${majority.join(',')} for ${durationMs} ms`);
      }
      case 'one-way': {
        if (networkFaults >= this.options.maxNetworkFaults) return undefined;
        const target = (targetLeader ? await cluster.leaderId() : undefined) ?? randomMember;
        const others = memberIds.filter((id) => id !== target);
        const silenced = random.chance(0.5);
        const links = silenced ? linksFrom([target], others) : linksFrom(others, [target]);
        return this.linkFault({ kind: 'cut', links }, `${silenced ? `${target} cannot send` : `${target} cannot hear`} for ${durationMs} ms`);
      }
      case 'delay': {
        if (networkFaults >= this.options.maxNetworkFaults) return undefined;
        const scope = random.chance(0.5) ? memberIds : [randomMember];
        const delayMs = random.between(5, 250);
        const jitterMs = random.between(0, 100);
        return this.linkFault({ kind: 'delay', links: linksBetween(scope, memberIds), delayMs, jitterMs }, `${scope.join(',')} +${delayMs}±${jitterMs} ms for ${durationMs} ms`);
      }
      case 'drop': {
        if (networkFaults >= this.options.maxNetworkFaults) return undefined;
        const scope = random.chance(0.5) ? memberIds : [randomMember];
        const dropRate = random.between(5, 50) / 100;
        return this.linkFault({ kind: 'drop', links: linksBetween(scope, memberIds), dropRate }, `${scope.join(',')} ${Math.round(dropRate * 100)}% for ${durationMs} ms`);
      }
      case 'client-cut': {
        if (networkFaults >= this.options.maxNetworkFaults || this.options.clientIds.length === 0) return undefined;
        const clientId = random.pick(this.options.clientIds);
        return this.linkFault({ kind: 'cut', links: linksBetween([clientId], memberIds) }, `${clientId} for ${durationMs} ms`);
      }
      case 'holder-cut': {
        const holders = this.options.holdingClientIds();
        if (networkFaults >= this.options.maxNetworkFaults || holders.length === 0) return undefined;
        const clientId = random.pick(holders);
        // Longer than most leases (TTLs are 1.5–5 s), whatever the schedule's duration draw.
        const cutMs = random.between(2_000, 7_000);
        return { ...this.linkFault({ kind: 'cut', links: linksBetween([clientId], memberIds) }, `${clientId} (holding) for ${cutMs} ms`), healAfterMs: cutMs };
      }
      case 'reset': {
        const resetCount = cluster.proxyOf(randomMember).resetConnections(() => true);
        return { detail: `${resetCount} connections into ${randomMember}`, heal: undefined };
      }
    }
  }

  private linkFault(fault: LinkFault, detail: string): { detail: string; heal: () => Promise<void> } {
    const linkFaultId = this.options.conditions.add(fault);
    return { detail, heal: async () => this.options.conditions.remove(linkFaultId) };
  }
}

function pickWeighted<K extends string>(random: SeededRandom, table: Readonly<Record<K, number>>): K {
  const entries = Object.entries(table) as [K, number][];
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let draw = random.nextFloat() * total;
  for (const [key, weight] of entries) {
    draw -= weight;
    if (draw < 0) return key;
  }
  return (entries.at(-1) as [K, number])[0];
}

function shuffle<T>(random: SeededRandom, items: readonly T[]): T[] {
  const shuffled = [...items];
  for (let position = shuffled.length - 1; position > 0; position--) {
    const other = random.nextInt(position + 1);
    [shuffled[position], shuffled[other]] = [shuffled[other] as T, shuffled[position] as T];
  }
  return shuffled;
}
