// raftlock snapshot save FILE: a consistent backup of the replicated state. This server cannot make
// one yet; the command fails with exit 1 and says so, and never writes FILE.

import type { Argv, CommandModule } from 'yargs';
import { action, type CliContext } from '../cli-context.js';
import { CliError, exitCodes } from '../exit-codes.js';
import { notSupported } from './members.js';

export function snapshotCommand(context: CliContext): CommandModule {
  return {
    command: 'snapshot',
    describe: 'backups of the replicated state: save',
    builder: (yargs: Argv) =>
      yargs
        .command({
          command: 'save <file>',
          describe: `save a consistent backup of the replicated state to FILE (${notSupported})`,
          builder: (inner: Argv) => inner.positional('file', { type: 'string', demandOption: true }).example('$0 snapshot save backup.raftlock', 'for raftlockd --restore'),
          handler: action(context, () => {
            throw new CliError(exitCodes.failed, `snapshot save: ${notSupported} (nothing was written)`);
          }),
        })
        .demandCommand(1, 'snapshot: give a subcommand: save'),
    handler: () => {
      throw new CliError(exitCodes.usage, 'snapshot: give a subcommand: save');
    },
  };
}
