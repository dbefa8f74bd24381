// Operations: what each client op of SPEC §5 does on this member. Mutating ops become lock
// commands proposed through Raft (the request id is the exactly-once key); reads are served from the
// lock state machine after a ReadIndex confirmed this member leads (or at once when `stale`).

import {
  serviceErrorFromWire,
  type ClientRequest,
  type LockInfo,
  type LockKind,
  type OperationArgs,
  type OperationName,
  type OperationResult,
  type ServiceError,
} from '@raftlock/protocol';
import type { LockCommand } from '../lock/lock-commands.js';
import type { CommandResult, LockInfo as MachineLockInfo } from '../lock/lock-state-machine.js';
import type { RaftDriver } from '../runtime/raft-driver.js';
import type { Clock } from '../runtime/system-clock.js';
import { clusterStatusOf } from './cluster-status.js';
import type { GrantedLock, WaitRegistry } from './wait-registry.js';

/** Per-connection hooks the handlers need (parking waits, watches). */
export interface ConnectionContext {
  /** Run cleanup when the connection closes; the returned function unregisters it. */
  onClose(cleanup: () => void): () => void;
  startWatch(args: OperationArgs<'watch.start'>): OperationResult<'watch.start'>;
  cancelWatch(watchId: string): boolean;
  readonly receivedAtMs: number;
}

export interface OperationsOptions {
  readonly driver: RaftDriver;
  readonly waits: WaitRegistry;
  readonly clock: Clock;
  readonly nodeId: string;
  readonly address: string;
  readonly defaultSessionTtlMs: number;
  readonly defaultListLimit: number;
}

type Handler<Op extends OperationName> = (args: OperationArgs<Op>, request: ClientRequest<Op>, context: ConnectionContext) => Promise<OperationResult<Op>>;

export class Operations {
  private readonly handlers: { readonly [Op in OperationName]: Handler<Op> };

  constructor(private readonly options: OperationsOptions) {
    this.handlers = {
      'session.open': async (args, request) => {
        const value = await this.command({ type: 'OpenSession', requestId: request.id, ttlMs: args.ttlMs ?? options.defaultSessionTtlMs, clientName: args.name ?? '', leaderTimeMs: this.wallTimeMs() });
        return { sessionId: String(value.sessionId), ttlMs: Number(value.ttlMs) };
      },
      'session.keepalive': (args, _request, context) => options.driver.keepalive(args.sessionId, context.receivedAtMs),
      'session.close': async (args, request) => {
        await this.command({ type: 'CloseSession', requestId: request.id, sessionId: args.sessionId });
        return { closed: true };
      },
      'session.list': async (args) => {
        const index = await this.read(args.stale);
        return { sessions: options.driver.stateMachine.listSessions(), index, stale: args.stale === true };
      },
      'lock.acquire': (args, request, context) =>
        this.acquire('lock', request.id, args.sessionId, args.name, args.mode, { metadata: args.metadata ?? '', value: '' }, context),
      'lock.cancel': async (args, request) => {
        const value = await this.command({ type: 'CancelWait', requestId: request.id, sessionId: args.sessionId, kind: 'lock', name: args.name });
        return { cancelled: value.cancelled === true };
      },
      'lock.release': async (args, request) => {
        await this.command({ type: 'Release', requestId: request.id, sessionId: args.sessionId, kind: 'lock', name: args.name, token: args.token });
        return { released: true };
      },
      'lock.forceRelease': async (args, request) => {
        const value = await this.command({ type: 'ForceRelease', requestId: request.id, kind: 'lock', name: args.name });
        return { released: value.released === true, previousSessionId: typeof value.previousSessionId === 'string' ? value.previousSessionId : null };
      },
      'lock.get': async (args) => {
        const index = await this.read(args.stale);
        const info = options.driver.stateMachine.getLock('lock', args.name);
        return { lock: info ? toLockInfo(info) : null, index, stale: args.stale === true };
      },
      'lock.list': async (args) => {
        const index = await this.read(args.stale);
        const locks = options.driver.stateMachine.listLocks('lock', args.prefix ?? '', args.limit ?? options.defaultListLimit).map(toLockInfo);
        return { locks, index, stale: args.stale === true };
      },
      'election.campaign': (args, request, context) =>
        this.acquire('election', request.id, args.sessionId, args.name, 'wait', { metadata: '', value: args.value }, context),
      'election.cancel': async (args, request) => {
        const value = await this.command({ type: 'CancelWait', requestId: request.id, sessionId: args.sessionId, kind: 'election', name: args.name });
        return { cancelled: value.cancelled === true };
      },
      'election.proclaim': async (args, request) => {
        await this.command({ type: 'Proclaim', requestId: request.id, sessionId: args.sessionId, name: args.name, token: args.token, value: args.value });
        return { proclaimed: true };
      },
      'election.resign': async (args, request) => {
        await this.command({ type: 'Release', requestId: request.id, sessionId: args.sessionId, kind: 'election', name: args.name, token: args.token });
        return { released: true };
      },
      'election.leader': async (args) => {
        const index = await this.read(args.stale);
        const info = options.driver.stateMachine.getLock('election', args.name);
        return { leader: info?.holder ?? null, index, stale: args.stale === true };
      },
      'watch.start': async (args, _request, context) => context.startWatch(args),
      'watch.cancel': async (args, _request, context) => ({ cancelled: context.cancelWatch(args.watchId) }),
      'cluster.status': async () => clusterStatusOf(options.driver, options.nodeId, options.address),
    };
  }

  run(request: ClientRequest, context: ConnectionContext): Promise<unknown> {
    const handler = this.handlers[request.op] as Handler<OperationName>;
    return handler(request.args, request, context);
  }

  // ---------------------------------------------------------------------------------------------

  /** Propose a command; resolve with its value or throw the typed error it produced. */
  private async command(command: LockCommand): Promise<Record<string, unknown>> {
    return unwrap(await this.options.driver.propose(command));
  }

  /** Linearizable unless stale: ReadIndex through this member as leader. Returns the index served at. */
  private async read(stale: boolean | undefined): Promise<number> {
    if (stale === true) return this.options.driver.lastAppliedIndex();
    return this.options.driver.linearizableRead();
  }

  private acquire(
    kind: LockKind,
    requestId: string,
    sessionId: string,
    name: string,
    mode: 'wait' | 'try',
    payload: { metadata: string; value: string },
    context: ConnectionContext,
  ): Promise<GrantedLock> {
    return new Promise<GrantedLock>((resolve, reject) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        forget();
        unregisterCleanup();
        outcome();
      };
      // Parked before proposing: the grant may be applied in the same batch as the queueing entry.
      const forget = this.options.waits.register(
        requestId,
        (granted) => settle(() => resolve(granted)),
        (error) => settle(() => reject(error)),
      );
      const unregisterCleanup = context.onClose(forget);
      const command: LockCommand = { type: 'Acquire', requestId, sessionId, kind, name, mode, metadata: payload.metadata, value: payload.value, leaderTimeMs: this.wallTimeMs() };
      this.options.driver.propose(command).then(
        (result) => {
          if (!result.ok) return settle(() => reject(serviceErrorFromWire({ code: result.code, message: result.message })));
          const value = result.value as unknown as Record<string, unknown>;
          if (value.state === 'acquired') settle(() => resolve({ name, sessionId, token: Number(value.token) }));
          // 'queued': stays parked until the entry that grants, cancels or expires it.
        },
        (error: ServiceError) => settle(() => reject(error)),
      );
    });
  }

  private wallTimeMs(): number {
    return this.options.clock.wallTimeMs();
  }
}

function unwrap(result: CommandResult): Record<string, unknown> {
  if (!result.ok) throw serviceErrorFromWire({ code: result.code, message: result.message });
  return result.value as unknown as Record<string, unknown>;
}

export function toLockInfo(info: MachineLockInfo): LockInfo {
  return {
    kind: info.kind,
    name: info.name,
    holder: info.holder ?? null,
    waiters: info.waiters.map((waiter) => ({ sessionId: waiter.sessionId, clientName: waiter.clientName, sinceIndex: waiter.sinceIndex })),
  };
}
