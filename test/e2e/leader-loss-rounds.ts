// LeaderLossRounds: the issue 6/8 measurement, shared by the e2e test and `pnpm bench` so both
// report the same number. Under SDK load (sessions cycling acquire → release on their own locks),
// the leader is sent a signal (SIGTERM: hand-off; SIGKILL: crash) and a probe session times how long
// after the signal its next acquire succeeds. Then the stopped member is restarted, the load pauses,
// and every lock's state is checked against what the workers were told.
//
// "Next successful acquire": the first probe acquire issued after the signal that is answered by a
// member other than the signalled one. An acquire the old leader committed in the instant before it
// handled the signal does not count: it measures the old reign, not the hand-off.

import { performance } from 'node:perf_hooks';
import { connect, type Client, type Lock, type Session } from '@raftlock/client';
import { sleep, type LocalCluster } from './local-cluster.js';

export interface LeaderLossOptions {
  readonly signal: 'SIGTERM' | 'SIGKILL';
  readonly rounds: number;
  /** SDK clients carrying the load, and sessions (workers) per client. */
  readonly loadClients: number;
  readonly sessionsPerClient: number;
  /** Called after each round (progress output). */
  readonly onRound?: (round: LeaderLossRound) => void;
}

export interface LeaderLossRound {
  readonly signalled: string;
  /** Milliseconds from the signal to the next successful acquire. */
  readonly nextAcquireMs: number;
  /** Probe acquires the signalled member itself answered after the signal (not counted). */
  readonly servedByOldLeader: number;
  readonly exitCode: number | null;
}

export interface LeaderLossReport {
  readonly rounds: readonly LeaderLossRound[];
  readonly medianMs: number;
  readonly maxMs: number;
  /** Acknowledged acquires and releases the cluster no longer reflects, and other load failures. */
  readonly problems: readonly string[];
  readonly loadCycles: number;
}

/** What one worker was last told about its lock; inFlight: an operation is unanswered. */
interface AckedState {
  op: 'acquire' | 'release';
  token: bigint | undefined;
  inFlight: boolean;
  lastToken: bigint;
}

/** Longer than any failover here (SIGKILL: up to two election timeouts), far shorter than the session TTL. */
const requestTimeoutMs = 10_000;

export async function runLeaderLossRounds(cluster: LocalCluster, options: LeaderLossOptions): Promise<LeaderLossReport> {
  const endpoints = cluster.members.map((member) => member.address);
  const clients: Client[] = [];
  try {
    const probeClient = await connect({ endpoints });
    clients.push(probeClient);
    for (let index = 0; index < options.loadClients; index++) {
      // Each load client enters through a different member, as applications would.
      const shift = (index + 1) % endpoints.length;
      clients.push(await connect({ endpoints: [...endpoints.slice(shift), ...endpoints.slice(0, shift)] }));
    }
    const probe = await probeClient.session({ ttlMs: 30_000, name: 'leader-loss-probe' });
    const workerSessions = (await Promise.all(clients.slice(1).map((client) => Promise.all(Array.from({ length: options.sessionsPerClient }, (_, index) => client.session({ ttlMs: 30_000, name: `load-${index}` })))))).flat();
    // Names per signal: runs on one cluster never wait on each other's locks.
    const load = new CyclingLoad(workerSessions, `load/${options.signal}`);
    const rounds: LeaderLossRound[] = [];
    for (let round = 0; round < options.rounds; round++) {
      await cluster.waitReady();
      load.start();
      await sleep(300); // the load is in full swing when the signal lands
      const leader = await cluster.leader();
      const signalledAtMs = performance.now();
      const exited = cluster.kill(leader.id, options.signal);
      const measured = await nextAcquire(probe, probeClient, leader.address, signalledAtMs, `probe/${options.signal}/${round}`);
      const exitCode = await exited;
      cluster.restart(leader.id);
      // Alternate rounds stop the workers holding their locks or having released them, so both an
      // acknowledged acquire and an acknowledged release are checked against the cluster.
      await load.pause(round % 2 === 0 ? 'holding' : 'released');
      await load.verify(probeClient);
      const result = { signalled: leader.id, nextAcquireMs: measured.elapsedMs, servedByOldLeader: measured.servedByOldLeader, exitCode };
      rounds.push(result);
      options.onRound?.(result);
    }
    const sorted = rounds.map((round) => round.nextAcquireMs).sort((left, right) => left - right);
    return { rounds, medianMs: median(sorted), maxMs: sorted.at(-1) ?? NaN, problems: load.problems, loadCycles: load.cycles };
  } finally {
    await Promise.allSettled(clients.map((client) => client.close()));
  }
}

async function nextAcquire(probe: Session, client: Client, signalledAddress: string, signalledAtMs: number, prefix: string): Promise<{ elapsedMs: number; servedByOldLeader: number }> {
  let servedByOldLeader = 0;
  for (let attempt = 0; ; attempt++) {
    const lock = await probe.lock(`${prefix}/${attempt}`, { timeoutMs: requestTimeoutMs });
    // The reply was taken from the socket the client is on now: that member answered.
    const answeredBy = client.connectedTo;
    const elapsedMs = performance.now() - signalledAtMs;
    void lock.release().catch(() => undefined); // not on the measured path
    if (answeredBy !== signalledAddress) return { elapsedMs, servedByOldLeader };
    servedByOldLeader++;
  }
}

/** Workers cycling acquire → release on their own lock, recording every acknowledgement. */
class CyclingLoad {
  readonly problems: string[] = [];
  cycles = 0;
  private readonly acked = new Map<string, AckedState>();
  private readonly heldLocks = new Map<string, Lock>();
  private running: Promise<void>[] = [];
  private pauseAt: 'holding' | 'released' | undefined;

  constructor(
    private readonly sessions: readonly Session[],
    private readonly prefix: string,
  ) {}

  start(): void {
    if (this.running.length > 0) return;
    this.pauseAt = undefined;
    this.running = this.sessions.map((session, worker) => this.work(session, `${this.prefix}/${worker}`));
  }

  async pause(at: 'holding' | 'released'): Promise<void> {
    this.pauseAt = at;
    await Promise.all(this.running);
    this.running = [];
  }

  /** With the workers paused, every lock must be exactly as its worker was last told. */
  async verify(client: Client): Promise<void> {
    for (const [name, state] of this.acked) {
      if (state.inFlight) continue;
      const lock = await client.lock(name);
      const token = lock?.holder?.token;
      if (state.op === 'acquire' && token !== state.token) this.problems.push(`${name}: acquire acknowledged with token ${state.token}, but the cluster has ${token ?? 'no holder'}`);
      if (state.op === 'release' && token !== undefined) this.problems.push(`${name}: release acknowledged, but the cluster has holder token ${token}`);
    }
  }

  private async work(session: Session, name: string): Promise<void> {
    const state = this.acked.get(name) ?? { op: 'release', token: undefined, inFlight: false, lastToken: 0n };
    this.acked.set(name, state);
    // A worker paused while holding resumes by releasing the Lock it kept.
    let lock = this.heldLocks.get(name);
    const pausedHere = () => this.pauseAt !== undefined && (this.pauseAt === 'holding') === (lock !== undefined);
    while (!pausedHere()) {
      state.inFlight = true;
      try {
        if (lock === undefined) {
          lock = await session.lock(name, { timeoutMs: requestTimeoutMs });
          if (lock.token <= state.lastToken) this.problems.push(`${name}: token ${lock.token} after ${state.lastToken}; fencing tokens must increase`);
          Object.assign(state, { op: 'acquire', token: lock.token, inFlight: false, lastToken: lock.token });
        } else {
          const releasing = lock;
          lock = undefined; // released locally whatever the answer (the SDK keeps resending a lost one)
          await releasing.release();
          Object.assign(state, { op: 'release', token: undefined, inFlight: false });
          this.cycles++;
        }
      } catch (error) {
        // The SDK retries every request until its deadline: a failure here is a finding.
        this.problems.push(`${name}: ${String(error)}`);
        if (session.state !== 'open') break;
        await sleep(10);
      }
    }
    if (lock === undefined) this.heldLocks.delete(name);
    else this.heldLocks.set(name, lock);
  }
}

function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}
