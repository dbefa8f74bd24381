// CliProcess: the built `raftlock` binary (packages/cli/dist/main.js, from `pnpm -s build`) run as a
// real process, the way an operator or a script runs it. Output is collected as it comes; every
// process started here is stopped by pid in stop() (SIGCONT first, in case a test froze it), and
// tests hold them with `await using`.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const raftlockPath = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

export interface CliResult {
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From spawn to exit. */
  readonly elapsedMs: number;
}

export interface CliOptions {
  /** Added to the environment (RAFTLOCK_ENDPOINTS and RAFTLOCK_AUTH_TOKEN are cleared first). */
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
}

export class CliProcess {
  stdout = '';
  stderr = '';
  private readonly startedMs = performance.now();
  private readonly exited: Promise<CliResult>;

  private constructor(
    readonly args: readonly string[],
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => {
      child.once('exit', (exitCode, signal) => {
        const elapsedMs = performance.now() - this.startedMs;
        // 'exit' can come before the last output: wait for the pipes to close.
        child.once('close', () => resolve({ exitCode, signal, stdout: this.stdout, stderr: this.stderr, elapsedMs }));
      });
    });
  }

  static start(args: readonly string[], options: CliOptions = {}): CliProcess {
    if (!existsSync(raftlockPath)) throw new Error(`${raftlockPath} is missing: run \`pnpm -s build\` first`);
    const env: Record<string, string | undefined> = { ...process.env, RAFTLOCK_ENDPOINTS: undefined, RAFTLOCK_AUTH_TOKEN: undefined, NO_COLOR: '1', ...options.env };
    // stdin is not a terminal: `lock run` puts its command in its own process group.
    const child = spawn(process.execPath, [raftlockPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: options.cwd });
    return new CliProcess(args, child);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get isRunning(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.isRunning) process.kill(this.pid, signal);
  }

  /** The exit, or an error after timeoutMs (the process is then left for stop()). */
  async waitExit(timeoutMs: number): Promise<CliResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`raftlock ${this.args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${this.stdout}\nstderr: ${this.stderr}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    if (!this.isRunning) return;
    process.kill(this.pid, 'SIGCONT');
    process.kill(this.pid, 'SIGKILL');
    await this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Run raftlock to its end (bounded by timeoutMs). */
export async function runCli(args: readonly string[], timeoutMs = 15_000, options: CliOptions = {}): Promise<CliResult> {
  await using cli = CliProcess.start(args, options);
  return await cli.waitExit(timeoutMs); // awaited here, before the disposal stops the process
}

export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

export function readLines(path: string): string[] {
  return existsSync(path) ? lines(readFileSync(path, 'utf8')) : [];
}

/** Whether a process is alive: it exists and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live (non-zombie) processes in a process group, from /proc. */
export function liveProcessesInGroup(processGroupId: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] = state, fields[1] = ppid, fields[2] = pgrp
      if (Number(fields[2]) === processGroupId && fields[0] !== 'Z') pids.push(Number(entry));
    } catch {
      // gone while we looked
    }
  }
  return pids;
}

