// WaitRegistry: client requests parked until a later log entry completes them — a wait-mode
// acquire or a campaign that was queued, completed by the entry that grants it, cancels it, or ends
// its session. Registration happens BEFORE the proposal, because the grant can be applied in the
// same batch as the queueing entry, before the proposal's own promise runs.

import { TimeoutError, type ServiceError } from '@raftlock/protocol';

export interface GrantedLock {
  readonly name: string;
  readonly sessionId: string;
  readonly token: number;
}

interface Waiter {
  readonly resolve: (granted: GrantedLock) => void;
  readonly reject: (error: ServiceError) => void;
}

export class WaitRegistry {
  private readonly byRequestId = new Map<string, Set<Waiter>>();

  /** Park a request; returns a function that forgets it (connection closed). */
  register(requestId: string, resolve: Waiter['resolve'], reject: Waiter['reject']): () => void {
    const waiter: Waiter = { resolve, reject };
    let waiters = this.byRequestId.get(requestId);
    if (!waiters) {
      waiters = new Set();
      this.byRequestId.set(requestId, waiters);
    }
    waiters.add(waiter);
    return () => {
      waiters.delete(waiter);
      if (waiters.size === 0 && this.byRequestId.get(requestId) === waiters) this.byRequestId.delete(requestId);
    };
  }

  granted(requestId: string, granted: GrantedLock): void {
    for (const waiter of this.take(requestId)) waiter.resolve(granted);
  }

  cancelled(requestId: string): void {
    for (const waiter of this.take(requestId)) waiter.reject(new TimeoutError('the wait was cancelled'));
  }

  failed(requestId: string, error: ServiceError): void {
    for (const waiter of this.take(requestId)) waiter.reject(error);
  }

  /** This member stopped leading: every parked request is told to retry elsewhere. */
  failAll(error: ServiceError): void {
    const all = [...this.byRequestId.values()];
    this.byRequestId.clear();
    for (const waiters of all) for (const waiter of waiters) waiter.reject(error);
  }

  get size(): number {
    return this.byRequestId.size;
  }

  private take(requestId: string): Waiter[] {
    const waiters = this.byRequestId.get(requestId);
    if (!waiters) return [];
    this.byRequestId.delete(requestId);
    return [...waiters];
  }
}
