// Members: the cluster's configuration, and the admin ops that change it (`client.members`).
//
// A change is not a deduplicated lock command: the SDK retries it like any request (same id, on
// NOT_LEADER / UNAVAILABLE / RATE_LIMITED and lost connections), and the server answers a repeat of a
// change that already happened (add of a voter at the same address, remove of a member that is
// gone, transfer to the member that now leads) as done. TIMEOUT is not retried: it is the server's
// answer that the change did not finish within timeoutMs, and a retry would only start over.

import { performance } from 'node:perf_hooks';
import {
  InvalidArgumentError,
  isRetriable,
  memberAddressProblem,
  memberIdProblem,
  protocolLimits,
  type ErrorCode,
  type MemberInfo,
  type OperationArgs,
  type OperationName,
  type OperationResult,
} from '@raftlock/protocol';
import type { CallOptions, CallOutcome } from './connection.js';

/** How the client sends a request: Connection.call, refused once the client is closed. */
export type ClientCall = <Op extends OperationName>(op: Op, args: OperationArgs<Op>, options: CallOptions<Op>) => Promise<CallOutcome<Op>>;

export interface MemberChangeOptions {
  /**
   * How long the change may take: the member waits this long (a new member must first catch up),
   * and the call fails after it (plus a moment for the answer). Default: the client's
   * requestTimeoutMs. 100 ms–10 min.
   */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** The configuration as the connected member knows it. */
export interface Membership {
  readonly members: readonly MemberInfo[];
  /** null while no leader is known. */
  readonly leaderId: string | null;
  /** The log index of the entry that made this configuration. */
  readonly configIndex: number;
}

/** The member answers TIMEOUT itself at timeoutMs; the call waits this much longer for that answer. */
const answerAllowanceMs = 1_000;

const retryChange = (code: ErrorCode): boolean => code !== 'TIMEOUT' && isRetriable(code);

export class Members {
  /** Use client.members. */
  constructor(
    private readonly call: ClientCall,
    private readonly requestTimeoutMs: number,
  ) {}

  /** Every member with its role (voter or learner), the leader, and the configuration's index. */
  async list(): Promise<Membership> {
    const { result } = await this.call('members.list', {}, { deadlineMs: performance.now() + this.requestTimeoutMs });
    return result;
  }

  /**
   * Add a member (started with `raftlockd --join`): it joins as a learner, catches up, and is then
   * promoted to voter; resolves with the configuration once it votes. Admin.
   */
  async add(id: string, address: string, options: MemberChangeOptions = {}): Promise<{ members: MemberInfo[] }> {
    checkMemberId(id, 'members.add');
    const problem = memberAddressProblem(address);
    if (problem !== undefined) throw new InvalidArgumentError(`members.add: address ${JSON.stringify(address)} ${problem}`);
    return this.change('members.add', { id, address }, options);
  }

  /** Remove a member (voter or learner); resolves with the configuration without it. Admin. */
  async remove(id: string, options: MemberChangeOptions = {}): Promise<{ members: MemberInfo[] }> {
    checkMemberId(id, 'members.remove');
    return this.change('members.remove', { id }, options);
  }

  /**
   * Hand leadership to voter `id`, or (without one) to the most up-to-date voter; resolves with the
   * new leader's id. Admin. Name the target when a retry must not move leadership a second time.
   */
  async transferLeader(id?: string, options: MemberChangeOptions = {}): Promise<{ leaderId: string }> {
    if (id !== undefined) checkMemberId(id, 'members.transferLeader');
    return this.change('members.transferLeader', id === undefined ? {} : { id }, options);
  }

  private async change<Op extends 'members.add' | 'members.remove' | 'members.transferLeader'>(
    op: Op,
    args: OperationArgs<Op>,
    options: MemberChangeOptions,
  ): Promise<OperationResult<Op>> {
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < protocolLimits.minAdminTimeoutMs || timeoutMs > protocolLimits.maxAdminTimeoutMs) {
      throw new InvalidArgumentError(`${op}: timeoutMs must be an integer from ${protocolLimits.minAdminTimeoutMs} to ${protocolLimits.maxAdminTimeoutMs}`);
    }
    const { result } = await this.call(op, { ...args, timeoutMs }, {
      deadlineMs: performance.now() + timeoutMs + answerAllowanceMs,
      retryOn: retryChange,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    return result;
  }
}

function checkMemberId(id: string, op: string): void {
  const problem = memberIdProblem(id);
  if (problem !== undefined) throw new InvalidArgumentError(`${op}: member id ${JSON.stringify(id)} ${problem}`);
}
