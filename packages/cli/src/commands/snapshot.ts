// raftlock snapshot save FILE: a consistent backup of the replicated state, for `raftlockd --restore`.
//
// The leader takes a fresh snapshot of everything committed and the SDK streams it, chunk by chunk,
// into FILE.tmp, which is fsynced and renamed to FILE: FILE is either the complete backup or left as
// it was (see @raftlock/client snapshots.ts; the format is @raftlock/protocol snapshot-file.ts).
// Like `lock run`, the cluster must answer within --timeout; the transfer then takes as long as the
// state needs (each request still within --timeout). Ctrl-C stops it, removes FILE.tmp, and exits
// 130 without touching FILE.

import type { Argv, CommandModule } from 'yargs';
import type { SavedSnapshot } from '@raftlock/client';
import { action, type CliContext } from '../cli-context.js';
import { CliError, exitCodes } from '../exit-codes.js';
import { describeMembers } from './members.js';

/** On a terminal, a progress line at most this often while a large backup streams in. */
const progressIntervalMs = 1_000;

/** 1536 → "1.5 KiB": sizes for people (the JSON has exact bytes). */
export function formatBytes(byteCount: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = byteCount;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${byteCount} bytes` : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The one line a successful save prints. */
export function savedLine(saved: SavedSnapshot): string {
  return `saved the state at index ${saved.index} (term ${saved.term}; ${formatBytes(saved.totalBytes)}; members ${describeMembers(saved.members)}) to ${saved.path}`;
}

export function snapshotCommand(context: CliContext): CommandModule {
  return {
    command: 'snapshot',
    describe: 'backups of the replicated state: save',
    builder: (yargs: Argv) =>
      yargs
        .command({
          command: 'save <file>',
          describe: 'admin: save a consistent backup of the replicated state to FILE',
          builder: (inner: Argv) =>
            inner
              .positional('file', { type: 'string', describe: 'where to write the backup (replaced only once it is complete)', demandOption: true })
              .example('$0 snapshot save backup.raftlock', 'for raftlockd --restore backup.raftlock')
              .example('$0 snapshot save /backups/raftlock-$(date +%F).snap --json', 'with index, term, members and sizes as JSON')
              .epilogue(
                'The backup holds every lock, session and election up to the index it names, and the members at that index. FILE.tmp is written first and renamed to FILE only once complete and on disk. The cluster must answer within --timeout; the transfer then takes as long as it needs. Needs an admin token.',
              ),
          handler: action<{ file: string }>(context, async (argv, { globals, output }) => {
            const file = argv.file;
            const [{ connectByDeadline }, { trapSignals, signalExitCode }, { access, constants }, { dirname }] = await Promise.all([
              import('../cluster-connection.js'),
              import('../signals.js'),
              import('node:fs/promises'),
              import('node:path'),
            ]);
            // Before the leader is asked to take a snapshot: can FILE.tmp be written at all?
            await access(dirname(file), constants.W_OK).catch((error: unknown) => {
              throw new CliError(exitCodes.failed, `snapshot save: cannot write into ${dirname(file)}: ${(error as Error).message}`);
            });
            const client = await connectByDeadline(globals);
            const stop = new AbortController();
            const untrap = trapSignals((signal) => stop.abort(new CliError(signalExitCode(signal), `snapshot save: stopped by ${signal}; ${file} was not written`)));
            let lastProgressMs = performance.now();
            try {
              const saved = await client.snapshot.save(file, {
                signal: stop.signal,
                onProgress: (progress) => {
                  if (performance.now() - lastProgressMs < progressIntervalMs || progress.writtenBytes === progress.totalBytes) return;
                  lastProgressMs = performance.now();
                  output.progress(`${formatBytes(progress.writtenBytes)} of ${formatBytes(progress.totalBytes)} (index ${progress.index})`);
                },
              });
              if (output.json) output.document(saved);
              else output.line(savedLine(saved));
              return exitCodes.success;
            } catch (error) {
              // A file-system error (disk full, permissions) names the syscall; say which file it was about.
              if (error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === 'string') throw new CliError(exitCodes.failed, `snapshot save: ${file} was not written: ${error.message}`);
              throw error;
            } finally {
              untrap();
              void client.close();
            }
          }),
        })
        .demandCommand(1, 'snapshot: give a subcommand: save'),
    handler: () => {
      throw new CliError(exitCodes.usage, 'snapshot: give a subcommand: save');
    },
  };
}
