// SessionLeases: the leader's memory of when it last heard from each session (SPEC §3.6). It is not
// replicated: keepalives never go through the log. Expiry is decided here, by the leader, and
// proposed as an ExpireSession command, so the state machine never reads a clock.
//
// Invariants:
//   - a session is proposed for expiry no earlier than ttl after the last keepalive this leader
//     received for it (received, not confirmed: the conservative end);
//   - a new leader starts every session's lease at its own election, a full TTL;
//   - once expiry is proposed, keepalives are refused: a keepalive acknowledged after that would let
//     the client believe in a lease the cluster is about to end.

import { assert } from '../assert.js';

interface Lease {
  readonly ttlMs: number;
  lastKeepaliveMs: number;
  expiryProposed: boolean;
}

export class SessionLeases {
  private readonly leases = new Map<string, Lease>();

  /** On election: every session gets a full TTL from now. */
  startAll(sessions: Iterable<readonly [sessionId: string, ttlMs: number]>, nowMs: number): void {
    this.leases.clear();
    for (const [sessionId, ttlMs] of sessions) this.leases.set(sessionId, { ttlMs, lastKeepaliveMs: nowMs, expiryProposed: false });
  }

  clear(): void {
    this.leases.clear();
  }

  opened(sessionId: string, ttlMs: number, nowMs: number): void {
    assert(ttlMs > 0, 'a lease has a positive TTL');
    this.leases.set(sessionId, { ttlMs, lastKeepaliveMs: nowMs, expiryProposed: false });
  }

  ended(sessionId: string): void {
    this.leases.delete(sessionId);
  }

  /** Record a keepalive received at receivedAtMs; false when the session is unknown or being expired. */
  keepalive(sessionId: string, receivedAtMs: number): boolean {
    const lease = this.leases.get(sessionId);
    if (!lease || lease.expiryProposed) return false;
    lease.lastKeepaliveMs = Math.max(lease.lastKeepaliveMs, receivedAtMs);
    return true;
  }

  /** Known to this leader and already proposed for expiry. */
  isExpiring(sessionId: string): boolean {
    return this.leases.get(sessionId)?.expiryProposed === true;
  }

  isLive(sessionId: string): boolean {
    const lease = this.leases.get(sessionId);
    return lease !== undefined && !lease.expiryProposed;
  }

  ttlOf(sessionId: string): number | undefined {
    return this.leases.get(sessionId)?.ttlMs;
  }

  /** Sessions whose TTL has lapsed; each is returned once (marked as proposed). */
  takeExpired(nowMs: number, limit: number): string[] {
    const expired: string[] = [];
    for (const [sessionId, lease] of this.leases) {
      if (expired.length >= limit) break;
      if (lease.expiryProposed || nowMs - lease.lastKeepaliveMs < lease.ttlMs) continue;
      lease.expiryProposed = true;
      expired.push(sessionId);
    }
    return expired;
  }

  /** An expiry proposal that did not make it (leadership lost): allow it to be proposed again. */
  expiryFailed(sessionId: string): void {
    const lease = this.leases.get(sessionId);
    if (lease) lease.expiryProposed = false;
  }

  get size(): number {
    return this.leases.size;
  }
}
