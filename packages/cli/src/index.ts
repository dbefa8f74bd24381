// @raftlock/cli: the `raftlock` operator CLI (SPEC §7). run(argv) parses with yargs and runs one
// command; it returns the exit code instead of exiting, so tests can drive it in-process (main.ts
// is the binary, bundled by scripts/bundle-bin.mjs). Every command module is cheap to load: the SDK
// (ws, msgpackr) is imported only by the handler that needs it, so `raftlock --help` and usage
// errors stay fast.
//
// Exit codes (exit-codes.ts): 0 success, 1 failed, 2 usage, 3 cluster unavailable; `lock run` and
// `election run` pass their command's code through. Every failure is one line on stderr.

import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { CliContext, defaultEndpoints, defaultTimeout, durationOption } from './cli-context.js';
import { electionCommand } from './commands/election.js';
import { lockCommand } from './commands/lock.js';
import { locksCommand } from './commands/locks.js';
import { membersCommand } from './commands/members.js';
import { sessionsCommand } from './commands/sessions.js';
import { snapshotCommand } from './commands/snapshot.js';
import { statusCommand } from './commands/status.js';
import { watchCommand } from './commands/watch.js';
import { describeError, exitCodeFor, exitCodes, oneLine } from './exit-codes.js';
import { helpHint, unknownCommandWord } from './help-hint.js';
import type { CliIo } from './output.js';

export { exitCodes, type ExitCode } from './exit-codes.js';
export type { CliIo, OutputStream } from './output.js';

function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Thrown from yargs' fail handler: bad usage, already one line. */
class UsageFailure extends Error {}

function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export interface RunOptions {
  /** performance.now() at which --timeout starts counting; the binary passes 0, the process's start. */
  readonly startedAtMs?: number;
}

/** Run `raftlock` with argv (without node and the script); resolves with the exit code. */
export async function run(argv: readonly string[], io: CliIo = processIo(), options: RunOptions = {}): Promise<number> {
  const context = new CliContext(io, options.startedAtMs ?? performance.now());
  const parser = yargs()
    .scriptName('raftlock')
    .usage('$0 <command> [options]\n\nInspect and use a raftlock cluster: locks, sessions, elections, members.')
    .parserConfiguration({ 'populate--': true, 'duplicate-arguments-array': false, 'strip-aliased': true })
    .env(false)
    .options({
      endpoints: {
        type: 'string',
        default: io.env['RAFTLOCK_ENDPOINTS'] || defaultEndpoints,
        defaultDescription: `$RAFTLOCK_ENDPOINTS or ${defaultEndpoints}`,
        describe: 'cluster members to reach, host:port[,host:port…]; any one will do',
        global: true,
      },
      token: {
        type: 'string',
        default: io.env['RAFTLOCK_AUTH_TOKEN'] || undefined,
        defaultDescription: '$RAFTLOCK_AUTH_TOKEN',
        describe: 'bearer token for clusters that require one',
        global: true,
      },
      tls: {
        type: 'boolean',
        default: ['1', 'true'].includes(io.env['RAFTLOCK_TLS'] ?? ''),
        defaultDescription: '$RAFTLOCK_TLS',
        describe: "reach members over wss:// and https://, trusting the system's CAs (or --tls-ca)",
        global: true,
      },
      'tls-ca': {
        type: 'string',
        default: io.env['RAFTLOCK_TLS_CA'] || undefined,
        defaultDescription: '$RAFTLOCK_TLS_CA',
        describe: "PEM file of the CA that signed the members' certificates (implies --tls)",
        global: true,
      },
      json: { type: 'boolean', default: false, describe: 'machine-readable output: one JSON document (streams: one object per line)', global: true },
      timeout: { type: 'string', default: defaultTimeout, describe: 'give up (exit 3) if the cluster does not answer within this (e.g. 500ms, 5s, 1m)', coerce: durationOption('--timeout'), global: true },
    })
    .command(statusCommand(context))
    .command(locksCommand(context))
    .command(lockCommand(context))
    .command(sessionsCommand(context))
    .command(electionCommand(context))
    .command(watchCommand(context))
    .command(membersCommand(context))
    .command(snapshotCommand(context))
    .completion('completion', 'print a bash/zsh completion script (raftlock completion >> ~/.bashrc)')
    .example('$0 status', 'is the cluster healthy, and who leads?')
    .example('$0 locks orders/', 'who holds what under orders/, and who waits')
    .example('$0 lock run nightly-backup -- ./backup.sh', 'run backup.sh while holding the lock nightly-backup')
    .example('$0 watch --json', 'every lock event as it happens, one JSON object per line')
    .epilogue('Exit codes: 0 success, 1 operation failed, 2 usage error, 3 cluster unavailable (no member answered within --timeout). `lock run` and `election run` exit with their command\'s code. Reference: docs/cli.md')
    .demandCommand(1, 'give a command')
    .recommendCommands()
    .strict()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .wrap(Math.min(120, io.stdout.columns ?? 100))
    .fail((message: string | undefined, error: Error | undefined) => {
      const text = oneLine(error?.message ?? message ?? 'bad usage');
      // yargs' recommendCommands says only "Did you mean locks?": name the word it did not know.
      const suggestion = /^Did you mean (.+)\?$/.exec(text);
      const unknown = suggestion === null ? undefined : unknownCommandWord(argv);
      throw new UsageFailure(unknown === undefined ? text : `unknown command ${JSON.stringify(unknown)}; did you mean ${suggestion?.[1]}?`);
    });

  let helpOutput = '';
  try {
    await parser.parseAsync([...argv], {}, (_error, _parsed, output) => {
      helpOutput = output;
    });
  } catch (error) {
    if (error instanceof UsageFailure) {
      io.stderr.write(`raftlock: ${error.message} (see ${helpHint(argv)})\n`);
      return exitCodes.usage;
    }
    io.stderr.write(`raftlock: ${describeError(error)}\n`);
    return exitCodeFor(error);
  }
  // --help, --version and completion print through here; commands print themselves.
  if (helpOutput !== '') io.stdout.write(helpOutput.endsWith('\n') ? helpOutput : `${helpOutput}\n`);
  const outcome = context.outcome;
  if (outcome === undefined) return exitCodes.success;
  if ('exitCode' in outcome) return outcome.exitCode;
  io.stderr.write(`raftlock: ${describeError(outcome.error)}\n`);
  return exitCodeFor(outcome.error);
}
