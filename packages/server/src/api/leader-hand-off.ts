// LeaderHandOff: how the client API answers while leadership moves: this member hands it to another
// (the SIGTERM path, SPEC §2), or this member lost its leader and an election is under way. From
// begin() until a successor is known, an answer that would only say
// "retry later" — UNAVAILABLE for a proposal refused while the transfer runs, or for "no leader
// known" in the moment between stepping down and the new leader's first append — is held back; the
// moment a successor is known it goes out as NOT_LEADER naming that successor, so the client moves
// straight to the new leader instead of backing off and guessing among the endpoints.
//
// Invariants:
//   - only UNAVAILABLE answers are ever held or rewritten, and only into NOT_LEADER: both mean
//     "not done here (or outcome unknown), retry with the same request id" (docs/errors.md), so
//     exactly-once and every other answer are untouched;
//   - nothing is held past the window given to begin(), nor past end(): a transfer that fails
//     leaves this member leading, and the held answers then go out as they were;
//   - a successor is another member this one follows, never itself (driver.notLeaderError());
//   - when this member wins the election itself (it lost its leader, held answers, and was elected),
//     the held answers go out at once as they were: the clients retry here, where they are now
//     served, instead of waiting out the window (measured: up to 2 election timeouts per failover).

import type { ServiceError } from '@raftlock/protocol';
import type { Logger } from '../raft/ports.js';
import type { RaftDriver } from '../runtime/raft-driver.js';
import type { Clock } from '../runtime/system-clock.js';

/** What the hand-off needs of the driver (a narrow slice, so tests can stand in for it). */
export type HandOffDriver = Pick<RaftDriver, 'role' | 'notLeaderError' | 'onRoleChange'>;

interface HeldAnswer {
  readonly original: ServiceError;
  readonly resolve: (answer: ServiceError) => void;
}

export class LeaderHandOff {
  private windowEndsAtMs: number | undefined;
  private windowTimer: NodeJS.Timeout | undefined;
  private readonly held = new Set<HeldAnswer>();
  private readonly successorWaiters = new Set<(leader: string | undefined) => void>();

  constructor(
    private readonly driver: HandOffDriver,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    // The old leader learns its successor from the successor's first append: that role change is
    // the earliest moment a redirect can name it. Winning an election is the other way it ends.
    driver.onRoleChange(() => this.releaseOnRoleChange());
  }

  /** Hold "retry later" answers for at most windowMs, until a successor is known. */
  begin(windowMs: number): void {
    if (!(windowMs > 0)) throw new RangeError('the hand-off window must be positive');
    clearTimeout(this.windowTimer);
    this.windowEndsAtMs = this.clock.monotonicMs() + windowMs;
    this.windowTimer = setTimeout(() => this.end(), windowMs);
  }

  get active(): boolean {
    return this.windowEndsAtMs !== undefined && this.clock.monotonicMs() < this.windowEndsAtMs;
  }

  /** The answer to send for a failed request: as it is, or during a hand-off NOT_LEADER naming the successor. */
  answer(error: ServiceError): ServiceError | Promise<ServiceError> {
    if (error.code !== 'UNAVAILABLE' || !this.active) return error;
    const redirect = this.redirect();
    if (redirect) return redirect;
    return new Promise((resolve) => this.held.add({ original: error, resolve }));
  }

  /**
   * The leader's address once known: at once when this member follows a known leader, after the
   * successor's first append during a hand-off, undefined when this member leads or none is known
   * by the end of the window.
   */
  successor(): Promise<string | undefined> {
    const known = this.successorAddress();
    if (known !== undefined || !this.active || this.driver.role().role === 'leader') return Promise.resolve(known);
    return new Promise((resolve) => this.successorWaiters.add(resolve));
  }

  /** Close the window: every held answer goes out now (redirected if a successor is known). */
  end(): void {
    clearTimeout(this.windowTimer);
    this.windowTimer = undefined;
    this.windowEndsAtMs = undefined;
    const redirect = this.redirect();
    for (const held of this.held) held.resolve(redirect ?? held.original);
    this.held.clear();
    const leader = this.successorAddress();
    for (const waiter of this.successorWaiters) waiter(leader);
    this.successorWaiters.clear();
  }

  private releaseOnRoleChange(): void {
    if (this.windowEndsAtMs === undefined) return;
    if (this.driver.role().role === 'leader') {
      this.logger.info({ heldAnswers: this.held.size }, 'this member leads now; held answers go out so their clients retry here');
      this.end();
      return;
    }
    const successor = this.successorAddress();
    if (successor === undefined) return;
    this.logger.info({ successor, heldAnswers: this.held.size }, 'a new leader is known; redirecting held answers to it');
    // The hand-off is done: later answers are a follower's usual NOT_LEADER, nothing to hold.
    this.end();
  }

  private successorAddress(): string | undefined {
    return this.redirect()?.leader;
  }

  private redirect(): ServiceError | undefined {
    if (this.driver.role().role === 'leader') return undefined;
    const error = this.driver.notLeaderError();
    return error.code === 'NOT_LEADER' && error.leader !== undefined ? error : undefined;
  }
}
