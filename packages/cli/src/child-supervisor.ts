// superviseChild: run the command of `lock run` / `election run` while the hold lasts.
//
// What it guarantees, and what it cannot:
//   - when the hold may be lost (its AbortSignal fires: lease lapsed, session lost, force-released),
//     the command gets SIGTERM at once and SIGKILL after the grace period, and the run reports the
//     loss (the caller exits non-zero);
//   - the command runs in its own process group (unless stdin is a terminal, see below), and every
//     signal goes to the whole group, so `sh -c 'a | b'` loses a and b too, not just sh;
//   - Ctrl-C / SIGTERM / SIGHUP to the CLI are forwarded to the command; a second one SIGKILLs it.
//   - while the CLI itself is frozen (SIGSTOP) or was killed (SIGKILL), a detached LeaseWatchdog
//     still stops the command's group at the lease deadline, which comes before the cluster can give
//     the lock to anyone else. What nothing on this machine can stop is a pause of the whole machine
//     (a VM freeze): that is what fencing tokens are for — the command gets RAFTLOCK_TOKEN and should
//     pass it with every write to the resource the lock protects, so a stale holder is refused.
//
// The command starts gated: /bin/sh waits on fd 3 for "go" and then execs the command in its own
// place (same pid, same process group), so the watchdog can be given the command's pid before the
// command does anything. "go" is written only once the watchdog reports it is armed, and only while
// the lease has not run out and no loss or signal came; if this process dies first, the gate reads
// end-of-file and the command never runs; if the watchdog cannot start (or does not arm within
// watchdogArmingLimitMs), the command is not run either (an unguarded command could outlive its
// lease). A watchdog that dies while the command runs (someone killed it) is replaced at once.
//
// With a terminal on stdin the command stays in the CLI's process group, so it can read the terminal
// (a background group would be stopped with SIGTTIN) and Ctrl-C reaches it directly from the
// terminal; signals then go to the command's process only.

import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import { formatDuration } from './duration.js';
import { LeaseWatchdog, safetyMarginMs, type CommandGuard, type LeaseWatchdogOptions } from './lease-watchdog.js';
import type { Output } from './output.js';
import { execWordFor } from './runnable-command.js';
import { signalExitCode, trapSignals } from './signals.js';

export interface SuperviseOptions {
  /** The command and its arguments, not interpreted by a shell (the gate execs them as they are). */
  readonly command: readonly string[];
  /** Added to the CLI's environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Aborted when the hold may be lost; its reason says why. */
  readonly lossSignal: AbortSignal;
  readonly graceMs: number;
  /** 'lock "job"', for messages. */
  readonly holdName: string;
  readonly output: Output;
  /** The session's lease: its deadline now, and each time a keepalive moves it. */
  readonly lease: LeaseSource;
  /** Starts the command's watchdog; tests give one that arms late or never. */
  readonly startWatchdog?: (options: LeaseWatchdogOptions) => CommandGuard;
}

export interface LeaseSource {
  readonly leaseDeadlineMs: number;
  readonly ttlMs: number;
  on(event: 'keepalive', listener: (ack: { deadlineMs: number }) => void): unknown;
  off(event: 'keepalive', listener: (ack: { deadlineMs: number }) => void): unknown;
}

export type SupervisedExit =
  /** The command ran to its end; exitCode is its own, or 128 + signal. */
  | { readonly kind: 'exited'; readonly exitCode: number; readonly lossReason: string | undefined }
  /** The command was not run: 126, its watchdog could not be started, or /bin/sh could not be (127/126 for a command not found or not executable are checkRunnable's, before any lock is taken). */
  | { readonly kind: 'not-started'; readonly exitCode: number; readonly message: string };

export function reasonText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

/** Waits for "go" on fd 3, closes it, and becomes the command ("$@"); anything else: exit unrun. */
const gateScript = 'IFS= read -r go <&3 && [ "$go" = go ] || exit 125; exec 3<&-; exec "$@"';

/** A watchdog that has not armed by then is taken as one that could not start (normally ~50 ms). */
export const watchdogArmingLimitMs = 10_000;

export function superviseChild(options: SuperviseOptions): Promise<SupervisedExit> {
  const [file, ...args] = options.command;
  if (file === undefined) throw new RangeError('superviseChild: empty command');
  const ownGroup = process.stdin.isTTY !== true;
  const child = spawn('/bin/sh', ['-c', gateScript, 'raftlock-gate', execWordFor(file), ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, ...options.env },
    detached: ownGroup,
  });
  const gate = child.stdio[3] as Writable | null;
  gate?.on('error', () => {}); // the gate died (a signal): its exit is reported below
  const startWatchdog = options.startWatchdog ?? ((watchdogOptions: LeaseWatchdogOptions) => new LeaseWatchdog(watchdogOptions));
  const guardCommand = (): CommandGuard | undefined => {
    if (child.pid === undefined) return undefined;
    try {
      return startWatchdog({ pid: child.pid, ownGroup, graceMs: options.graceMs, deadlineMs: options.lease.leaseDeadlineMs, ttlMs: options.lease.ttlMs });
    } catch {
      return undefined; // spawn can throw (ENOMEM, EAGAIN): the command is then not run
    }
  };
  let watchdog = guardCommand();
  const onKeepalive = (ack: { deadlineMs: number }) => watchdog?.renew(ack.deadlineMs);
  options.lease.on('keepalive', onKeepalive);
  const leaseLeft = () => performance.now() < options.lease.leaseDeadlineMs - safetyMarginMs(options.lease.ttlMs);

  const signalChild = (signal: NodeJS.Signals): void => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      if (ownGroup) process.kill(-child.pid, signal);
      else child.kill(signal);
    } catch {
      child.kill(signal); // the group is gone already; the process may not be
    }
  };

  return new Promise<SupervisedExit>((resolve) => {
    let lossReason: string | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let forwarded = 0;
    let firstSignal: NodeJS.Signals | undefined;
    let watchdogFailed = false;
    let gateOpened = false;
    let finished = false;

    /** The run has failed (`what` says how): SIGTERM the command now, SIGKILL it after the grace period. */
    const stopCommand = (reason: string, what: string) => {
      lossReason = reason;
      options.output.warn(`${what}; stopping the command: SIGTERM now, SIGKILL after ${formatDuration(options.graceMs)}`);
      signalChild('SIGTERM');
      killTimer = setTimeout(() => signalChild('SIGKILL'), options.graceMs);
    };
    const onLoss = () => {
      const reason = reasonText(options.lossSignal.reason);
      stopCommand(reason, `${options.holdName} may have been lost (${reason})`);
    };
    const untrap = trapSignals((signal) => {
      forwarded++;
      firstSignal ??= signal;
      if (forwarded > 1) {
        signalChild('SIGKILL');
        return;
      }
      // In the terminal's group, the terminal has delivered Ctrl-C to the command already.
      if (!(signal === 'SIGINT' && !ownGroup)) signalChild(signal);
    });
    const finish = (exit: SupervisedExit) => {
      finished = true;
      options.lease.off('keepalive', onKeepalive);
      watchdog?.stop();
      clearTimeout(killTimer);
      untrap();
      options.lossSignal.removeEventListener('abort', onLoss);
      resolve(exit);
    };

    child.once('error', (error: NodeJS.ErrnoException) => {
      if (child.pid !== undefined) return; // an error after the start (a failed kill): 'exit' still comes
      finish({ kind: 'not-started', exitCode: 126, message: `cannot run ${file}: cannot start /bin/sh for it (${error.message})` });
    });
    child.once('exit', (code, signal) => {
      // Past the deadline the watchdog may have stopped the command before this process (frozen, or
      // just slower) noticed the loss itself: that is a loss too, never the command's own exit code.
      if (lossReason === undefined && !leaseLeft()) {
        lossReason = 'its lease may have lapsed';
        options.output.warn(`${options.holdName} may have been lost (${lossReason}); the lease watchdog stopped the command`);
      }
      // After a loss, nothing the command started may outlive it.
      if (lossReason !== undefined && ownGroup && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // the group is already empty
        }
      }
      if (watchdogFailed) {
        finish({ kind: 'not-started', exitCode: 126, message: `cannot run ${file}: its lease watchdog could not be started, and the command is never run unguarded` });
        return;
      }
      // A gate stopped before it opened never ran the command: its exit code (125) is not the command's.
      const exitCode = signal !== null ? signalExitCode(signal) : !gateOpened && firstSignal !== undefined ? signalExitCode(firstSignal) : (code ?? 1);
      finish({ kind: 'exited', exitCode, lossReason });
    });
    if (options.lossSignal.aborted) onLoss();
    else options.lossSignal.addEventListener('abort', onLoss, { once: true });
    /** A watchdog that ends while the command runs is replaced: the command is never left unguarded. */
    const replaceWhenEnded = (guard: CommandGuard) => {
      void guard.ended.then(() => {
        if (finished || watchdog !== guard || child.exitCode !== null || child.signalCode !== null) return;
        options.output.warn('the lease watchdog ended while the command runs; starting another');
        watchdog = guardCommand();
        if (watchdog === undefined) {
          // Nothing can stop the command should this process freeze or die: stop it now, as for a loss.
          const reason = 'its lease watchdog could not be restarted';
          stopCommand(reason, `${options.holdName}: ${reason}`);
          return;
        }
        replaceWhenEnded(watchdog);
      });
    };
    const first = watchdog;
    let armingTimer: NodeJS.Timeout | undefined;
    const armedInTime =
      first === undefined
        ? Promise.resolve(false) // it could not be started at all
        : Promise.race([
            first.armed,
            new Promise<boolean>((resolve) => {
              armingTimer = setTimeout(() => resolve(false), watchdogArmingLimitMs);
              armingTimer.unref();
            }),
          ]);
    void armedInTime.then((armed) => {
      clearTimeout(armingTimer);
      if (!armed) {
        watchdogFailed = true;
        first?.stop();
      }
      // After a loss, a signal or the lease's end the gate must not exec the command (a loss or a
      // signal is stopping it already; past the deadline the exit reports the lapse).
      if (first !== undefined && armed && lossReason === undefined && forwarded === 0 && leaseLeft()) {
        gateOpened = true;
        gate?.end('go\n');
        replaceWhenEnded(first);
      } else {
        gate?.destroy(); // end-of-file: the gate exits and the command never runs
      }
    });
  });
}
