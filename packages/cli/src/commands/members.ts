// raftlock members list | add | remove | transfer-leader: the cluster's configuration (SPEC §7).
//
// `list` shows every member with its role in the configuration (voter or learner), the leader, and
// — from the answering member's cluster.status — whether the leader hears from it and how far its
// log is replicated. `add`, `remove` and `transfer-leader` are admin changes made through the leader;
// like the other one-shot commands they finish within --timeout (the member is told how long it may
// wait) or exit 3. A change that ran out of time may still complete: running it again carries on
// where it stopped (the server treats a change that already happened as done).

import type { Argv, CommandModule } from 'yargs';
import type { MemberInfo, MemberStatus, Membership } from '@raftlock/client';
import { action, type CliContext } from '../cli-context.js';
import { formatDuration } from '../duration.js';
import { CliError, exitCodes } from '../exit-codes.js';
import { none, styled, type Cell, type Column, type Output } from '../output.js';
import { byMemberId } from './status.js';

export interface MemberReport {
  readonly id: string;
  readonly address: string;
  readonly role: MemberInfo['role'];
  readonly leader: boolean;
  /** Whether the leader hears from it, when the answering member could say (null: it could not). */
  readonly reachable: boolean | null;
  /** The leader's replication progress for it (matchIndex), when the answer came from the leader. */
  readonly matchIndex: number | null;
}

export interface MembersReport {
  readonly leaderId: string | null;
  readonly configIndex: number;
  readonly answeredBy: string;
  readonly members: readonly MemberReport[];
}

export const memberColumns: readonly Column[] = [{ header: 'id' }, { header: 'address' }, { header: 'role' }, { header: 'reachable' }, { header: 'match index', align: 'right' }];

/** The configuration, with what the answering member's status adds about each member. */
export function buildMembersReport(membership: Membership, statuses: readonly MemberStatus[], answeredBy: string): MembersReport {
  const statusById = new Map(statuses.map((status) => [status.id, status]));
  const members = [...membership.members].sort(byMemberId).map((member): MemberReport => {
    const status = statusById.get(member.id);
    return {
      id: member.id,
      address: member.address,
      role: member.role,
      leader: member.id === membership.leaderId,
      reachable: status?.reachable ?? null,
      matchIndex: status?.matchIndex ?? null,
    };
  });
  return { leaderId: membership.leaderId, configIndex: membership.configIndex, answeredBy, members };
}

export function memberRows(report: MembersReport): Cell[][] {
  return report.members.map((member) => [
    member.id,
    member.address === '' ? none : member.address,
    member.leader ? styled('leader', 'bold') : member.role === 'learner' ? styled('learner', 'warn') : member.role,
    member.reachable === null ? none : member.reachable ? styled('yes', 'good') : styled('no', 'bad'),
    member.matchIndex === null ? none : String(member.matchIndex),
  ]);
}

/**
 * A warning for an even number of voters: a majority of 2k is k+1, so 2k voters survive k-1 failures,
 * no more than 2k-1 voters do — the extra member only adds a machine that can fail.
 */
export function evenVotersWarning(members: readonly MemberInfo[]): string | undefined {
  const voters = members.filter((member) => member.role === 'voter').length;
  if (voters === 0 || voters % 2 !== 0) return undefined;
  const tolerated = voters / 2 - 1;
  return `the cluster now has ${voters} voters: an even number survives ${tolerated} failure${tolerated === 1 ? '' : 's'}, no more than ${voters - 1} voter${voters - 1 === 1 ? '' : 's'} would; add or remove one more`;
}

/** `n1, n2, n4 (learner)`: the configuration on one line. */
export function describeMembers(members: readonly MemberInfo[]): string {
  return [...members]
    .sort(byMemberId)
    .map((member) => (member.role === 'voter' ? member.id : `${member.id} (learner)`))
    .join(', ');
}

/** The member may wait for the change until shortly before --timeout runs out, so that its answer still arrives. */
const answerMarginMs = 300;
const minChangeTimeoutMs = 100;
const maxChangeTimeoutMs = 600_000;

export function changeTimeoutMs(deadlineMs: number, nowMs: number): number {
  return Math.round(Math.min(maxChangeTimeoutMs, Math.max(minChangeTimeoutMs, deadlineMs - nowMs - answerMarginMs)));
}

function warnIfEven(output: Output, members: readonly MemberInfo[]): void {
  const warning = evenVotersWarning(members);
  if (warning !== undefined) output.warn(`warning: ${warning}`);
}

function listCommand(context: CliContext): CommandModule {
  return {
    command: 'list',
    describe: 'every member: id, address, role (voter, learner; the leader marked), reachability, match index',
    builder: (yargs: Argv) => yargs.example('$0 members list', 'ids, addresses, roles').example('$0 status', 'each member asked on its own: health, term, lag'),
    handler: action(context, async (_argv, { globals, output }) => {
      const { withCluster } = await import('../cluster-connection.js');
      const report = await withCluster(globals, async (client) => {
        const [membership, status] = await Promise.all([client.members.list(), client.status()]);
        return buildMembersReport(membership, status.members, status.nodeId);
      });
      if (output.json) {
        output.document(report);
        return exitCodes.success;
      }
      output.note(`${report.leaderId === null ? 'no leader' : `leader ${report.leaderId}`}, configuration of index ${report.configIndex} (as seen by ${report.answeredBy})`);
      output.table(memberColumns, memberRows(report));
      return exitCodes.success;
    }),
  };
}

function addCommand(context: CliContext): CommandModule {
  return {
    command: 'add <id> <address>',
    describe: 'admin: add a member; it joins as a learner, catches up, then votes',
    builder: (yargs: Argv) =>
      yargs
        .positional('id', { type: 'string', describe: "the new member's --id", demandOption: true })
        .positional('address', { type: 'string', describe: "its --advertise address, host:port", demandOption: true })
        .example('$0 members add n4 10.0.0.4:7070', 'add n4 (started with raftlockd --id n4 --join)')
        .example('$0 --timeout 2m members add n4 10.0.0.4:7070', 'give a member with a large state to copy longer to catch up')
        .epilogue(
          'Start the new member first with `raftlockd --id ID --listen … --join`. The command returns once it votes. If --timeout runs out first it exits 3 and the member may stay a learner: run the same command again to carry on. An even number of voters is warned about on stderr. Needs an admin token.',
        ),
    handler: action<{ id: string; address: string }>(context, async (argv, { globals, output }) => {
      const { withCluster, checkMemberId, checkMemberAddress } = await import('../cluster-connection.js');
      const id = checkMemberId(argv.id, 'members add');
      const address = checkMemberAddress(argv.address, 'members add');
      const result = await withCluster(globals, (client) => client.members.add(id, address, { timeoutMs: changeTimeoutMs(globals.deadlineMs, performance.now()) }));
      if (output.json) output.document({ added: { id, address }, members: result.members });
      else output.line(`added ${id} at ${address}; members: ${describeMembers(result.members)}`);
      warnIfEven(output, result.members);
      return exitCodes.success;
    }),
  };
}

function removeCommand(context: CliContext): CommandModule {
  return {
    command: 'remove <id>',
    describe: 'admin: remove a member (voter or learner; the leader too, which hands over first)',
    builder: (yargs: Argv) =>
      yargs
        .positional('id', { type: 'string', describe: 'member id', demandOption: true })
        .example('$0 members remove n4', 'take n4 out of the cluster; stop its raftlockd afterwards')
        .epilogue('Removing a member that is not there succeeds (nothing to do). The cluster refuses a removal that would leave it without a working majority. Needs an admin token.'),
    handler: action<{ id: string }>(context, async (argv, { globals, output }) => {
      const { withCluster, checkMemberId } = await import('../cluster-connection.js');
      const id = checkMemberId(argv.id, 'members remove');
      const result = await withCluster(globals, (client) => client.members.remove(id, { timeoutMs: changeTimeoutMs(globals.deadlineMs, performance.now()) }));
      if (output.json) output.document({ removed: id, members: result.members });
      else output.line(`removed ${id}; members: ${describeMembers(result.members)}`);
      warnIfEven(output, result.members);
      return exitCodes.success;
    }),
  };
}

function transferLeaderCommand(context: CliContext): CommandModule {
  return {
    command: 'transfer-leader <id>',
    describe: 'admin: hand leadership to a voter',
    builder: (yargs: Argv) =>
      yargs
        .positional('id', { type: 'string', describe: 'the voter to lead', demandOption: true })
        .example('$0 members transfer-leader n2', 'make n2 the leader (e.g. before restarting the current one)')
        .epilogue('Returns once the new leader is known. Sessions and locks carry over; clients follow the new leader. Needs an admin token.'),
    handler: action<{ id: string }>(context, async (argv, { globals, output }) => {
      const { withCluster, checkMemberId } = await import('../cluster-connection.js');
      const id = checkMemberId(argv.id, 'members transfer-leader');
      const startedMs = performance.now();
      const result = await withCluster(globals, (client) => client.members.transferLeader(id, { timeoutMs: changeTimeoutMs(globals.deadlineMs, performance.now()) }));
      if (result.leaderId !== id) throw new CliError(exitCodes.failed, `members transfer-leader: ${result.leaderId} leads, not ${id} (another member won the election); try again`);
      if (output.json) output.document({ leaderId: result.leaderId });
      else output.line(`${result.leaderId} is the leader (after ${formatDuration(performance.now() - startedMs)})`);
      return exitCodes.success;
    }),
  };
}

export function membersCommand(context: CliContext): CommandModule {
  return {
    command: 'members',
    describe: 'cluster membership: list | add | remove | transfer-leader',
    builder: (yargs: Argv) =>
      yargs
        .command(listCommand(context))
        .command(addCommand(context))
        .command(removeCommand(context))
        .command(transferLeaderCommand(context))
        .demandCommand(1, 'members: give a subcommand: list, add, remove or transfer-leader'),
    handler: () => {
      throw new CliError(exitCodes.usage, 'members: give a subcommand: list, add, remove or transfer-leader');
    },
  };
}
