// raftlock election leader | observe | run: leader election from the shell (etcdctl elect).
// `election run NAME VALUE -- CMD…` campaigns with VALUE and runs CMD while this process leads, with
// lock run's loss semantics (see run-under-hold.ts): CMD gets RAFTLOCK_TOKEN, RAFTLOCK_ELECTION and
// RAFTLOCK_VALUE, and is stopped the moment leadership may be lost.

import type { Argv, CommandModule } from 'yargs';
import type { Client, ElectionLeader, Leadership, Session } from '@raftlock/client';
import { action, durationOption, type CliContext } from '../cli-context.js';
import { formatDuration, parseDuration } from '../duration.js';
import { CliError, exitCodes, serviceCodeOf, usageError } from '../exit-codes.js';
import { commandAfterDashes } from './lock.js';

const defaultTtl = '10s';
const defaultGrace = '5s';
const maxValueBytes = 4096;

export function leaderJson(name: string, leader: ElectionLeader | null): Record<string, unknown> {
  return { name, leader: leader === null ? null : { value: leader.value, sessionId: leader.sessionId, token: leader.token, index: leader.index } };
}

export function observeLine(name: string, leader: ElectionLeader | null): string {
  return leader === null ? `#-  ${name}  no leader` : `#${leader.index}  ${name}  leader ${JSON.stringify(leader.value)}  session=${leader.sessionId} token=${leader.token}`;
}

function leaderCommand(context: CliContext): CommandModule {
  return {
    command: 'leader <name>',
    describe: "the election's current leader and its value",
    builder: (yargs: Argv) =>
      yargs
        .positional('name', { type: 'string', describe: 'election name', demandOption: true })
        .example('$0 election leader scheduler', 'who leads "scheduler", with which value')
        .example('$0 election leader scheduler --json | jq -r .leader.value', 'just the value (e.g. the leader\'s address)')
        .epilogue('Exit 1 when the election has no leader.'),
    handler: action<{ name: string }>(context, async (argv, { globals, output }) => {
      const { withCluster, checkName } = await import('../cluster-connection.js');
      const name = checkName(argv.name, 'election leader');
      const leader = await withCluster(globals, (client) => client.leader(name));
      if (output.json) output.document(leaderJson(name, leader));
      else if (leader !== null)
        output.fields([
          ['election', name],
          ['value', leader.value],
          ['session', leader.sessionId],
          ['token', String(leader.token)],
          ['since index', String(leader.index)],
        ]);
      if (leader === null) throw new CliError(exitCodes.failed, `election ${JSON.stringify(name)} has no leader`);
      return exitCodes.success;
    }),
  };
}

function observeCommand(context: CliContext): CommandModule {
  return {
    command: 'observe <name>',
    describe: 'stream every change of leader or value, one line each (Ctrl-C stops)',
    builder: (yargs: Argv) =>
      yargs
        .positional('name', { type: 'string', describe: 'election name', demandOption: true })
        .example('$0 election observe scheduler', 'the current leader, then each change')
        .example('$0 election observe scheduler --json', 'one JSON object per line'),
    handler: action<{ name: string }>(context, async (argv, { globals, output }) => {
      const [{ connectByDeadline, checkName }, { trapSignals }] = await Promise.all([import('../cluster-connection.js'), import('../signals.js')]);
      const name = checkName(argv.name, 'election observe');
      const client = await connectByDeadline(globals);
      const stream = client.observe(name);
      const untrap = trapSignals(() => void stream.return?.());
      try {
        for await (const leader of stream) {
          if (output.json) output.jsonLine(leaderJson(name, leader));
          else output.line(observeLine(name, leader));
        }
        return exitCodes.success;
      } finally {
        untrap();
        await client.close().catch(() => undefined);
      }
    }),
  };
}

interface RunArgs {
  name: string;
  value: string;
  ttl: number | undefined;
  wait: number | undefined;
  grace: number | undefined;
}

function runCommand(context: CliContext): CommandModule {
  return {
    command: 'run <name> <value>',
    describe: 'campaign with VALUE; run a command (after --) while leader',
    builder: (yargs: Argv) =>
      yargs
        .positional('name', { type: 'string', describe: 'election name', demandOption: true })
        .positional('value', { type: 'string', describe: "this candidate's value, e.g. its address (≤ 4 KiB)", demandOption: true })
        .option('ttl', { type: 'string', describe: `session lease [default: ${defaultTtl}]`, coerce: durationOption('--ttl') })
        .option('wait', { type: 'string', describe: 'give up (exit 1) if not elected within this; 0: only if nobody leads now [default: wait forever]', coerce: durationOption('--wait') })
        .option('grace', { type: 'string', describe: `after SIGTERM on loss of leadership, SIGKILL this much later [default: ${defaultGrace}]`, coerce: durationOption('--grace') })
        .example('$0 election run scheduler 10.0.0.7:8080 -- ./scheduler', 'run ./scheduler on whichever machine wins "scheduler"')
        .epilogue(
          "The command gets RAFTLOCK_TOKEN (fencing token), RAFTLOCK_ELECTION and RAFTLOCK_VALUE. If leadership may be lost it gets SIGTERM, then SIGKILL after --grace, and raftlock exits 1; otherwise raftlock resigns when the command exits and exits with the command's code.",
        ),
    handler: action<RunArgs>(context, async (argv, run) => {
      const command = commandAfterDashes(argv, `raftlock election run ${argv.name} ${argv.value} -- ./serve.sh`);
      const [{ checkName, cliClientName }, { runUnderHold }] = await Promise.all([import('../cluster-connection.js'), import('../run-under-hold.js')]);
      const name = checkName(argv.name, 'election run');
      const value = String(argv.value);
      if (Buffer.byteLength(value) > maxValueBytes) throw usageError('election run: VALUE must be at most 4 KiB');
      const ttlMs = argv.ttl ?? parseDuration(defaultTtl, '--ttl');
      if (ttlMs < 500 || ttlMs > 300_000) throw usageError(`--ttl must be between 500ms and 5m (got ${formatDuration(ttlMs)})`);
      return runUnderHold({
        run,
        holdName: `leadership of ${JSON.stringify(name)}`,
        command,
        ttlMs,
        waitMs: argv.wait,
        graceMs: argv.grace ?? parseDuration(defaultGrace, '--grace'),
        clientName: cliClientName(`election run ${name}`),
        acquire: async (client, session, signal) => {
          const leadership =
            argv.wait === 0
              ? await campaignIfNobodyLeads(client, session, name, value, signal)
              : await session.election(name).campaign(value, { signal, ...(argv.wait === undefined ? {} : { timeoutMs: argv.wait }) });
          if (leadership === null) return null;
          return {
            token: leadership.token,
            signal: leadership.signal,
            env: { RAFTLOCK_TOKEN: String(leadership.token), RAFTLOCK_ELECTION: name, RAFTLOCK_VALUE: value },
            release: () => leadership.resign(),
          };
        },
      });
    }),
  };
}

/**
 * `--wait 0`: lead now or not at all. An election has no try mode; a campaign with a 0 ms timeout
 * is cancelled at once, and the SDK keeps a grant that the cluster made before the cancel (nobody
 * led), while a campaign queued behind a leader ends in TimeoutError. A TIMEOUT can also be a cluster
 * that did not answer in time, so "someone else leads" is read, not assumed. null: someone else leads.
 */
async function campaignIfNobodyLeads(client: Client, session: Session, name: string, value: string, signal: AbortSignal): Promise<Leadership | null> {
  try {
    return await session.election(name).campaign(value, { timeoutMs: 0, signal });
  } catch (error) {
    if (serviceCodeOf(error) !== 'TIMEOUT' || signal.aborted) throw error;
    const leader = await client.leader(name);
    if (leader !== null && leader.sessionId !== session.id) return null;
    throw error;
  }
}

export function electionCommand(context: CliContext): CommandModule {
  return {
    command: 'election',
    describe: 'leader election: leader | observe | run',
    builder: (yargs: Argv) =>
      yargs.command(leaderCommand(context)).command(observeCommand(context)).command(runCommand(context)).demandCommand(1, 'election: give a subcommand: leader, observe or run'),
    handler: () => {
      throw new CliError(exitCodes.usage, 'election: give a subcommand: leader, observe or run');
    },
  };
}
