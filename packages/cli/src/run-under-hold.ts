// runUnderHold: the life of `lock run` and `election run` — connect, open a session, wait for the
// lock (or leadership), run the command while it is held, give it back, and choose the exit code:
//   - the command's own code (128 + signal if a signal ended it), when the hold lasted;
//   - 1 when the hold may have been lost while the command ran (the command was stopped; the reason
//     was printed when it happened), or when --wait ran out;
//   - 3 when the cluster could not be reached within --timeout (the command never started);
//   - 128 + signal when Ctrl-C (or SIGTERM/SIGHUP) came before the command started;
//   - 127 / 126 when the command is not found / not executable: checked first, so no lock is taken.
// Loaded lazily (it imports the SDK through cluster-connection).

import type { Client, Session } from '@raftlock/client';
import { superviseChild } from './child-supervisor.js';
import type { CommandRun } from './cli-context.js';
import { beforeDeadline, connectCluster } from './cluster-connection.js';
import { formatDuration } from './duration.js';
import { CliError, exitCodes, serviceCodeOf } from './exit-codes.js';
import { formatCommandLine } from './output.js';
import { checkRunnable } from './runnable-command.js';
import { signalExitCode, trapSignals } from './signals.js';

/** A lock or a leadership, as the command runs under it. */
export interface Hold {
  readonly token: bigint;
  /** Aborted the moment the hold may be lost. */
  readonly signal: AbortSignal;
  /** Given to the command on top of the CLI's environment. */
  readonly env: Readonly<Record<string, string>>;
  release(): Promise<void>;
}

export interface RunUnderHoldOptions {
  readonly run: CommandRun;
  /** 'lock "job"', for messages. */
  readonly holdName: string;
  readonly command: readonly string[];
  readonly ttlMs: number;
  /** Give up waiting after this long; undefined: wait as long as it takes. */
  readonly waitMs: number | undefined;
  readonly graceMs: number;
  readonly clientName: string;
  /** Wait for the hold; null means "held elsewhere" (--wait 0). */
  acquire(client: Client, session: Session, signal: AbortSignal): Promise<Hold | null>;
}

class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

export async function runUnderHold(options: RunUnderHoldOptions): Promise<number> {
  const { output, globals } = options.run;
  const [file] = options.command;
  const unrunnable = file === undefined ? undefined : await checkRunnable(file);
  if (unrunnable !== undefined) throw new CliError(unrunnable.exitCode, unrunnable.message);
  const interruption = new AbortController();
  const interrupted = new Promise<never>((_resolve, reject) => {
    interruption.signal.addEventListener('abort', () => reject(interruption.signal.reason as Error), { once: true });
  });
  interrupted.catch(() => undefined);
  let untrap = trapSignals((signal) => interruption.abort(new Interrupted(signal)));
  let client: Client | undefined;
  const connecting = connectCluster(globals);
  try {
    // Until the command starts, Ctrl-C simply stops everything: nothing to hand over yet. Reaching
    // the cluster and opening the session must happen within --timeout (exit 3); the wait need not.
    client = await Promise.race([beforeDeadline(globals, connecting), interrupted]);
    const opened = client.session({ ttlMs: options.ttlMs, name: options.clientName });
    opened.catch(() => undefined);
    const session = await Promise.race([beforeDeadline(globals, opened), interrupted]);
    output.progress(`waiting for ${options.holdName}${options.waitMs === undefined ? '' : ` (at most ${formatDuration(options.waitMs)})`}`);
    let hold: Hold | null;
    try {
      hold = await options.acquire(client, session, interruption.signal);
    } catch (error) {
      if (interruption.signal.aborted) throw interruption.signal.reason;
      if (serviceCodeOf(error) === 'TIMEOUT' && options.waitMs !== undefined) {
        throw new CliError(exitCodes.failed, `${options.holdName} was not acquired within ${formatDuration(options.waitMs)} (--wait); the command was not run`);
      }
      throw error;
    }
    if (hold === null) throw new CliError(exitCodes.failed, `${options.holdName} is held by another session (--wait 0); the command was not run`);
    untrap();
    untrap = () => undefined;
    if (hold.signal.aborted) throw new CliError(exitCodes.failed, `${options.holdName} was lost before the command could start: ${String((hold.signal.reason as Error | undefined)?.message ?? hold.signal.reason)}`);

    output.progress(`holding ${options.holdName} with fencing token ${hold.token}; running ${formatCommandLine(options.command)}`);
    const exit = await superviseChild({ command: options.command, env: hold.env, lossSignal: hold.signal, graceMs: options.graceMs, holdName: options.holdName, output, lease: session });
    if (exit.kind === 'not-started') {
      await hold.release().catch(() => undefined);
      throw new CliError(exit.exitCode, exit.message);
    }
    if (exit.lossReason !== undefined) return exitCodes.failed;
    try {
      await hold.release();
    } catch (error) {
      // Closing the session below frees it too; failing that, the lease runs out within the TTL.
      output.warn(`could not release ${options.holdName} (${error instanceof Error ? error.message : String(error)}); it is freed when the session ends or expires (at most ${formatDuration(options.ttlMs)})`);
    }
    return exit.exitCode;
  } catch (error) {
    if (error instanceof Interrupted) {
      output.warn(`${error.signal}: stopped before the command started`);
      return signalExitCode(error.signal);
    }
    throw error;
  } finally {
    untrap();
    // Closing the session releases whatever it still holds or waits for.
    if (client !== undefined) await client.close().catch(() => undefined);
    else connecting.then((late) => late.close()).catch(() => undefined);
  }
}
