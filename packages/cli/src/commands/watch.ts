// raftlock watch [prefix]: a live stream of lock and election events, one line each, until Ctrl-C.
// It starts with the current holders under the prefix (like `kubectl get -w`), then every event in
// log order; the SDK resumes it across reconnects and leader changes without loss or repeats.

import type { Argv, CommandModule } from 'yargs';
import type { WatchItem } from '@raftlock/client';
import { action, type CliContext } from '../cli-context.js';
import { exitCodes } from '../exit-codes.js';
import { lockJson } from './locks.js';

/** The local time of day, HH:MM:SS.mmm (a terminal's reader thinks in local time, not UTC). */
export function clock(nowMs: number): string {
  const time = new Date(nowMs);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${two(time.getHours())}:${two(time.getMinutes())}:${two(time.getSeconds())}.${String(time.getMilliseconds()).padStart(3, '0')}`;
}

/** The plain lines for one watch item: the snapshot's holders, or the one event. */
export function watchLines(item: WatchItem, options: { readonly time: string | undefined }): string[] {
  const prefix = options.time === undefined ? '' : `${options.time}  `;
  if (item.type === 'snapshot') {
    return item.locks
      .filter((lock) => lock.holder !== null)
      .map((lock) => `${prefix}#${item.index}  held  ${lock.kind}  ${lock.name}  session=${lock.holder?.sessionId} token=${lock.holder?.token}${lock.kind === 'election' ? ` value=${JSON.stringify(lock.holder?.value)}` : ''}${lock.waiters.length > 0 ? ` waiters=${lock.waiters.length}` : ''}`);
  }
  const details = [`session=${item.sessionId}`];
  if (item.token !== undefined) details.push(`token=${item.token}`);
  if (item.value !== undefined && item.kind === 'election') details.push(`value=${JSON.stringify(item.value)}`);
  return [`${prefix}#${item.index}  ${item.type}  ${item.kind}  ${item.name}  ${details.join(' ')}`];
}

export function watchJson(item: WatchItem, nowMs: number): Record<string, unknown> {
  if (item.type === 'snapshot') return { type: 'snapshot', index: item.index, locks: item.locks.map((lock) => lockJson(lock, nowMs)) };
  return { ...item };
}

export function watchCommand(context: CliContext): CommandModule {
  return {
    command: 'watch [prefix]',
    describe: 'live stream of lock and election events, one line each (Ctrl-C stops)',
    builder: (yargs: Argv) =>
      yargs
        .positional('prefix', { type: 'string', describe: 'only names starting with this' })
        .option('kind', { choices: ['lock', 'election'] as const, describe: 'only locks, or only elections' })
        .example('$0 watch orders/', 'the current holders under orders/, then every acquire, release, expiry, queue and cancel')
        .example("$0 watch --json | jq -c 'select(.type == \"expired\")'", 'one JSON object per line: pick out the expiries'),
    handler: action<{ prefix?: string; kind?: 'lock' | 'election' }>(context, async (argv, { globals, output }) => {
      const [{ connectByDeadline }, { trapSignals }] = await Promise.all([import('../cluster-connection.js'), import('../signals.js')]);
      const client = await connectByDeadline(globals);
      const stream = client.watch(argv.prefix ?? '', argv.kind === undefined ? {} : { kind: argv.kind });
      const untrap = trapSignals(() => void stream.return?.());
      try {
        for await (const item of stream) {
          const nowMs = Date.now();
          if (output.json) output.jsonLine(watchJson(item, nowMs));
          else for (const line of watchLines(item, { time: output.isTty ? clock(nowMs) : undefined })) output.line(line);
        }
        return exitCodes.success; // stopped by a signal
      } finally {
        untrap();
        await client.close().catch(() => undefined);
      }
    }),
  };
}
