// raftlock status: every member's own view — role, term, commit and applied index, lag, health —
// plus who leads. The member list and the leader come from the cluster (the SDK's cluster.status,
// answered by the leader when there is one); each member is then asked on its own HTTP port, so a
// member that is down shows as down while the rest of the table is still filled in (exit 0). With no
// leader anywhere the table is still printed, and the exit code is 3 (cluster unavailable).

import type { Argv, CommandModule } from 'yargs';
import type { ClusterStatus } from '@raftlock/client';
import { action, type CliContext } from '../cli-context.js';
import { CliError, exitCodes } from '../exit-codes.js';
import type { MemberProbe } from '../member-probe.js';
import { none, styled, type Cell } from '../output.js';

/** A member that hangs (frozen, half-open socket) costs at most this much of --timeout. */
const maxProbeMs = 2_000;

export interface MemberReport {
  readonly id: string;
  readonly address: string;
  readonly role: string | null;
  readonly health: 'ok' | 'unready' | 'down';
  readonly term: number | null;
  readonly commitIndex: number | null;
  readonly appliedIndex: number | null;
  /** Entries the member's applied index trails the leader's commit index by. */
  readonly lag: number | null;
  /** The leader's replication progress for this member (matchIndex), when the answer came from the leader. */
  readonly matchIndex: number | null;
  readonly error: string | null;
}

export interface StatusReport {
  readonly leader: { readonly id: string; readonly address: string | null } | null;
  readonly term: number;
  readonly answeredBy: string;
  readonly members: readonly MemberReport[];
}

/** Member ids are [a-z0-9-]: a plain comparison (localeCompare builds an ICU collator, ~13 ms of a cold start). */
export function byMemberId(left: { readonly id: string }, right: { readonly id: string }): number {
  return left.id < right.id ? -1 : left.id > right.id ? 1 : 0;
}

export function buildStatusReport(status: ClusterStatus, probes: ReadonlyMap<string, MemberProbe>): StatusReport {
  const leaderProbe = status.members.map((member) => probes.get(member.address)).find((probe) => probe?.role === 'leader');
  const leaderCommit = leaderProbe?.commitIndex ?? (status.role === 'leader' ? status.commitIndex : undefined);
  const members = [...status.members]
    .sort(byMemberId)
    .map((member): MemberReport => {
      const probe = probes.get(member.address);
      const reachable = probe?.reachable === true;
      const appliedIndex = reachable ? (probe.appliedIndex ?? null) : null;
      return {
        id: member.id,
        address: member.address,
        role: reachable ? (probe.role ?? null) : null,
        health: !reachable ? 'down' : probe.ready ? 'ok' : 'unready',
        term: reachable ? (probe.term ?? null) : null,
        commitIndex: reachable ? (probe.commitIndex ?? null) : null,
        appliedIndex,
        lag: leaderCommit !== undefined && appliedIndex !== null ? Math.max(0, leaderCommit - appliedIndex) : null,
        matchIndex: member.matchIndex ?? null,
        error: probe?.error ?? null,
      };
    });
  return {
    leader: status.leaderId === null ? null : { id: status.leaderId, address: status.leaderAddress },
    term: status.term,
    answeredBy: status.nodeId,
    members,
  };
}

function cell(value: number | string | null): string {
  return value === null ? none : String(value);
}

export function statusRows(report: StatusReport): Cell[][] {
  return report.members.map((member) => [
    member.id,
    member.address,
    member.role === 'leader' ? styled('leader', 'bold') : cell(member.role),
    cell(member.term),
    cell(member.commitIndex),
    cell(member.appliedIndex),
    cell(member.lag),
    styled(member.health, member.health === 'ok' ? 'good' : member.health === 'down' ? 'bad' : 'warn'),
  ]);
}

export const statusColumns = [
  { header: 'member' },
  { header: 'address' },
  { header: 'role' },
  { header: 'term', align: 'right' },
  { header: 'commit', align: 'right' },
  { header: 'applied', align: 'right' },
  { header: 'lag', align: 'right' },
  { header: 'health' },
] as const;

export function statusCommand(context: CliContext): CommandModule {
  return {
    command: 'status',
    describe: 'members, roles, leader, term, commit/applied index, lag and health',
    builder: (yargs: Argv) =>
      yargs
        .example('$0 status', 'ask every member of the cluster at 127.0.0.1:7070 how it is')
        .example('$0 status --endpoints 10.0.0.1:7070,10.0.0.2:7070 --json', 'the same as one JSON document')
        .epilogue('Exit code 0 when a leader is known (even with members down), 3 when no leader or no member answers.'),
    handler: action(context, async (_argv, { globals, output }) => {
      const { probeMember } = await import('../member-probe.js');
      const probeMs = () => Math.max(100, Math.min(maxProbeMs, globals.deadlineMs - performance.now()));
      const probes = new Map<string, Promise<MemberProbe>>();
      const probe = (address: string) => {
        let pending = probes.get(address);
        if (pending === undefined) probes.set(address, (pending = probeMember(address, probeMs(), globals.tls)));
        return pending;
      };
      // Every endpoint at once; the member list comes from the leader's answer when one is a leader.
      const first = await Promise.all(globals.endpoints.map(probe));
      const answered = first.filter((answer) => answer.status !== undefined);
      const view = (answered.find((answer) => answer.role === 'leader') ?? answered.find((answer) => answer.leaderId) ?? answered[0])?.status;
      if (view === undefined) {
        const reasons = first.map((answer) => `${answer.address}: ${answer.error ?? 'no answer'}`).join('; ');
        throw new CliError(exitCodes.unavailable, `cluster unavailable: no member answered (${reasons})`);
      }
      const answers = await Promise.all(view.members.map((member) => probe(member.address)));
      const leaderAnswer = answers.find((answer) => answer.role === 'leader')?.status;
      const report = buildStatusReport(leaderAnswer ?? view, new Map(answers.map((answer) => [answer.address, answer])));
      if (output.json) {
        output.document(report);
      } else {
        const leader = report.leader === null ? 'no leader' : `leader ${report.leader.id}${report.leader.address === null ? '' : ` at ${report.leader.address}`}`;
        output.note(`${leader}, term ${report.term} (as seen by ${report.answeredBy})`);
        output.table(statusColumns, statusRows(report));
      }
      if (report.leader === null) throw new CliError(exitCodes.unavailable, `cluster unavailable: no leader (as seen by ${report.answeredBy}); a majority of members may be down or cut off`);
      return exitCodes.success;
    }),
  };
}
