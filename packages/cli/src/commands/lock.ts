// raftlock lock get | release --force | run: one lock by name.
//
// `lock run NAME -- CMD…` holds NAME while CMD runs (etcdctl lock / consul lock): it exports
// RAFTLOCK_TOKEN (the fencing token) and RAFTLOCK_LOCK to CMD, stops CMD the moment the lock may be
// lost — the lease lapsed, the session was lost, or someone force-released it — and otherwise exits
// with CMD's code. See run-under-hold.ts and child-supervisor.ts for the exact guarantees.

import type { Argv, CommandModule } from 'yargs';
import type { Client, Lock } from '@raftlock/client';
import { action, durationOption, type CliContext } from '../cli-context.js';
import { formatDuration, parseDuration } from '../duration.js';
import { CliError, exitCodes, usageError } from '../exit-codes.js';
import { formatCommandLine, none, type Cell } from '../output.js';
import { lockJson } from './locks.js';

const defaultTtl = '10s';
const defaultGrace = '5s';
const maxMetadataBytes = 1024;

/** The command after `--`, or a usage error saying how to give one. */
export function commandAfterDashes(argv: Record<string, unknown>, example: string): string[] {
  const dashed = argv['--'];
  const command = Array.isArray(dashed) ? dashed.map(String) : [];
  const stray = Array.isArray(argv['_']) ? argv['_'].slice(2) : [];
  if (stray.length > 0) throw usageError(`unexpected ${stray.map(String).join(' ')}: put the command after --, e.g. ${example}`);
  if (command.length === 0) throw usageError(`give the command to run after --, e.g. ${example}`);
  return command;
}

export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let end = Math.min(text.length, maxBytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > maxBytes - 3) end--;
  return `${text.slice(0, end)}...`;
}

/**
 * The SDK does not abort lock.signal on a force-release (fencing protects the resource); a
 * supervised command should stop all the same. This watches the lock and aborts `signal` on any
 * release or expiry of our grant that we did not ask for (stop() first, before releasing).
 */
function watchForRelease(client: Client, lock: Lock): { readonly signal: AbortSignal; stop(): void } {
  const name = lock.name;
  const takenAway = new AbortController();
  let stopped = false;
  const stream = client.watch(name, { kind: 'lock' });
  void (async () => {
    try {
      for await (const item of stream) {
        if (stopped || takenAway.signal.aborted || lock.signal.aborted) return;
        if (item.type === 'snapshot') {
          // A snapshot from before our grant (a lagging member after a reconnect) proves nothing.
          const current = item.locks.find((candidate) => candidate.name === name);
          if (item.index >= Number(lock.token) && current?.holder?.token !== lock.token) takenAway.abort(new Error(`${JSON.stringify(name)} is no longer held by this session (as of index ${item.index})`));
        } else if (item.name === name && item.token === lock.token && (item.type === 'released' || item.type === 'expired')) {
          const how = item.type === 'released' ? 'force-released by someone else' : "expired by the cluster: the session's lease lapsed";
          takenAway.abort(new Error(`${JSON.stringify(name)} was ${how} (index ${item.index})`));
        }
      }
    } catch {
      // A failed watch is not a loss: the lease still guards the lock.
    }
  })();
  return {
    signal: takenAway.signal,
    stop: () => {
      stopped = true;
      void stream.return?.();
    },
  };
}

function getCommand(context: CliContext): CommandModule {
  return {
    command: 'get <name>',
    describe: "one lock's holder, token, metadata and waiters",
    builder: (yargs: Argv) =>
      yargs
        .positional('name', { type: 'string', describe: 'lock name', demandOption: true })
        .example('$0 lock get orders/42', 'who holds orders/42, since when, and who waits')
        .example("$0 lock get orders/42 --json | jq .holder.token", 'its current fencing token'),
    handler: action<{ name: string }>(context, async (argv, { globals, output }) => {
      const { withCluster, checkName } = await import('../cluster-connection.js');
      const name = checkName(argv.name, 'lock get');
      const lock = await withCluster(globals, (client) => client.lock(name));
      const nowMs = Date.now();
      const view = lock === null ? { kind: 'lock' as const, name, holder: null, waiters: [] } : lockJson(lock, nowMs);
      if (output.json) {
        output.document(view);
        return exitCodes.success;
      }
      const holder = view.holder;
      const fields: [string, Cell][] = [
        ['lock', name],
        ['holder', holder === null ? 'none (free)' : `${holder.sessionId}${holder.clientName === '' ? '' : ` (${holder.clientName})`}`],
      ];
      if (holder !== null) {
        fields.push(['token', String(holder.token)], ['held for', `${formatDuration(holder.heldForMs)} (since ${holder.since}, index ${holder.sinceIndex})`]);
        if (holder.metadata !== '') fields.push(['metadata', holder.metadata]);
      }
      fields.push(['waiters', String(view.waiters.length)]);
      view.waiters.forEach((waiter, position) => fields.push([`  ${position + 1}`, `${waiter.sessionId}${waiter.clientName === '' ? '' : ` (${waiter.clientName})`} since index ${waiter.sinceIndex}`]));
      output.fields(fields);
      return exitCodes.success;
    }),
  };
}

function releaseCommand(context: CliContext): CommandModule {
  return {
    command: 'release <name>',
    describe: 'admin: force-release a lock, whoever holds it (needs --force)',
    builder: (yargs: Argv) =>
      yargs
        .positional('name', { type: 'string', describe: 'lock name', demandOption: true })
        .option('force', { type: 'boolean', default: false, describe: 'yes, take the lock away from its holder' })
        .example('$0 lock release orders/42 --force', 'free orders/42; the next waiter is granted it')
        .epilogue(
          "The holder is not asked. A `raftlock lock run` holder notices and stops its command; an SDK holder is not told (its lock.signal stays up), which is why writes must be fenced with the token. Needs an admin token when the cluster enforces tokens.",
        ),
    handler: action<{ name: string; force: boolean }>(context, async (argv, { globals, output }) => {
      if (!argv.force) throw usageError(`lock release ${argv.name}: force-releasing takes the lock from its holder without asking; add --force to do it`);
      const { withCluster, checkName } = await import('../cluster-connection.js');
      const name = checkName(argv.name, 'lock release');
      const result = await withCluster(globals, (client) => client.forceRelease(name));
      if (output.json) output.document({ name, released: result.released, previousSessionId: result.previousSessionId });
      else if (result.released) output.line(`released ${name} (was held by session ${result.previousSessionId ?? none})`);
      else output.line(`${name} was not held; nothing to release`);
      return exitCodes.success;
    }),
  };
}

interface RunArgs {
  name: string;
  ttl: number | undefined;
  wait: number | undefined;
  grace: number | undefined;
  metadata: string | undefined;
}

function runCommand(context: CliContext): CommandModule {
  return {
    command: 'run <name>',
    describe: 'hold a lock while a command runs (after --); exit with its code',
    builder: (yargs: Argv) =>
      yargs
        .positional('name', { type: 'string', describe: 'lock name', demandOption: true })
        .option('ttl', { type: 'string', describe: `session lease; the lock may be lost this long after the last acknowledged keepalive [default: ${defaultTtl}]`, coerce: durationOption('--ttl') })
        .option('wait', { type: 'string', describe: 'give up (exit 1) if not acquired within this; 0: only if free now [default: wait forever]', coerce: durationOption('--wait') })
        .option('grace', { type: 'string', describe: `after SIGTERM on loss of the lock, SIGKILL the command this much later [default: ${defaultGrace}]`, coerce: durationOption('--grace') })
        .option('metadata', { type: 'string', describe: 'shown with the holder in `lock get` (≤ 1 KiB) [default: the command line]' })
        .example('$0 lock run nightly-backup -- ./backup.sh --full', 'run backup.sh unless another backup runs; wait for it otherwise')
        .example("$0 lock run --ttl 30s --wait 0 reports -- sh -c 'make-report > /shared/report'", 'run only if nobody holds "reports" right now')
        .epilogue(
          'The command gets RAFTLOCK_TOKEN (the fencing token: pass it with every write to the protected resource) and RAFTLOCK_LOCK. If the lock may be lost (lease lapsed, session lost, force-released) the command gets SIGTERM, then SIGKILL after --grace, and raftlock exits 1. Ctrl-C is passed on to the command; the lock is released when it exits. Exit: the command\'s code (128+N if signal N ended it), 1 lost or not acquired, 2 usage, 3 cluster unavailable.',
        ),
    handler: action<RunArgs>(context, async (argv, run) => {
      const command = commandAfterDashes(argv, `raftlock lock run ${argv.name} -- ./job.sh`);
      const [{ checkName, cliClientName }, { runUnderHold }] = await Promise.all([import('../cluster-connection.js'), import('../run-under-hold.js')]);
      const name = checkName(argv.name, 'lock run');
      const ttlMs = argv.ttl ?? parseDuration(defaultTtl, '--ttl');
      if (ttlMs < 500 || ttlMs > 300_000) throw usageError(`--ttl must be between 500ms and 5m (got ${formatDuration(ttlMs)})`);
      const graceMs = argv.grace ?? parseDuration(defaultGrace, '--grace');
      const metadata = truncateUtf8(argv.metadata ?? formatCommandLine(command), maxMetadataBytes);
      if (argv.metadata !== undefined && metadata !== argv.metadata) throw usageError('--metadata must be at most 1 KiB');
      return runUnderHold({
        run,
        holdName: `lock ${JSON.stringify(name)}`,
        command,
        ttlMs,
        waitMs: argv.wait,
        graceMs,
        clientName: cliClientName(`lock run ${name}`),
        acquire: async (client, session, signal) => {
          const lock =
            argv.wait === 0
              ? await session.tryLock(name, { metadata })
              : await session.lock(name, { metadata, signal, ...(argv.wait === undefined ? {} : { timeoutMs: argv.wait }) });
          if (lock === null) return null;
          const takenAway = watchForRelease(client, lock);
          return {
            token: lock.token,
            signal: AbortSignal.any([lock.signal, takenAway.signal]),
            env: { RAFTLOCK_TOKEN: String(lock.token), RAFTLOCK_LOCK: name },
            release: async () => {
              takenAway.stop();
              await lock.release();
            },
          };
        },
      });
    }),
  };
}

export function lockCommand(context: CliContext): CommandModule {
  return {
    command: 'lock',
    describe: 'one lock: get | release --force | run',
    builder: (yargs: Argv) => yargs.command(getCommand(context)).command(releaseCommand(context)).command(runCommand(context)).demandCommand(1, 'lock: give a subcommand: get, release or run'),
    handler: () => {
      throw new CliError(exitCodes.usage, 'lock: give a subcommand: get, release or run');
    },
  };
}
