// Helpers shared by the SDK's cluster tests: endpoint orders, bounded waiting, and a small fenced
// resource that records what it accepted and refused.

import { FencingGuard, type Lock } from '@raftlock/client';
import { sleep, type LocalCluster } from '../e2e/local-cluster.js';

export { sleep } from '../e2e/local-cluster.js';

/** The cluster's endpoints rotated by `by`, so each client enters through a different member. */
export function rotatedEndpoints(cluster: LocalCluster, by: number): string[] {
  const endpoints = cluster.members.map((member) => member.address);
  const shift = by % endpoints.length;
  return [...endpoints.slice(shift), ...endpoints.slice(0, shift)];
}

/** Poll until check() is truthy, at most timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export interface GrantRecord {
  readonly worker: number;
  readonly token: bigint;
  readonly beganAtMs: number;
  endedAtMs: number | undefined;
  readonly lock: Lock;
}

/**
 * A shared resource that only takes writes through a FencingGuard, the way docs/fencing.md says a
 * protected resource should. A holder writes `begin` right after its grant and `end` just before
 * its release, WITHOUT looking at its signal first, so the resource sees what a naive holder does.
 */
export class FencedResource {
  private readonly guard = new FencingGuard();
  readonly grants: GrantRecord[] = [];
  readonly violations: string[] = [];
  readonly rejected: { worker: number; token: bigint; phase: 'begin' | 'end'; signalAborted: boolean }[] = [];
  private readonly open = new Map<bigint, GrantRecord>();

  write(worker: number, lock: Lock, phase: 'begin' | 'end', nowMs: number): boolean {
    if (!this.guard.accept(lock.token)) {
      const signalAborted = lock.signal.aborted;
      this.rejected.push({ worker, token: lock.token, phase, signalAborted });
      if (!signalAborted) this.violations.push(`worker ${worker}'s ${phase} write with token ${lock.token} was refused as stale, yet its lock.signal was not aborted`);
      return false;
    }
    if (phase === 'end') {
      const record = this.open.get(lock.token);
      if (record) record.endedAtMs = nowMs;
      this.open.delete(lock.token);
      return true;
    }
    const previous = this.grants.at(-1);
    if (previous && !(lock.token > previous.token)) this.violations.push(`grant ${lock.token} to worker ${worker} is not greater than the grant before it (${previous.token})`);
    for (const other of this.open.values()) {
      // An earlier grant still open must at least have been told (signal aborted) that it may be lost.
      if (!other.lock.signal.aborted) this.violations.push(`grant ${lock.token} (worker ${worker}) began while grant ${other.token} (worker ${other.worker}) was still held and not aborted`);
    }
    const record: GrantRecord = { worker, token: lock.token, beganAtMs: nowMs, endedAtMs: undefined, lock };
    this.grants.push(record);
    this.open.set(lock.token, record);
    return true;
  }
}
