// raftlock sessions: every open session (lease) — client name, TTL, age, what it holds (locks and
// elections it leads) and waits for.

import type { Argv, CommandModule } from 'yargs';
import type { SessionInfo } from '@raftlock/client';
import { action, type CliContext } from '../cli-context.js';
import { formatDuration } from '../duration.js';
import { exitCodes } from '../exit-codes.js';
import { none, type Cell, type Column } from '../output.js';

export const sessionColumns: readonly Column[] = [
  { header: 'session' },
  { header: 'client' },
  { header: 'ttl', align: 'right' },
  { header: 'age', align: 'right' },
  { header: 'holds', align: 'right' }, // locks held and elections led (heldLocks counts both)
  { header: 'waits', align: 'right' },
];

export function sessionRow(session: SessionInfo, nowMs: number): Cell[] {
  return [session.sessionId, session.clientName === '' ? none : session.clientName, formatDuration(session.ttlMs), formatDuration(nowMs - session.createdTimeMs), String(session.heldLocks), String(session.waits)];
}

export function sessionJson(session: SessionInfo, nowMs: number): Record<string, unknown> {
  return { ...session, created: new Date(session.createdTimeMs).toISOString(), ageMs: Math.max(0, nowMs - session.createdTimeMs) };
}

export function sessionsCommand(context: CliContext): CommandModule {
  return {
    command: 'sessions',
    describe: 'list sessions: client name, TTL, age, holds (locks and leaderships), waits',
    builder: (yargs: Argv) =>
      yargs.example('$0 sessions', 'who is connected, and what each holds').example("$0 sessions --json | jq -r '.sessions[] | select(.heldLocks > 0) | .clientName'", 'the clients that hold a lock or lead an election'),
    handler: action(context, async (_argv, { globals, output }) => {
      const { withCluster } = await import('../cluster-connection.js');
      const sessions = await withCluster(globals, (client) => client.sessions());
      const nowMs = Date.now();
      if (output.json) output.document({ sessions: sessions.map((session) => sessionJson(session, nowMs)) });
      else if (sessions.length === 0) output.note('no open sessions');
      else output.table(sessionColumns, sessions.map((session) => sessionRow(session, nowMs)));
      return exitCodes.success;
    }),
  };
}
