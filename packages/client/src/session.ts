// Session: a lease on the cluster (SPEC §3.6, §4) and the locks and elections held under it.
//
// Conservative lease. The leader expires a session no earlier than TTL after the last keepalive it
// RECEIVED; this side declares the session possibly lost at (send time of the last ACKNOWLEDGED
// keepalive + TTL), measured on the monotonic clock (performance.now()). A keepalive is received
// after it is sent, so the local deadline always comes first, and at that moment every held lock's
// signal is aborted — before the server can hand the lock to anyone else. (The lease starts at the
// first send of session.open: the server starts it at apply time, later still.)
//
// Invariants:
//   - the deadline only moves forward, and only by an acknowledgement that arrived before it;
//   - once lost or closed, a session stays so: its locks' signals are aborted and it takes no work;
//   - a lock name is waited for or held at most once per session at a time, so a cancel or a
//     release by name can only ever touch the request it was meant for.

import { EventEmitter, setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import { nanoid } from 'nanoid';
import {
  AlreadyHeldError,
  InvalidArgumentError,
  isServiceError,
  lockNameProblem,
  NotHolderError,
  SessionExpiredError,
  TooLargeError,
  protocolLimits,
  type OperationArgs,
  type ServiceError,
} from '@raftlock/protocol';
import { backoffDelayMs } from './backoff.js';
import type { Connection } from './connection.js';
import { Election, Leadership, type CampaignOptions, type ElectionHost } from './election.js';
import { waitForGrant, type WaitKind } from './grant-wait.js';
import { HoldSignal } from './hold-signal.js';
import { Lock, type LockOwner } from './lock.js';
import { tokenToWire, type ElectionLeader } from './views.js';

export interface SessionOptions {
  /** Lease length, 500–300 000 ms (default 10 000). Keepalives go out about every ttlMs/3. */
  readonly ttlMs?: number;
  /** Shown as the holder's clientName in locks(), sessions() and the CLI. */
  readonly name?: string;
}

export interface LockOptions {
  /**
   * Give up after this long: the wait is cancelled, leaving no waiter behind, and lock() rejects with
   * TimeoutError (code TIMEOUT) — unless the cluster granted the lock before it applied the cancel:
   * then lock() resolves with it (so even 0 takes a free lock).
   */
  readonly timeoutMs?: number;
  /** Give up when aborted: rejects with `signal.reason` and leaves no waiter behind. */
  readonly signal?: AbortSignal;
  /** Stored with the holder (≤ 1 KiB), shown in locks(). */
  readonly metadata?: string;
}

export interface TryLockOptions {
  readonly metadata?: string;
}

/** A keepalive acknowledged by the leader; times are performance.now() milliseconds. */
export interface KeepaliveAck {
  /** When the acknowledged keepalive was sent. */
  readonly sentAtMs: number;
  /** The lease deadline it gives: sentAtMs + ttlMs (never earlier than the previous one). */
  readonly deadlineMs: number;
  readonly ttlMs: number;
}

export type SessionState = 'open' | 'lost' | 'closed';

export interface SessionEvents {
  /** The session may have expired (lease lapsed, or the server said so). Terminal: open a new one. */
  lost: [reason: ServiceError];
  keepalive: [ack: KeepaliveAck];
  closed: [];
}

/** What a session needs from the client that opened it. */
export interface SessionContext {
  readonly connection: Connection;
  readonly requestTimeoutMs: number;
  observe(name: string): AsyncIterableIterator<ElectionLeader | null>;
  electionLeader(name: string): Promise<ElectionLeader | null>;
  ended(session: Session): void;
}

type Hold = Lock | Leadership;

export class Session extends EventEmitter<SessionEvents> implements LockOwner, ElectionHost {
  private currentState: SessionState = 'open';
  private deadlineMs: number;
  private readonly lifecycle = new AbortController();
  private readonly holds = new Map<Hold, HoldSignal>();
  /** `${kind}:${name}` of every lock or election this session waits for or holds. */
  private readonly busyNames = new Set<string>();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private keepaliveInFlight = false;
  private keepaliveFailures = 0;
  private closing: Promise<void> | undefined;
  private readonly connection: Connection;

  private constructor(
    private readonly context: SessionContext,
    readonly id: string,
    readonly name: string,
    readonly ttlMs: number,
    leaseStartMs: number,
  ) {
    super();
    this.connection = context.connection;
    this.deadlineMs = leaseStartMs + ttlMs;
    // Every request of the session listens on this signal while it is outstanding (a queued lock()
    // for as long as it waits): many at once are normal use, not a leak, so Node must not warn
    // (MaxListenersExceededWarning) past its default of 10.
    setMaxListeners(0, this.lifecycle.signal);
  }

  /** Open a session on the cluster (use Client.session). */
  static async open(context: SessionContext, options: SessionOptions): Promise<Session> {
    const ttlMs = options.ttlMs ?? protocolLimits.defaultSessionTtlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs < protocolLimits.minSessionTtlMs || ttlMs > protocolLimits.maxSessionTtlMs) {
      throw new InvalidArgumentError(`ttlMs must be an integer between ${protocolLimits.minSessionTtlMs} and ${protocolLimits.maxSessionTtlMs}`);
    }
    const name = options.name ?? '';
    if (Buffer.byteLength(name) > protocolLimits.maxClientNameBytes) throw new TooLargeError(`name must be at most ${protocolLimits.maxClientNameBytes} bytes`);
    const outcome = await context.connection.call('session.open', { ttlMs, name }, { deadlineMs: performance.now() + context.requestTimeoutMs });
    // The first send, not the answered one: an earlier attempt may be the one the leader applied.
    const session = new Session(context, outcome.result.sessionId, name, outcome.result.ttlMs, outcome.firstSentAtMs);
    session.startLease();
    return session;
  }

  get state(): SessionState {
    return this.currentState;
  }

  /** Aborted when the session is lost or closed. */
  get signal(): AbortSignal {
    return this.lifecycle.signal;
  }

  /** performance.now() at which the session may be lost unless a keepalive is acknowledged first. */
  get leaseDeadlineMs(): number {
    return this.deadlineMs;
  }

  // ---- locks ----------------------------------------------------------------------------------

  /** Wait in the lock's FIFO queue until granted. */
  async lock(name: string, options: LockOptions = {}): Promise<Lock> {
    this.assertOpen();
    checkName(name);
    if (options.timeoutMs !== undefined && !(options.timeoutMs >= 0 && Number.isFinite(options.timeoutMs))) {
      throw new InvalidArgumentError('timeoutMs must be a finite number ≥ 0');
    }
    options.signal?.throwIfAborted();
    const release = this.reserve('lock', name);
    const grant = await waitForGrant({
      connection: this.connection,
      kind: 'lock',
      sessionId: this.id,
      name,
      payload: options.metadata === undefined ? {} : { metadata: options.metadata },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      sessionSignal: this.lifecycle.signal,
      requestTimeoutMs: this.context.requestTimeoutMs,
      onFinished: release,
    });
    return this.adopt('lock', name, grant.token, '');
  }

  /** Take the lock if it is free; null when another session holds it. */
  async tryLock(name: string, options: TryLockOptions = {}): Promise<Lock | null> {
    this.assertOpen();
    checkName(name);
    const release = this.reserve('lock', name);
    const id = nanoid();
    const args: OperationArgs<'lock.acquire'> = { sessionId: this.id, name, mode: 'try', ...(options.metadata === undefined ? {} : { metadata: options.metadata }) };
    try {
      const { result } = await this.connection.call('lock.acquire', args, { id, deadlineMs: this.requestDeadline(), signal: this.lifecycle.signal });
      return this.adopt('lock', name, result.token, '');
    } catch (error) {
      if (isServiceError(error) && error.code === 'LOCK_HELD') {
        release();
        return null;
      }
      if (!isDefinitive(error)) {
        // Unanswered: the grant may have been applied. Ask again with the same id, in the
        // background, and give back whatever it turns out to have granted.
        void this.settleInBackground(() => this.connection.call('lock.acquire', args, { id, signal: this.lifecycle.signal }), 'lock', name).finally(release);
      } else {
        release();
      }
      throw error;
    }
  }

  /** Hold the lock while fn runs; released when fn settles. fn gets the lock (token, signal). */
  async withLock<T>(name: string, fn: (lock: Lock) => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    const lock = await this.lock(name, options);
    let result: T;
    try {
      result = await fn(lock);
    } catch (error) {
      await lock.release().catch(() => undefined);
      throw error;
    }
    await lock.release();
    return result;
  }

  // ---- elections ------------------------------------------------------------------------------

  election(name: string): Election {
    checkName(name);
    return new Election(name, this);
  }

  /** @internal (ElectionHost) */
  async campaign(name: string, value: string, options: CampaignOptions): Promise<Leadership> {
    this.assertOpen();
    if (Buffer.byteLength(value) > protocolLimits.maxElectionValueBytes) throw new TooLargeError(`value must be at most ${protocolLimits.maxElectionValueBytes} bytes`);
    options.signal?.throwIfAborted();
    const release = this.reserve('election', name);
    const grant = await waitForGrant({
      connection: this.connection,
      kind: 'election',
      sessionId: this.id,
      name,
      payload: { value },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      sessionSignal: this.lifecycle.signal,
      requestTimeoutMs: this.context.requestTimeoutMs,
      onFinished: release,
    });
    return this.adopt('election', name, grant.token, value);
  }

  /** @internal (ElectionHost) */
  async proclaim(leadership: Leadership, value: string): Promise<void> {
    if (!leadership.isLeader) throw new NotHolderError(`no longer the leader of election ${JSON.stringify(leadership.name)}`);
    this.assertOpen();
    const args = { sessionId: this.id, name: leadership.name, token: tokenToWire(leadership.token), value };
    await this.connection.call('election.proclaim', args, { deadlineMs: this.requestDeadline(), signal: this.lifecycle.signal });
  }

  /** @internal (ElectionHost) */
  electionLeader(name: string): Promise<ElectionLeader | null> {
    return this.context.electionLeader(name);
  }

  /** @internal (ElectionHost) */
  observe(name: string): AsyncIterableIterator<ElectionLeader | null> {
    return this.context.observe(name);
  }

  // ---- releasing ------------------------------------------------------------------------------

  /** @internal (LockOwner, ElectionHost): Lock.release() and Leadership.resign() land here. */
  async releaseHold(hold: Hold): Promise<void> {
    const kind: WaitKind = hold instanceof Lock ? 'lock' : 'election';
    const holdSignal = this.holds.get(hold);
    if (!holdSignal) return;
    // The lock may be gone from the moment the release leaves: abort first.
    holdSignal.end(() => new DOMException(`${kind} ${JSON.stringify(hold.name)} was released`, 'AbortError'));
    this.holds.delete(hold);
    const unreserve = () => this.busyNames.delete(`${kind}:${hold.name}`);
    if (this.currentState !== 'open') {
      unreserve(); // closing or expiring the session releases it
      return;
    }
    const id = nanoid();
    const args = { sessionId: this.id, name: hold.name, token: tokenToWire(hold.token) };
    const send = (deadlineMs?: number) =>
      kind === 'lock'
        ? this.connection.call('lock.release', args, { id, signal: this.lifecycle.signal, ...(deadlineMs === undefined ? {} : { deadlineMs }) })
        : this.connection.call('election.resign', args, { id, signal: this.lifecycle.signal, ...(deadlineMs === undefined ? {} : { deadlineMs }) });
    try {
      await send(this.requestDeadline());
      unreserve();
    } catch (error) {
      if (alreadyGone(error) || this.lifecycle.signal.aborted) {
        unreserve();
        return;
      }
      // Unanswered: keep sending the same release while the session lives, then report.
      void send().then(unreserve, unreserve);
      throw error;
    }
  }

  // ---- closing --------------------------------------------------------------------------------

  /** Close the session: the cluster releases its locks and drops its waits and campaigns. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.end('closed', new SessionExpiredError(`session ${this.id} was closed`));
    this.closing = this.sendClose().finally(() => this.emit('closed'));
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- the lease ------------------------------------------------------------------------------

  private startLease(): void {
    this.armLeaseTimer();
    this.scheduleKeepalive(this.keepaliveIntervalMs());
  }

  private keepaliveIntervalMs(): number {
    return Math.max(50, Math.floor(this.ttlMs / 3));
  }

  private armLeaseTimer(): void {
    clearTimeout(this.leaseTimer);
    this.leaseTimer = setTimeout(() => this.checkLease(), Math.max(0, this.deadlineMs - performance.now()));
  }

  private checkLease(): void {
    if (this.currentState !== 'open') return;
    if (performance.now() < this.deadlineMs) {
      this.armLeaseTimer(); // the timer fired a little early
      return;
    }
    this.lose(new SessionExpiredError(`session ${this.id}: no keepalive acknowledged within its ${this.ttlMs} ms TTL; its lease may have lapsed`));
  }

  private scheduleKeepalive(delayMs: number): void {
    clearTimeout(this.keepaliveTimer);
    this.keepaliveTimer = setTimeout(() => this.sendKeepalive(), delayMs);
  }

  private sendKeepalive(): void {
    if (this.currentState !== 'open' || this.keepaliveInFlight) return;
    this.keepaliveInFlight = true;
    this.connection.call('session.keepalive', { sessionId: this.id }, { deadlineMs: this.deadlineMs, signal: this.lifecycle.signal }).then(
      ({ result, sentAtMs }) => {
        this.keepaliveInFlight = false;
        this.keepaliveFailures = 0;
        this.onKeepaliveAck(sentAtMs, result.ttlMs);
        if (this.currentState === 'open') this.scheduleKeepalive(this.keepaliveIntervalMs());
      },
      (error: unknown) => {
        this.keepaliveInFlight = false;
        if (this.currentState !== 'open') return;
        if (isServiceError(error) && error.code === 'SESSION_EXPIRED') {
          this.lose(error);
          return;
        }
        const retryMs = Math.min(this.keepaliveIntervalMs(), backoffDelayMs({ initialDelayMs: 50, maxDelayMs: 1000 }, this.keepaliveFailures++));
        this.scheduleKeepalive(retryMs);
      },
    );
  }

  private onKeepaliveAck(sentAtMs: number, ttlMs: number): void {
    if (this.currentState !== 'open') return;
    if (performance.now() >= this.deadlineMs) {
      // The acknowledgement came after the deadline (say, the process was paused): the lease may
      // have lapsed in between, and the locks were possibly lost. Never revive them.
      this.checkLease();
      return;
    }
    this.deadlineMs = Math.max(this.deadlineMs, sentAtMs + ttlMs);
    this.armLeaseTimer();
    this.emit('keepalive', { sentAtMs, deadlineMs: this.deadlineMs, ttlMs });
  }

  private lose(reason: ServiceError): void {
    if (this.currentState !== 'open') return;
    this.end('lost', reason);
    // Free the locks at once if the cluster still has the session (slow, not dead).
    this.closing = this.sendClose().catch(() => undefined);
    this.emit('lost', reason);
  }

  private end(state: 'lost' | 'closed', reason: ServiceError): void {
    if (this.currentState !== 'open') return;
    this.currentState = state;
    clearTimeout(this.keepaliveTimer);
    clearTimeout(this.leaseTimer);
    for (const holdSignal of this.holds.values()) holdSignal.end(() => reason);
    this.holds.clear();
    this.busyNames.clear();
    this.lifecycle.abort(reason);
    this.context.ended(this);
  }

  private async sendClose(): Promise<void> {
    try {
      await this.connection.call('session.close', { sessionId: this.id }, { deadlineMs: this.requestDeadline() });
    } catch (error) {
      if (isServiceError(error) && error.code === 'SESSION_EXPIRED') return;
      throw error;
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  private adopt(kind: 'lock', name: string, token: number, value: string): Lock;
  private adopt(kind: 'election', name: string, token: number, value: string): Leadership;
  private adopt(kind: WaitKind, name: string, token: number, value: string): Hold {
    if (this.currentState !== 'open') {
      // Granted after the session ended locally: closing the session gives it back.
      throw this.lifecycle.signal.reason;
    }
    const holdSignal = new HoldSignal();
    const init = { name, token: BigInt(token), sessionId: this.id, holdSignal };
    const hold: Hold = kind === 'lock' ? new Lock(init, this) : new Leadership({ ...init, value }, this);
    this.holds.set(hold, holdSignal);
    if (performance.now() >= this.deadlineMs) this.checkLease(); // aborts it at once if the lease lapsed
    return hold;
  }

  /** Mark kind:name busy for this session; returns the function that frees it. */
  private reserve(kind: WaitKind, name: string): () => void {
    const key = `${kind}:${name}`;
    if (this.busyNames.has(key)) throw new AlreadyHeldError(`session ${this.id} already holds or waits for ${kind} ${JSON.stringify(name)}`);
    this.busyNames.add(key);
    return () => this.busyNames.delete(key);
  }

  /** Ask for a request's final outcome (same id) and give back any grant it turns out to have made. */
  private async settleInBackground(ask: () => Promise<{ result: { token: number } }>, kind: WaitKind, name: string): Promise<void> {
    let token: number;
    try {
      token = (await ask()).result.token;
    } catch {
      return;
    }
    if (this.currentState !== 'open') return;
    const args = { sessionId: this.id, name, token };
    const options = { deadlineMs: this.requestDeadline(), signal: this.lifecycle.signal };
    await (kind === 'lock' ? this.connection.call('lock.release', args, options) : this.connection.call('election.resign', args, options)).catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.currentState !== 'open') throw this.lifecycle.signal.reason;
  }

  private requestDeadline(): number {
    return performance.now() + this.context.requestTimeoutMs;
  }
}

function checkName(name: string): void {
  if (typeof name !== 'string') throw new InvalidArgumentError('a lock name must be a string');
  const problem = lockNameProblem(name);
  if (problem === undefined) return;
  if (Buffer.byteLength(name) > protocolLimits.maxLockNameBytes) throw new TooLargeError(`lock name ${problem}`);
  throw new InvalidArgumentError(`lock name ${problem}`);
}

/** An answer from the server itself (not a local deadline, abort or closed client). */
function isDefinitive(error: unknown): boolean {
  if (!isServiceError(error)) return false;
  return error.code !== 'TIMEOUT' && error.code !== 'UNAVAILABLE' && error.code !== 'NOT_LEADER' && error.code !== 'RATE_LIMITED';
}

/** A release answered this way leaves the lock not held by us: nothing more to do. */
function alreadyGone(error: unknown): boolean {
  return isServiceError(error) && (error.code === 'NOT_HOLDER' || error.code === 'SESSION_EXPIRED');
}
