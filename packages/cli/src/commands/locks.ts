// raftlock locks [prefix]: every lock under a prefix — holder session and client name, fencing
// token, how long it has been held, and its waiters. Elections are not listed (see `election leader`).
// The row and JSON shapes here are shared with `lock get` and `watch`.

import type { Argv, CommandModule } from 'yargs';
import type { LockState } from '@raftlock/client';
import { action, type CliContext } from '../cli-context.js';
import { formatDuration } from '../duration.js';
import { exitCodes, usageError } from '../exit-codes.js';
import { none, type Cell, type Column } from '../output.js';

export interface LockJson {
  readonly kind: 'lock' | 'election';
  readonly name: string;
  readonly holder: {
    readonly sessionId: string;
    readonly clientName: string;
    readonly token: bigint;
    readonly sinceIndex: number;
    /** The leader's wall clock at the grant (ISO 8601): for display only. */
    readonly since: string;
    readonly heldForMs: number;
    readonly metadata: string;
    readonly value?: string;
  } | null;
  readonly waiters: readonly { readonly sessionId: string; readonly clientName: string; readonly sinceIndex: number }[];
}

export function lockJson(lock: LockState, nowMs: number): LockJson {
  const holder = lock.holder;
  return {
    kind: lock.kind,
    name: lock.name,
    holder:
      holder === null
        ? null
        : {
            sessionId: holder.sessionId,
            clientName: holder.clientName,
            token: holder.token,
            sinceIndex: holder.sinceIndex,
            since: new Date(holder.sinceTimeMs).toISOString(),
            heldForMs: Math.max(0, nowMs - holder.sinceTimeMs),
            metadata: holder.metadata,
            ...(lock.kind === 'election' ? { value: holder.value } : {}),
          },
    waiters: lock.waiters.map((waiter) => ({ sessionId: waiter.sessionId, clientName: waiter.clientName, sinceIndex: waiter.sinceIndex })),
  };
}

export const lockColumns: readonly Column[] = [
  { header: 'lock' },
  { header: 'session' },
  { header: 'client' },
  { header: 'token', align: 'right' },
  { header: 'held for', align: 'right' },
  { header: 'waiters', align: 'right' },
];

export function lockRow(lock: LockState, nowMs: number): Cell[] {
  const holder = lock.holder;
  return [
    lock.name,
    holder?.sessionId ?? none,
    holder === null ? none : holder.clientName === '' ? none : holder.clientName,
    holder === null ? none : String(holder.token),
    holder === null ? none : formatDuration(nowMs - holder.sinceTimeMs),
    String(lock.waiters.length),
  ];
}

// Copies of protocolLimits.defaultListLimit and maxListLimit: --help is built before the protocol
// package (and its codec) is loaded, which only a command that talks to the cluster needs.
// locks.test.ts holds them equal.
/** The members list this many locks when asked for no number. */
export const defaultListLimit = 1000;
/** The most one lock.list answers. */
export const maxListLimit = 10_000;

/** --limit: a whole number from 1 to 10 000, or a usage error naming the flag. */
export function parseLimit(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const limit = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(limit >= 1 && limit <= maxListLimit)) throw usageError(`--limit: ${JSON.stringify(String(value))} is not a whole number from 1 to ${maxListLimit}`);
  return limit;
}

export function locksCommand(context: CliContext): CommandModule {
  return {
    command: 'locks [prefix]',
    describe: 'list locks: holder session and client, token, held for, waiters',
    builder: (yargs: Argv) =>
      yargs
        .positional('prefix', { type: 'string', describe: 'only locks whose name starts with this (e.g. orders/)' })
        .option('limit', { type: 'string', describe: `at most this many locks (1–${maxListLimit}) [default: ${defaultListLimit}]`, coerce: parseLimit })
        .example('$0 locks', 'every lock')
        .example('$0 locks orders/ --json | jq \'.locks[] | select(.waiters | length > 0)\'', 'locks under orders/ that have waiters'),
    handler: action<{ prefix?: string; limit?: number }>(context, async (argv, { globals, output }) => {
      const { withCluster } = await import('../cluster-connection.js');
      const prefix = argv.prefix ?? '';
      const limit = argv.limit ?? defaultListLimit;
      const locks = await withCluster(globals, (client) => client.locks({ prefix, limit }));
      const nowMs = Date.now();
      // The list stops at the limit without saying whether more were left: say it may be cut short.
      if (locks.length >= limit) output.warn(`warning: listed the first ${limit} locks; there may be more${limit < maxListLimit ? ` (--limit, up to ${maxListLimit}, lists more)` : ''}`);
      if (output.json) {
        output.document({ prefix, locks: locks.map((lock) => lockJson(lock, nowMs)) });
      } else if (locks.length === 0) {
        output.note(prefix === '' ? 'no locks are held or waited for' : `no locks under ${JSON.stringify(prefix)} are held or waited for`);
      } else {
        output.table(lockColumns, locks.map((lock) => lockRow(lock, nowMs)));
      }
      return exitCodes.success;
    }),
  };
}
