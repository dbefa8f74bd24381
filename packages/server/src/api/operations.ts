// Operations: what each client op of SPEC §5 does on this member. Mutating ops become lock
// commands proposed through Raft (the request id is the exactly-once key); reads are served from the
// lock state machine after a ReadIndex confirmed this member leads (or at once when `stale`).

import {
  InvalidArgumentError,
  serviceErrorFromWire,
  TimeoutError,
  type ClientRequest,
  type LockInfo,
  type LockKind,
  type MemberInfo,
  type OperationArgs,
  type OperationName,
  type OperationResult,
  type ServiceError,
} from '@raftlock/protocol';
import { asNodeId } from '../ids.js';
import type { LockCommand } from '../lock/lock-commands.js';
import { reusedRequestIdFailure } from '../lock/lock-results.js';
import { withFingerprint } from '../lock/request-fingerprint.js';
import type { CommandResult, LockInfo as MachineLockInfo } from '../lock/lock-state-machine.js';
import type { RaftDriver } from '../runtime/raft-driver.js';
import type { Clock } from '../runtime/system-clock.js';
import { clusterStatusOf } from './cluster-status.js';
import type { LeaderHandOff } from './leader-hand-off.js';
import type { GrantedLock, WaitRegistry } from './wait-registry.js';

/** The lock commands a handler proposes and answers from the result (Acquire parks; the others are the leader's own). */
type ProposedCommand = Exclude<LockCommand, { type: 'Acquire' | 'ExpireSession' | 'Noop' }>;

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
  /** While leadership moves, "retry later" answers wait for the successor and then name it. */
  readonly handOff: Pick<LeaderHandOff, 'begin' | 'end'>;
}

/** How long a membership change or a leadership transfer may wait when the request gives no timeoutMs. */
const defaultAdminTimeoutMs = 10_000;

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
        return this.read(args.stale, (index) => ({ sessions: options.driver.stateMachine.listSessions(), index, stale: args.stale === true }));
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
        return this.read(args.stale, (index) => {
          const info = options.driver.stateMachine.getLock('lock', args.name);
          return { lock: info ? toLockInfo(info) : null, index, stale: args.stale === true };
        });
      },
      'lock.list': async (args) => {
        return this.read(args.stale, (index) => {
          const locks = options.driver.stateMachine.listLocks('lock', args.prefix ?? '', args.limit ?? options.defaultListLimit).map(toLockInfo);
          return { locks, index, stale: args.stale === true };
        });
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
        return this.read(args.stale, (index) => {
          const info = options.driver.stateMachine.getLock('election', args.name);
          return { leader: info?.holder ?? null, index, stale: args.stale === true };
        });
      },
      // Its snapshot of the prefix is the state after a whole entry, at the index it reports.
      'watch.start': async (args, _request, context) => options.driver.readBetweenEntries(() => context.startWatch(args)),
      'watch.cancel': async (args, _request, context) => ({ cancelled: context.cancelWatch(args.watchId) }),
      'cluster.status': async () => clusterStatusOf(options.driver, options.nodeId, options.address),
      'members.list': async () => {
        const leaderId = options.driver.role().leaderId;
        return { members: this.members(), leaderId: leaderId === '' ? null : leaderId, configIndex: options.driver.configurationIndex() };
      },
      'members.add': (args) => this.addMember(args),
      'members.remove': async (args) => {
        this.requireLeader();
        // Already gone (a retry whose first attempt went through, or a repeat): done.
        if (this.members().some((member) => member.id === args.id)) await options.driver.removeMember(args.id, args.timeoutMs ?? defaultAdminTimeoutMs);
        return { members: this.members() };
      },
      'members.transferLeader': (args) => this.transferLeader(args),
      'snapshot.read': async (args) => {
        this.requireLeader();
        return options.driver.backupSnapshotChunk(args.chunk, args.index);
      },
    };
  }

  run(request: ClientRequest, context: ConnectionContext): Promise<unknown> {
    const handler = this.handlers[request.op] as Handler<OperationName>;
    return handler(request.args, request, context);
  }

  // ---------------------------------------------------------------------------------------------

  /** Propose a command; resolve with its value or throw the typed error it produced. */
  private async command(command: ProposedCommand): Promise<Record<string, unknown>> {
    const value = unwrap(await this.options.driver.propose(withFingerprint(command)));
    // The state machine refuses a different request under a spent id itself (request fingerprints),
    // but a dedupe entry without one (see dedupe-table.ts) answers by id alone: a value of another
    // shape is then a different request's result, and answering with it would be a lie.
    if (!isResultOf[command.type](value)) throw reusedRequestIdError(command.requestId);
    return value;
  }

  /**
   * Linearizable unless stale: ReadIndex through this member as leader. `reader` is given the index
   * served at, and reads the state between entries, never halfway through one applied in parts.
   */
  private async read<Value>(stale: boolean | undefined, reader: (index: number) => Value): Promise<Value> {
    const readIndex = stale === true ? undefined : await this.options.driver.linearizableRead();
    return this.options.driver.readBetweenEntries(() => reader(readIndex ?? this.options.driver.lastAppliedIndex()));
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
        // A queued result names no session: another session's wait under a spent id without a
        // fingerprint parks too, and must not be answered with that id's grant.
        (granted) => settle(() => (granted.sessionId === sessionId && granted.name === name ? resolve(granted) : reject(reusedRequestIdError(requestId)))),
        (error) => settle(() => reject(error)),
      );
      const unregisterCleanup = context.onClose(forget);
      const command = withFingerprint<LockCommand & { type: 'Acquire' }>({ type: 'Acquire', requestId, sessionId, kind, name, mode, metadata: payload.metadata, value: payload.value, leaderTimeMs: this.wallTimeMs() });
      this.options.driver.propose(command).then(
        (result) => {
          if (!result.ok) return settle(() => reject(serviceErrorFromWire({ code: result.code, message: result.message })));
          const value = result.value as unknown as Record<string, unknown>;
          // As in command(): for an entry without a fingerprint, a result that is not this acquire's
          // means the id was spent on another request. Parking on it would leave this one unanswered
          // forever (a try included), and answering it would claim a lock that was never granted.
          if (!isResultOfAcquire(value, kind, name, sessionId)) return settle(() => reject(reusedRequestIdError(requestId)));
          if (value.state === 'acquired') settle(() => resolve({ name, sessionId, token: Number(value.token) }));
          // 'queued': stays parked until the entry that grants, cancels or expires it.
        },
        (error: ServiceError) => settle(() => reject(error)),
      );
    });
  }

  // ---- membership (Raft configuration changes, not lock commands) -----------------------------

  /** Admin ops change the configuration through the leader, like lock commands. */
  private requireLeader(): void {
    if (this.options.driver.role().role !== 'leader') throw this.options.driver.notLeaderError();
  }

  private members(): MemberInfo[] {
    return this.options.driver.configuration().members.map((member) => ({ id: member.id, address: member.address, role: member.role }));
  }

  private async addMember(args: OperationArgs<'members.add'>): Promise<OperationResult<'members.add'>> {
    this.requireLeader();
    const members = this.members();
    const existing = members.find((member) => member.id === args.id);
    if (existing !== undefined && existing.address !== args.address) {
      throw new InvalidArgumentError(`members.add: ${args.id} is already a member at ${existing.address}; remove it first to give it another address`);
    }
    const sharing = members.find((member) => member.address === args.address && member.id !== args.id);
    if (sharing !== undefined) throw new InvalidArgumentError(`members.add: ${args.address} is already the address of member ${sharing.id}`);
    // Already a voter at this address (a retry whose first attempt went through, or a repeat): done.
    // A learner at this address is handed to the driver, which resumes its catch-up and promotion.
    if (existing?.role !== 'voter') await this.options.driver.addMember(args.id, args.address, args.timeoutMs ?? defaultAdminTimeoutMs);
    return { members: this.members() };
  }

  private async transferLeader(args: OperationArgs<'members.transferLeader'>): Promise<OperationResult<'members.transferLeader'>> {
    this.requireLeader();
    const { driver, nodeId, clock } = this.options;
    const timeoutMs = args.timeoutMs ?? defaultAdminTimeoutMs;
    const deadlineMs = clock.monotonicMs() + timeoutMs;
    const members = this.members();
    if (args.id === nodeId) return { leaderId: nodeId }; // already there: a retry that reached the new leader
    if (args.id !== undefined) {
      const target = members.find((member) => member.id === args.id);
      if (target === undefined) throw new InvalidArgumentError(`members.transferLeader: ${args.id} is not a member`);
      if (target.role !== 'voter') throw new InvalidArgumentError(`members.transferLeader: ${args.id} is a learner; only a voter can lead`);
    } else if (!members.some((member) => member.role === 'voter' && member.id !== nodeId)) {
      throw new InvalidArgumentError('members.transferLeader: there is no other voter to hand leadership to');
    }
    // Clients are sent on to the successor once it is known instead of being told to retry later;
    // the hand-off ends by itself then, and here if leadership stays put.
    this.options.handOff.begin(timeoutMs);
    const moved = await driver.transferLeadership(args.id === undefined ? undefined : asNodeId(args.id), timeoutMs);
    if (!moved) {
      this.options.handOff.end();
      throw new TimeoutError(`members.transferLeader: leadership did not move within ${timeoutMs} ms`);
    }
    const leaderId = await this.newLeaderId(deadlineMs);
    if (leaderId === undefined) {
      this.options.handOff.end();
      throw new TimeoutError(`members.transferLeader: ${nodeId} stepped down, but no new leader was known within ${timeoutMs} ms`);
    }
    return { leaderId };
  }

  /** The leader after this member stepped down, once it is known (it speaks within a heartbeat), or undefined by the deadline. */
  private newLeaderId(deadlineMs: number): Promise<string | undefined> {
    const { driver, nodeId, clock } = this.options;
    const known = (): string | undefined => {
      const leaderId = driver.role().leaderId;
      return leaderId === '' || leaderId === nodeId ? undefined : leaderId;
    };
    const now = known();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      let unsubscribe = (): void => {};
      const finish = (leaderId: string | undefined) => {
        clearTimeout(timer);
        unsubscribe();
        resolve(leaderId);
      };
      const timer = setTimeout(() => finish(undefined), Math.max(0, deadlineMs - clock.monotonicMs()));
      unsubscribe = driver.onRoleChange(() => {
        const leaderId = known();
        if (leaderId !== undefined) finish(leaderId);
      });
    });
  }

  private wallTimeMs(): number {
    return this.options.clock.wallTimeMs();
  }
}

/**
 * Whether a success value has the shape the command type gives (lock-results.ts), and so can be
 * this request's own. Release and ForceRelease share `released`: a Release answers
 * `{ released: true }` only, a ForceRelease that freed a holder always names it, and one that found
 * none answers `released: false`, so the shapes still tell them apart.
 */
const isResultOf: { readonly [Type in ProposedCommand['type']]: (value: Record<string, unknown>) => boolean } = {
  OpenSession: (value) => Object.hasOwn(value, 'createdIndex'),
  CloseSession: (value) => Object.hasOwn(value, 'closed'),
  CancelWait: (value) => Object.hasOwn(value, 'cancelled'),
  Release: (value) => value.released === true && !Object.hasOwn(value, 'previousSessionId'),
  ForceRelease: (value) => value.released === false || (value.released === true && Object.hasOwn(value, 'previousSessionId')),
  Proclaim: (value) => Object.hasOwn(value, 'proclaimed'),
};

/**
 * Whether a result the state machine returned for an Acquire is that acquire's own: a grant to this
 * session of this lock, or a place in this lock's queue. Anything else is the remembered result of
 * another request that used the same request id.
 */
function isResultOfAcquire(value: Record<string, unknown>, kind: LockKind, name: string, sessionId: string): boolean {
  if (value.kind !== kind || value.name !== name) return false;
  if (value.state === 'acquired') return value.sessionId === sessionId;
  return value.state === 'queued';
}

function reusedRequestIdError(requestId: string): ServiceError {
  const { code, message } = reusedRequestIdFailure(requestId);
  return serviceErrorFromWire({ code, message });
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
