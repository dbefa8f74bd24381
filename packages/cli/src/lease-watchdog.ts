// LeaseWatchdog: the part of `lock run` / `election run` that still acts when the CLI cannot.
//
// The CLI supervises its command through the hold's AbortSignal, but a CLI that is frozen (SIGSTOP,
// a debugger) or killed (SIGKILL, the OOM killer) notices nothing, and its command would run on
// after the cluster gave the lock to someone else. So the command is also watched by a tiny detached
// process that knows only the lease deadline (send time of the last acknowledged keepalive + TTL,
// which the SDK guarantees comes before the cluster can expire the session, SPEC §3.6). Each
// acknowledged keepalive moves the deadline on; if the deadline passes with no newer one, the
// watchdog SIGTERMs the command's process group, then SIGKILLs it after the grace period. It is not
// in the CLI's process group, so freezing the CLI does not freeze it, and it keeps its last deadline
// when the CLI dies.
//
// The command must never run unguarded, not even for the milliseconds between its start and the
// watchdog's: a CLI killed in that window (its fork of the watchdog is then never made) would leave
// the command running past the lease. So the command starts behind a gate (see superviseChild in
// child-supervisor.ts) that lets it go only after this watchdog reports that it is armed.

import { spawn, type ChildProcess } from 'node:child_process';

/**
 * Runs in its own process (node -e): argv = [pid, ownGroup 0|1, graceMs, first deadline]; stdin: one later deadline per
 * line as an absolute process.hrtime value in nanoseconds (CLOCK_MONOTONIC, shared by every process
 * on the machine, so the watchdog's own start-up time cannot push the deadline later), or "stop".
 * Once its first deadline is armed it writes "armed" on stdout.
 */
const watchdogSource = `
const [pid, ownGroup, graceMs] = process.argv.slice(1, 4).map(Number);
let timer; let expiring = false;
const kill = (signal) => { try { process.kill(ownGroup === 1 ? -pid : pid, signal); } catch {} };
const expire = () => { expiring = true; kill('SIGTERM'); setTimeout(() => { kill('SIGKILL'); process.exit(0); }, graceMs); };
const arm = (deadlineNs) => { if (expiring) return; clearTimeout(timer); timer = setTimeout(expire, Math.max(0, Number(deadlineNs - process.hrtime.bigint()) / 1e6)); };
let pending = '';
arm(BigInt(process.argv[4]));
process.stdout.on('error', () => {});
process.stdout.write('armed\\n');
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  for (let end = pending.indexOf('\\n'); end >= 0; end = pending.indexOf('\\n')) {
    const line = pending.slice(0, end); pending = pending.slice(end + 1);
    if (line === 'stop') process.exit(0);
    if (/^[0-9]+$/.test(line)) arm(BigInt(line));
  }
});
process.stdin.on('error', () => {});
// The command is gone (it ended, or was killed): nothing left to guard.
setInterval(() => { try { process.kill(pid, 0); } catch { process.exit(0); } }, 250);
`;

export interface LeaseWatchdogOptions {
  /** The command's pid; with ownGroup, its process group is signalled. */
  readonly pid: number;
  readonly ownGroup: boolean;
  readonly graceMs: number;
  /** The current lease deadline, on this process's performance.now() clock. */
  readonly deadlineMs: number;
  /** The session TTL: the watchdog acts a little before each deadline (see safetyMarginMs). */
  readonly ttlMs: number;
}

/**
 * How long before the deadline the watchdog stops the command: 10% of the TTL, 50 ms–1 s. The SDK's
 * deadline beats the cluster's expiry by as little as a millisecond, and on a saturated machine a
 * timer and a SIGTERM handler can each run tens of milliseconds late. Stopping a frozen holder's
 * command early is always safe; a healthy CLI renews the deadline every TTL/3, so it never fires.
 */
export function safetyMarginMs(ttlMs: number): number {
  return Math.min(1000, Math.max(50, ttlMs / 10));
}

/** What superviseChild needs of a watchdog (tests give it one that arms late, or never). */
export interface CommandGuard {
  /** True once the watchdog holds its first deadline; false if it ended (or could not start) before. */
  readonly armed: Promise<boolean>;
  /** Settles when the watchdog is gone: after stop(), after it acted, or because something killed it. */
  readonly ended: Promise<void>;
  renew(deadlineMs: number): void;
  stop(): void;
}

export class LeaseWatchdog implements CommandGuard {
  readonly armed: Promise<boolean>;
  readonly ended: Promise<void>;
  private readonly process: ChildProcess;
  private stopped = false;
  private readonly marginMs: number;

  constructor(options: LeaseWatchdogOptions) {
    this.marginMs = safetyMarginMs(options.ttlMs);
    // The first deadline travels on the command line: a pipe write is flushed asynchronously and
    // would be lost if this process were killed right after spawning the watchdog.
    const firstDeadline = String(this.deadlineNs(options.deadlineMs));
    this.process = spawn(process.execPath, ['-e', watchdogSource, String(options.pid), options.ownGroup ? '1' : '0', String(options.graceMs), firstDeadline], {
      stdio: ['pipe', 'pipe', 'ignore'],
      detached: true, // its own group: a stop or kill aimed at the CLI's group does not reach it
    });
    this.process.stdin?.on('error', () => {});
    this.process.stdout?.on('error', () => {});
    this.process.on('error', () => {}); // a failed spawn: 'armed' settles false, 'ended' settles
    this.process.unref();
    this.ended = new Promise<void>((resolve) => {
      this.process.once('exit', () => resolve());
      this.process.once('error', () => resolve());
    });
    const stdout = this.process.stdout;
    this.armed = new Promise<boolean>((resolve) => {
      let heard = '';
      const settle = (armed: boolean) => {
        stdout?.off('data', onData);
        stdout?.destroy(); // nothing more comes, and an open pipe would keep this process alive
        resolve(armed);
      };
      const onData = (chunk: Buffer) => {
        heard += chunk.toString();
        if (heard.includes('armed\n')) settle(true);
      };
      stdout?.on('data', onData);
      stdout?.once('close', () => settle(false));
      // Not on 'exit': it can come before the last output is read. The pipe's close comes after it.
      this.process.once('error', () => settle(false));
    });
  }

  /** A deadline on this process's performance.now() clock as an absolute hrtime, less the safety margin. */
  private deadlineNs(deadlineMs: number): bigint {
    return process.hrtime.bigint() + BigInt(Math.floor((deadlineMs - this.marginMs - performance.now()) * 1e6));
  }

  /** A later deadline (an acknowledged keepalive). */
  renew(deadlineMs: number): void {
    if (this.stopped) return;
    this.process.stdin?.write(`${this.deadlineNs(deadlineMs)}\n`);
  }

  /** The command ended under the CLI's own supervision: the watchdog is no longer needed. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.process.stdin?.end('stop\n');
  }
}
