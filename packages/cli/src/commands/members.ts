// raftlock members list | add | remove | transfer-leader. This server has no membership changes
// yet (the voters are fixed by --peers), so `list` shows the voters the cluster reports and the
// other three fail with exit 1 and say so — they never pretend to have done anything. They are wired
// here so the shape and the help are in place for the membership work.

import type { Argv, CommandModule } from 'yargs';
import type { ClusterStatus } from '@raftlock/client';
import { action, type CliContext } from '../cli-context.js';
import { CliError, exitCodes } from '../exit-codes.js';
import { none, styled, type Cell, type Column } from '../output.js';
import { byMemberId } from './status.js';

export const notSupported = 'not supported by this server yet';

export const memberColumns: readonly Column[] = [{ header: 'id' }, { header: 'address' }, { header: 'role' }, { header: 'reachable' }, { header: 'match index', align: 'right' }];

export function memberRows(status: ClusterStatus): Cell[][] {
  return [...status.members]
    .sort(byMemberId)
    .map((member) => [
      member.id,
      member.address === '' ? none : member.address,
      member.role === 'leader' ? styled('leader', 'bold') : member.role,
      member.reachable ? styled('yes', 'good') : styled('no', 'bad'),
      member.matchIndex === undefined ? none : String(member.matchIndex),
    ]);
}

function unsupported(context: CliContext, what: string, command: string, describe: string, example: [string, string]): CommandModule {
  return {
    command,
    describe: `${describe} (${notSupported})`,
    builder: (yargs: Argv) => yargs.example(...example),
    handler: action(context, () => {
      throw new CliError(exitCodes.failed, `${what}: ${notSupported} (raftlockd cannot change its voting members; they are fixed by --peers)`);
    }),
  };
}

export function membersCommand(context: CliContext): CommandModule {
  return {
    command: 'members',
    describe: 'cluster membership: list | add | remove | transfer-leader',
    builder: (yargs: Argv) =>
      yargs
        .command({
          command: 'list',
          describe: 'the voting members, as the leader (or the member answering) sees them',
          builder: (inner: Argv) => inner.example('$0 members list', 'ids, addresses, roles').example('$0 status', 'each member asked on its own: health, term, lag'),
          handler: action(context, async (_argv, { globals, output }) => {
            const { withCluster } = await import('../cluster-connection.js');
            const status = await withCluster(globals, (client) => client.status());
            if (output.json) output.document({ leaderId: status.leaderId, answeredBy: status.nodeId, members: status.members });
            else output.table(memberColumns, memberRows(status));
            return exitCodes.success;
          }),
        })
        .command(unsupported(context, 'members add', 'add <id> <address>', 'add a member', ['$0 members add n4 10.0.0.4:7070', 'add n4 (it must run with --join)']))
        .command(unsupported(context, 'members remove', 'remove <id>', 'remove a member', ['$0 members remove n4', 'remove n4 from the voters']))
        .command(unsupported(context, 'members transfer-leader', 'transfer-leader <id>', 'hand leadership to a member', ['$0 members transfer-leader n2', 'make n2 the leader']))
        .demandCommand(1, 'members: give a subcommand: list, add, remove or transfer-leader'),
    handler: () => {
      throw new CliError(exitCodes.usage, 'members: give a subcommand: list, add, remove or transfer-leader');
    },
  };
}
