// FencedResource: the protected resource every chaos client writes to while it holds a lock or leads
// an election — one record per lock name, each remembering the highest fencing token it accepted
// and refusing any lower one (docs/fencing.md). It never decides what is a violation; it records,
// at the very instant of each grant and write, what the checker needs to decide:
//
//   - whether the write was accepted, and the highest token before it;
//   - whether the writer still had a valid lease: its lock signal not aborted AND its session's
//     lease deadline (send time of the last acknowledged keepalive + TTL, SPEC §3.6) not yet passed
//     on this process's monotonic clock. Both, because the abort fires from a timer, which a busy
//     event loop runs late: the deadline is the SDK's promise, the signal only its messenger;
//   - which OTHER holds of the same name still had a valid lease at that instant.
//
// Everything runs in this one process and every check-then-write is synchronous, so the check and
// the write it guards are atomic, as docs/fencing.md requires of a real resource.

import { performance } from 'node:perf_hooks';
import type { Session } from '@raftlock/client';
import type { History, HoldReference } from './history.js';

export interface TrackedHold {
  readonly client: string;
  /** The acquire or campaign op that granted it. */
  readonly opId: string;
  readonly lockKind: 'lock' | 'election';
  readonly name: string;
  readonly token: bigint;
  readonly signal: AbortSignal;
  readonly session: Session;
}

export function leaseIsValid(hold: TrackedHold): boolean {
  return !hold.signal.aborted && performance.now() < hold.session.leaseDeadlineMs;
}

const resourceKey = (hold: Pick<TrackedHold, 'lockKind' | 'name'>): string => `${hold.lockKind}:${hold.name}`;

export class FencedResource {
  private readonly highestToken = new Map<string, bigint>();
  /** Holds whose signal has not been aborted yet, per resource. */
  private readonly liveHolds = new Map<string, Set<TrackedHold>>();
  acceptedWriteCount = 0;
  rejectedWriteCount = 0;

  constructor(private readonly history: History) {}

  /** Other holds of this resource whose lease is valid right now (none, if exclusion holds). */
  otherValidHolds(hold: TrackedHold): HoldReference[] {
    const others: HoldReference[] = [];
    for (const other of this.liveHolds.get(resourceKey(hold)) ?? []) {
      if (other === hold || other.token === hold.token) continue;
      if (leaseIsValid(other)) others.push({ client: other.client, opId: other.opId, token: Number(other.token) });
    }
    return others;
  }

  /** Track a hold from its grant until its signal aborts. */
  register(hold: TrackedHold): void {
    const key = resourceKey(hold);
    const holds = this.liveHolds.get(key) ?? new Set<TrackedHold>();
    this.liveHolds.set(key, holds);
    if (hold.signal.aborted) return;
    holds.add(hold);
    hold.signal.addEventListener('abort', () => holds.delete(hold), { once: true });
  }

  /** The guarded write: accepted iff no higher token was accepted before. Recorded either way. */
  write(hold: TrackedHold): boolean {
    const key = resourceKey(hold);
    const highestBefore = this.highestToken.get(key);
    const leaseValid = leaseIsValid(hold);
    const otherValidHolds = this.otherValidHolds(hold);
    const accepted = highestBefore === undefined || hold.token >= highestBefore;
    if (accepted) {
      this.highestToken.set(key, hold.token);
      this.acceptedWriteCount++;
    } else {
      this.rejectedWriteCount++;
    }
    this.history.record({
      kind: 'write',
      client: hold.client,
      holdOpId: hold.opId,
      lockKind: hold.lockKind,
      name: hold.name,
      token: Number(hold.token),
      accepted,
      highestBefore: highestBefore === undefined ? null : Number(highestBefore),
      leaseValid,
      otherValidHolds,
    });
    return accepted;
  }
}
