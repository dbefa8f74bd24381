// Lock: one held lock (SPEC §6). It carries the fencing token to hand to the protected resource,
// and a signal aborted the moment the lock may be lost: when the session's lease may have lapsed
// (before the server can expire it, SPEC §3.6), when the session is lost or closed, or on release.

import type { HoldSignal } from './hold-signal.js';

/** What a Lock needs from its session: giving the lock back. */
export interface LockOwner {
  releaseHold(hold: Lock): Promise<void>;
}

export class Lock {
  readonly name: string;
  /** The fencing token (SPEC §3.2): pass it with every write to the resource this lock protects. */
  readonly token: bigint;
  readonly sessionId: string;
  private readonly holdSignal: HoldSignal;
  private released: Promise<void> | undefined;

  constructor(
    init: { readonly name: string; readonly token: bigint; readonly sessionId: string; readonly holdSignal: HoldSignal },
    private readonly owner: LockOwner,
  ) {
    this.name = init.name;
    this.token = init.token;
    this.sessionId = init.sessionId;
    this.holdSignal = init.holdSignal;
  }

  /** Aborted the moment the lock may be lost; `signal.reason` says why. */
  get signal(): AbortSignal {
    return this.holdSignal.signal;
  }

  /** False once the lock may be lost (released, lease lapsed, session lost or closed). */
  get isHeld(): boolean {
    return !this.holdSignal.ended;
  }

  /** Throws the signal's reason when the lock may be lost: call before each protected step. */
  throwIfLost(): void {
    this.signal.throwIfAborted();
  }

  /** Give the lock back. Idempotent: every call returns the same promise. */
  release(): Promise<void> {
    this.released ??= this.owner.releaseHold(this);
    return this.released;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}
