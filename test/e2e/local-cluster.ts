// LocalCluster: real raftlockd processes on free loopback ports with temp data dirs. Every process it
// starts it stops, by pid, in stop(); tests use `await using` so that happens even on failure.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './free-ports.js';
import { ProtocolClient, type Reply } from './protocol-client.js';

export const raftlockdPath = fileURLToPath(new URL('../../packages/server/dist/main.js', import.meta.url));

export interface Member {
  readonly id: string;
  readonly address: string;
  readonly dataDir: string;
  process: ChildProcess | undefined;
  output: string;
}

export interface LocalClusterOptions {
  readonly size: number;
  readonly heartbeatMs?: number;
  readonly electionTimeoutMs?: number;
  /** Extra flags for every member; a function gets the cluster's temp root (for secret files). */
  readonly extraArgs?: readonly string[] | ((rootDir: string) => string[]);
  /** Flags for node itself before the script (e.g. --cpu-prof for `pnpm bench --cpu-prof DIR`). */
  readonly nodeArgs?: readonly string[];
  /** Flags for one member alone (its own certificate), placed before extraArgs. */
  readonly memberArgs?: (member: Member) => string[];
  /** The members serve TLS: readiness and status are asked over https:// and wss://, trusting this CA. */
  readonly tlsCa?: Buffer;
}

/** How a member is started: with the bootstrap --peers, with --join, or from its data dir alone. */
export type StartMode = 'bootstrap' | 'join' | 'data-dir';

export class LocalCluster {
  readonly members: Member[];
  readonly rootDir: string;
  /** The --peers list the cluster was bootstrapped with (members added later are not in it). */
  private readonly bootstrapPeers: string;
  private readonly startModes = new Map<string, StartMode>();
  private readonly timing: { readonly heartbeatMs: number; readonly electionTimeoutMs: number };
  private extraArgs: readonly string[];
  private readonly nodeArgs: readonly string[];
  private readonly memberArgs: (member: Member) => string[];
  readonly tlsCa: Buffer | undefined;

  private constructor(rootDir: string, ports: number[], options: LocalClusterOptions) {
    this.nodeArgs = options.nodeArgs ?? [];
    this.rootDir = rootDir;
    this.memberArgs = options.memberArgs ?? (() => []);
    this.tlsCa = options.tlsCa;
    this.timing = { heartbeatMs: options.heartbeatMs ?? 50, electionTimeoutMs: options.electionTimeoutMs ?? 500 };
    const extraArgs = options.extraArgs ?? [];
    this.extraArgs = typeof extraArgs === 'function' ? extraArgs(rootDir) : extraArgs;
    this.members = ports.map((port, position) => ({ id: `n${position + 1}`, address: `127.0.0.1:${port}`, dataDir: join(rootDir, `n${position + 1}`), process: undefined, output: '' }));
    this.bootstrapPeers = this.members.map((member) => `${member.id}=${member.address}`).join(',');
  }

  /** Start a new, empty member with --join on a free port; it waits to be added (`members add`). */
  async startJoiner(id: string, extraArgs: readonly string[] = []): Promise<Member> {
    const [port] = await freePorts(1);
    const member: Member = { id, address: `127.0.0.1:${port}`, dataDir: join(this.rootDir, `${id}-${Date.now()}`), process: undefined, output: '' };
    this.members.push(member);
    this.startModes.set(id, 'join');
    this.spawnMemberWith(member, [...this.extraArgs, ...extraArgs]);
    return member;
  }

  /** From now on start `id` from its data dir alone (no --peers), as after membership changes. */
  setStartMode(id: string, mode: StartMode): void {
    this.startModes.set(id, mode);
  }

  /** Forget a member that was removed from the cluster (its process must be stopped already). */
  forget(id: string): void {
    const position = this.members.findIndex((member) => member.id === id);
    if (position >= 0 && this.members[position]?.process === undefined) this.members.splice(position, 1);
  }

  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const rootDir = await mkdtemp(join(tmpdir(), 'raftlock-e2e-'));
    const cluster = new LocalCluster(rootDir, await freePorts(options.size), options);
    for (const member of cluster.members) cluster.spawnMember(member);
    await cluster.waitReady();
    return cluster;
  }

  get peersFlag(): string {
    return this.bootstrapPeers;
  }

  member(id: string): Member {
    const member = this.members.find((candidate) => candidate.id === id);
    if (!member) throw new Error(`no member ${id}`);
    return member;
  }

  spawnMember(member: Member): void {
    const mode = this.startModes.get(member.id) ?? 'bootstrap';
    const args = [
      ...this.nodeArgs,
      raftlockdPath,
      '--id', member.id,
      '--listen', member.address,
      ...(mode === 'bootstrap' ? ['--peers', this.peersFlag] : mode === 'join' ? ['--join'] : []),
      '--data-dir', member.dataDir,
      '--heartbeat-ms', String(this.timing.heartbeatMs),
      '--election-timeout-ms', String(this.timing.electionTimeoutMs),
      '--log-level', 'warn',
      ...this.memberArgs(member),
      ...this.extraArgs,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    member.output = '';
    child.stdout?.on('data', (chunk: Buffer) => (member.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (member.output += chunk.toString()));
    member.process = child;
  }

  /** Start a member with extra flags (e.g. a different secret) in place of its usual ones. */
  spawnMemberWith(member: Member, extraArgs: readonly string[]): void {
    const saved = this.extraArgs;
    this.extraArgs = extraArgs;
    try {
      this.spawnMember(member);
    } finally {
      this.extraArgs = saved;
    }
  }

  /** SIGKILL (or another signal) a member, by pid, and wait for it to be gone. */
  async kill(id: string, signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    const member = this.member(id);
    const child = member.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(child.pid as number, signal);
    const code = await exited;
    member.process = undefined;
    return code;
  }

  restart(id: string): void {
    this.spawnMember(this.member(id));
  }

  /** Every running member answers /readyz 200. */
  async waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const member of this.members) {
      if (!member.process) continue;
      while (!(await isReady(member.address, this.tlsCa))) {
        if (Date.now() > deadline) throw new Error(`member ${member.id} not ready within ${timeoutMs} ms:\n${member.output.slice(-2000)}`);
        await sleep(50);
      }
    }
  }

  /** The member that reports itself leader (asked through cluster.status on each running member). */
  async leader(timeoutMs = 10_000): Promise<Member> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const member of this.members) {
        if (!member.process) continue;
        const status = await statusOf(member.address, this.tlsCa);
        if (status?.role === 'leader') return member;
      }
      if (Date.now() > deadline) throw new Error('no leader elected in time');
      await sleep(25);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((member) => this.kill(member.id, 'SIGKILL')));
    await rm(this.rootDir, { recursive: true, force: true });
  }
}

/** GET /readyz answers 200; over https:// trusting tlsCa when given. */
export async function isReady(address: string, tlsCa?: Buffer): Promise<boolean> {
  if (tlsCa !== undefined) return (await httpsStatusCode(`https://${address}/readyz`, tlsCa)) === 200;
  try {
    const response = await fetch(`http://${address}/readyz`, { signal: AbortSignal.timeout(1000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

/** The status code of an https GET trusting ca, or undefined when no answer came within a second. */
export function httpsStatusCode(url: string, ca: Buffer): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = httpsGet(url, { ca, timeout: 1000 }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode));
      response.on('error', () => resolve(undefined));
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(undefined));
  });
}

export async function statusOf(address: string, tlsCa?: Buffer): Promise<Record<string, unknown> | undefined> {
  let client: ProtocolClient | undefined;
  try {
    client = await ProtocolClient.connect(address, tlsCa === undefined ? {} : { tls: { ca: tlsCa } });
    const reply: Reply = await Promise.race([client.request('cluster.status', {}), sleep(1000).then((): Reply => ({ ok: false, error: { code: 'TIMEOUT', message: 'status timed out' } }))]);
    return reply.ok ? reply.result : undefined;
  } catch {
    return undefined;
  } finally {
    client?.close();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
