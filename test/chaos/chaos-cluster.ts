// ChaosCluster: real raftlockd processes, each behind its own FaultProxy, on free loopback ports.
//
// Every member gets the same --peers list, naming each member at its PROXY's address (the cluster id
// hashes that whole list, config.ts clusterIdOf), listens on a separate real port, and advertises
// its proxy address (main.ts requires --advertise to equal its own --peers entry). So all Raft
// traffic and all SDK traffic (clients are given the proxy addresses, and NOT_LEADER redirects name
// them too) crosses a proxy; the harness's own health probes go to the real ports directly.
//
// Every process it starts it stops, by pid: kill() and stop() send SIGKILL to the child's pid and
// wait for its exit; pause()/resume() send SIGSTOP/SIGCONT. An exit nobody asked for (a crash, an
// assertion failure: exit code 70) is reported through onUnexpectedExit.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SeededRandom } from '@raftlock/server/testing';
import { freePorts } from '../e2e/free-ports.js';
import { raftlockdPath as builtRaftlockdPath, sleep } from '../e2e/local-cluster.js';
import { emptyProxyCounters, FaultProxy, type ProxyCounters } from './fault-proxy.js';
import type { LinkConditions } from './link-conditions.js';

/** The server under test: the workspace build, or another build named by RAFTLOCK_CHAOS_RAFTLOCKD. */
export const chaosRaftlockdPath = process.env.RAFTLOCK_CHAOS_RAFTLOCKD ?? builtRaftlockdPath;

export type MemberState = 'running' | 'paused' | 'killed';

export interface ChaosMember {
  readonly id: string;
  /** Where the member really listens (health probes only). */
  readonly listenAddress: string;
  /** Its proxy: the address in --peers, --advertise, and what clients are given. */
  readonly address: string;
  readonly dataDir: string;
  readonly logPath: string;
  process: ChildProcess | undefined;
  state: MemberState;
  /** Set just before the harness signals the member, so its exit is not reported as a crash. */
  exitExpected: boolean;
}

export interface MemberStatus {
  readonly role: string;
  readonly leaderId: string | null;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export interface ChaosClusterOptions {
  readonly runDir: string;
  readonly memberCount: number;
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  /** --snapshot-entries and --snapshot-trailing: small, so compaction and InstallSnapshot happen under faults. */
  readonly snapshotEveryEntries: number;
  readonly snapshotTrailingEntries: number;
  /** token → chaos client id; each token gets the `client` role. */
  readonly clientTokens: ReadonlyMap<string, string>;
  readonly conditions: LinkConditions;
  readonly random: SeededRandom;
  readonly onUnexpectedExit: (memberId: string, code: number | null, signal: NodeJS.Signals | null) => void;
}

export class ChaosCluster {
  readonly members: ChaosMember[] = [];
  private readonly proxies: FaultProxy[] = [];
  private readonly tokenFilePath: string;
  /** A safety net: if this process exits without stop() (a test timeout, Ctrl-C), no member outlives it. */
  private readonly killOnExit = () => {
    for (const member of this.members) {
      if (member.process?.pid === undefined || member.state === 'killed') continue;
      try {
        process.kill(member.process.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };

  private constructor(
    private readonly options: ChaosClusterOptions,
    /** Frames forwarded, held, dropped and delayed by all proxies together. */
    readonly proxyCounters: ProxyCounters,
  ) {
    this.tokenFilePath = join(options.runDir, 'tokens');
  }

  static async start(options: ChaosClusterOptions): Promise<ChaosCluster> {
    if (!existsSync(chaosRaftlockdPath)) throw new Error(`no raftlockd at ${chaosRaftlockdPath}: run \`pnpm run build\` first (or set RAFTLOCK_CHAOS_RAFTLOCKD)`);
    const listenPorts = await freePorts(options.memberCount);
    const ids = listenPorts.map((_, position) => `n${position + 1}`);
    const counters = emptyProxyCounters();
    const cluster = new ChaosCluster(options, counters);
    const proxies = cluster.proxies;
    for (const [position, id] of ids.entries()) {
      proxies.push(
        await FaultProxy.start({
          memberId: id,
          target: `127.0.0.1:${listenPorts[position]}`,
          conditions: options.conditions,
          clientIdOfToken: (token) => options.clientTokens.get(token),
          random: options.random.fork(),
          counters,
        }),
      );
    }
    mkdirSync(join(options.runDir, 'data'), { recursive: true });
    for (const [position, id] of ids.entries()) {
      cluster.members.push({
        id,
        listenAddress: `127.0.0.1:${listenPorts[position]}`,
        address: (proxies[position] as FaultProxy).address,
        dataDir: join(options.runDir, 'data', id),
        logPath: join(options.runDir, `${id}.log`),
        process: undefined,
        state: 'killed',
        exitExpected: false,
      });
    }
    process.on('exit', cluster.killOnExit);
    writeFileSync(cluster.tokenFilePath, [...options.clientTokens.keys()].map((token) => `${token} client`).join('\n') + '\n', { mode: 0o600 });
    for (const member of cluster.members) cluster.spawn(member);
    return cluster;
  }

  get peersFlag(): string {
    return this.members.map((member) => `${member.id}=${member.address}`).join(',');
  }

  /** The addresses clients are given: every member's proxy. */
  get endpoints(): string[] {
    return this.members.map((member) => member.address);
  }

  member(id: string): ChaosMember {
    const member = this.members.find((candidate) => candidate.id === id);
    if (!member) throw new Error(`no member ${id}`);
    return member;
  }

  proxyOf(id: string): FaultProxy {
    const proxy = this.proxies.find((candidate) => candidate.memberId === id);
    if (!proxy) throw new Error(`no proxy for ${id}`);
    return proxy;
  }

  /** SIGKILL by pid and wait until the process is gone (works on a paused process too). */
  async kill(id: string): Promise<void> {
    const member = this.member(id);
    const child = member.process;
    if (!child || member.state === 'killed') return;
    member.exitExpected = true;
    const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid as number, 'SIGKILL');
    await exited;
    member.state = 'killed';
    member.process = undefined;
  }

  restart(id: string): void {
    const member = this.member(id);
    if (member.state !== 'killed') throw new Error(`member ${id} is ${member.state}, not killed`);
    this.spawn(member);
  }

  pause(id: string): void {
    const member = this.member(id);
    if (member.state !== 'running' || !member.process) throw new Error(`member ${id} is ${member.state}, not running`);
    process.kill(member.process.pid as number, 'SIGSTOP');
    member.state = 'paused';
  }

  resume(id: string): void {
    const member = this.member(id);
    if (member.state !== 'paused' || !member.process) throw new Error(`member ${id} is ${member.state}, not paused`);
    process.kill(member.process.pid as number, 'SIGCONT');
    member.state = 'running';
  }

  /** The member's own view (GET /status on its real port), or undefined if it does not answer. */
  async statusOf(id: string, timeoutMs = 1_000): Promise<MemberStatus | undefined> {
    const member = this.member(id);
    if (member.state !== 'running') return undefined;
    try {
      const response = await fetch(`http://${member.listenAddress}/status`, { signal: AbortSignal.timeout(timeoutMs) });
      if (response.status !== 200) return undefined;
      return (await response.json()) as MemberStatus;
    } catch {
      return undefined;
    }
  }

  /** Prometheus gauges from the member's GET /metrics (unlabelled series only), or undefined. */
  async metricsOf(id: string, timeoutMs = 2_000): Promise<Map<string, number> | undefined> {
    const member = this.member(id);
    if (member.state !== 'running') return undefined;
    try {
      const response = await fetch(`http://${member.listenAddress}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      const values = new Map<string, number>();
      for (const line of text.split('\n')) {
        const match = /^([a-z_]+) (\S+)$/.exec(line);
        if (match) values.set(match[1] as string, Number(match[2]));
      }
      return values;
    } catch {
      return undefined;
    }
  }

  /** The running member that says it leads (highest term wins if two still think so). */
  async leaderId(): Promise<string | undefined> {
    const statuses = await Promise.all(this.members.map(async (member) => ({ id: member.id, status: await this.statusOf(member.id) })));
    const leaders = statuses.filter((entry) => entry.status?.role === 'leader').sort((left, right) => (right.status?.term ?? 0) - (left.status?.term ?? 0));
    return leaders[0]?.id;
  }

  /**
   * Every member runs, answers /status, names the same leader, which says it leads, and has applied
   * everything it knows to be committed. Returns the elapsed time, or throws after timeoutMs.
   */
  async waitHealthy(timeoutMs: number): Promise<number> {
    const startedMs = performance.now();
    for (;;) {
      const statuses = await Promise.all(this.members.map((member) => this.statusOf(member.id)));
      const view = statuses.map((status, position) => `${this.members[position]?.id}:${status ? `${status.role}/leader=${status.leaderId}/term=${status.term}/applied=${status.appliedIndex}/commit=${status.commitIndex}` : 'no answer'}`).join(' ');
      const leaderId = statuses[0]?.leaderId;
      const healthy =
        leaderId !== null &&
        leaderId !== undefined &&
        statuses.every((status) => status !== undefined && status.leaderId === leaderId && status.appliedIndex >= status.commitIndex) &&
        statuses[this.members.findIndex((member) => member.id === leaderId)]?.role === 'leader';
      if (healthy) return performance.now() - startedMs;
      if (performance.now() - startedMs > timeoutMs) throw new Error(`cluster not healthy within ${timeoutMs} ms: ${view}`);
      await sleep(100);
    }
  }

  /**
   * Poll every member's /status every intervalMs and report each (member, term) it leads, once.
   * Returns the function that stops polling. Polls never overlap.
   */
  trackLeaders(intervalMs: number, onLeader: (member: string, term: number) => void): () => Promise<void> {
    const seen = new Set<string>();
    let polling: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      polling = polling.then(async () => {
        const statuses = await Promise.all(this.members.map(async (member) => ({ id: member.id, status: await this.statusOf(member.id, intervalMs) })));
        for (const { id, status } of statuses) {
          if (status?.role !== 'leader' || seen.has(`${id}@${status.term}`)) continue;
          seen.add(`${id}@${status.term}`);
          onLeader(id, status.term);
        }
      });
    }, intervalMs);
    return async () => {
      clearInterval(timer);
      await polling;
    };
  }

  /** SIGKILL every member by pid, then close the proxies. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => this.kill(member.id)));
    await Promise.all(this.proxies.map((proxy) => proxy.close()));
    process.off('exit', this.killOnExit);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  private spawn(member: ChaosMember): void {
    const { options } = this;
    const args = [
      chaosRaftlockdPath,
      '--id', member.id,
      '--listen', member.listenAddress,
      '--advertise', member.address,
      '--peers', this.peersFlag,
      '--data-dir', member.dataDir,
      '--heartbeat-ms', String(options.heartbeatMs),
      '--election-timeout-ms', String(options.electionTimeoutMs),
      '--snapshot-entries', String(options.snapshotEveryEntries),
      '--snapshot-trailing', String(options.snapshotTrailingEntries),
      '--token-file', this.tokenFilePath,
      '--log-level', 'warn',
    ];
    // Logs go straight to a file per member (kept with the history), not through this process.
    const logFd = openSync(member.logPath, 'a');
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, args, { stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    member.process = child;
    member.state = 'running';
    member.exitExpected = false;
    child.once('exit', (code, signal) => {
      if (member.process !== child) return;
      if (!member.exitExpected) {
        member.state = 'killed';
        member.process = undefined;
        options.onUnexpectedExit(member.id, code, signal);
      }
    });
  }
}
