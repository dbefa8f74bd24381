// LockHarness: drives a LockStateMachine by hand for unit tests and simulation drivers. It stands
// in for the leader and Raft: it numbers entries, mints request ids and stamps leader time and
// request fingerprints, so a test reads as the commands it applies. Pure like the machine itself.
//
// Invariants:
//   indexes it hands to apply() strictly increase (gaps allowed, as Raft's own entries make them)
//   request ids are unique unless a test passes one explicitly (to retry it)

import { assert } from '../assert.js';
import { defaultLockLimits, type LockCommand, type LockKind, type LockLimits } from './lock-commands.js';
import type { LockEvent } from './lock-events.js';
import type { AcquireValue, CommandResult, ResultValue } from './lock-results.js';
import { LockStateMachine } from './lock-state-machine.js';
import { withFingerprint } from './request-fingerprint.js';

export interface Applied {
  readonly index: number;
  readonly result: CommandResult | undefined;
  readonly events: LockEvent[];
}

export interface AcquireOptions {
  readonly kind?: LockKind;
  readonly mode?: 'wait' | 'try';
  readonly metadata?: string;
  readonly value?: string;
  readonly requestId?: string;
}

export type CountLimits = Partial<Pick<LockLimits, 'maxSessions' | 'maxLocks' | 'maxWaitersPerLock' | 'maxWaitsPerSession' | 'maxDedupeEntries'>>;

export class LockHarness {
  readonly machine: LockStateMachine;
  private lastIndex = 0;
  private requestCount = 0;
  /** The leader's wall clock as the harness pretends it: advanced by hand, never read from the OS. */
  leaderTimeMs = 1_700_000_000_000;

  constructor(countLimits: CountLimits = {}) {
    this.machine = new LockStateMachine({ ...defaultLockLimits, ...countLimits });
  }

  nextRequestId(): string {
    this.requestCount++;
    return `request-${this.requestCount}`;
  }

  /** Leaves a gap in the log, as Raft's own entries (leader no-ops, config changes) do. */
  skipIndexes(count: number): void {
    assert(count >= 0, 'a gap is not negative');
    this.lastIndex += count;
  }

  /** Applies the command as the leader would propose it: a client's command gets its fingerprint. */
  apply(command: LockCommand): Applied {
    return this.applyAsProposed(command.type === 'Noop' || command.type === 'ExpireSession' || 'fingerprint' in command ? command : withFingerprint(command));
  }

  /** Applies the command exactly as given (an entry of an older leader has no fingerprint). */
  applyAsProposed(command: LockCommand): Applied {
    this.lastIndex++;
    const outcome = this.machine.apply(this.lastIndex, command);
    return { index: this.lastIndex, ...outcome };
  }

  /** Opens a session and returns its id; fails the test if the machine refuses. */
  open(clientName = 'worker', ttlMs = 10_000): string {
    const { result } = this.apply({ type: 'OpenSession', requestId: this.nextRequestId(), ttlMs, clientName, leaderTimeMs: this.leaderTimeMs });
    assert(result?.ok === true, `OpenSession succeeds: ${JSON.stringify(result)}`);
    assert('sessionId' in result.value, 'OpenSession answers a session id');
    return result.value.sessionId;
  }

  acquire(sessionId: string, name: string, options: AcquireOptions = {}): Applied {
    const kind = options.kind ?? 'lock';
    return this.apply({
      type: 'Acquire',
      requestId: options.requestId ?? this.nextRequestId(),
      sessionId,
      kind,
      name,
      mode: options.mode ?? 'wait',
      metadata: options.metadata ?? '',
      value: options.value ?? (kind === 'election' ? `value-of-${sessionId}` : ''),
      leaderTimeMs: this.leaderTimeMs,
    });
  }

  campaign(sessionId: string, name: string, value: string, requestId?: string): Applied {
    return this.acquire(sessionId, name, { kind: 'election', value, ...(requestId === undefined ? {} : { requestId }) });
  }

  cancelWait(sessionId: string, name: string, kind: LockKind = 'lock'): Applied {
    return this.apply({ type: 'CancelWait', requestId: this.nextRequestId(), sessionId, kind, name });
  }

  release(sessionId: string, name: string, token: number, kind: LockKind = 'lock'): Applied {
    return this.apply({ type: 'Release', requestId: this.nextRequestId(), sessionId, kind, name, token });
  }

  forceRelease(name: string, kind: LockKind = 'lock'): Applied {
    return this.apply({ type: 'ForceRelease', requestId: this.nextRequestId(), kind, name });
  }

  proclaim(sessionId: string, name: string, token: number, value: string): Applied {
    return this.apply({ type: 'Proclaim', requestId: this.nextRequestId(), sessionId, name, token, value });
  }

  close(sessionId: string): Applied {
    return this.apply({ type: 'CloseSession', requestId: this.nextRequestId(), sessionId });
  }

  expire(sessionId: string): Applied {
    return this.apply({ type: 'ExpireSession', sessionId, leaderTimeMs: this.leaderTimeMs });
  }
}

/** The success value of a result; throws (failing the test) on an error result. */
export function valueOf(applied: Pick<Applied, 'result'>): ResultValue {
  const { result } = applied;
  assert(result !== undefined, 'the command answers');
  assert(result.ok, `the command succeeds: ${JSON.stringify(result)}`);
  return result.value;
}

/** The fencing token of an Acquire that was granted at once. */
export function tokenOf(applied: Pick<Applied, 'result'>): number {
  const value = valueOf(applied) as AcquireValue;
  assert(value.state === 'acquired', `the acquire was granted: ${JSON.stringify(value)}`);
  return value.token;
}

/** The error code of a failed result, or 'ok'. */
export function codeOf(applied: Pick<Applied, 'result'>): string {
  const { result } = applied;
  assert(result !== undefined, 'the command answers');
  return result.ok ? 'ok' : result.code;
}
