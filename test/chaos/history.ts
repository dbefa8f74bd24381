// History: everything a chaos run did and saw, one JSON object per line, in the order it happened
// in this process. The checker reads nothing else, so a history file can be re-checked offline
// (`pnpm chaos --check FILE`) and a failure can be explained from it alone.
//
// Times (`at`) are milliseconds since the run started, on this process's monotonic clock. Fencing
// tokens are written as numbers (they are log indexes, far below 2^53).

import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { performance } from 'node:perf_hooks';

export type OperationType = 'connect' | 'open' | 'acquire' | 'tryAcquire' | 'campaign' | 'proclaim' | 'release' | 'resign' | 'close';

export type RunPhase = 'start' | 'chaos' | 'heal' | 'healthy' | 'recovery' | 'stopping' | 'stopped' | 'settled' | 'closing' | 'closed' | 'done';

/** A hold as the resource sees it: which client's grant, for which name, with which token. */
export interface HoldReference {
  readonly client: string;
  readonly opId: string;
  readonly token: number;
}

export interface FinalLock {
  readonly kind: 'lock' | 'election';
  readonly name: string;
  readonly holder: { readonly sessionId: string; readonly token: number; readonly metadata: string; readonly value: string } | null;
  readonly waiterSessionIds: readonly string[];
}

export interface FinalSession {
  readonly sessionId: string;
  readonly clientName: string;
  readonly heldLocks: number;
  readonly waits: number;
}

export type HistoryEntry =
  | { readonly kind: 'run'; readonly at: number; readonly seed: number; readonly options: Readonly<Record<string, unknown>>; readonly raftlockd: string }
  | { readonly kind: 'phase'; readonly at: number; readonly phase: RunPhase }
  | { readonly kind: 'nemesis'; readonly at: number; readonly action: 'start' | 'heal'; readonly faultId: number; readonly fault: string; readonly detail: string }
  /** A member exited without the harness asking it to: a crash. */
  | { readonly kind: 'member-exit'; readonly at: number; readonly member: string; readonly code: number | null; readonly signal: string | null; readonly logPath: string }
  | {
      readonly kind: 'invoke';
      readonly at: number;
      readonly opId: string;
      readonly client: string;
      readonly op: OperationType;
      readonly session?: string;
      readonly name?: string;
      /** release/resign/proclaim: the hold's grant op and token. */
      readonly holdOpId?: string;
      readonly token?: number;
      readonly timeoutMs?: number;
      /** open: the session's TTL. */
      readonly ttlMs?: number;
    }
  | {
      readonly kind: 'ok';
      readonly at: number;
      readonly opId: string;
      readonly client: string;
      readonly op: OperationType;
      /** open: the new session id; grants: the session that holds. */
      readonly session?: string;
      readonly name?: string;
      /** Grants: the fencing token. Absent on a tryAcquire that found the lock held. */
      readonly token?: number;
      /** Grants: other holds of the same name whose holders still believed their lease valid at this instant. */
      readonly otherValidHolds?: readonly HoldReference[];
    }
  | { readonly kind: 'fail'; readonly at: number; readonly opId: string; readonly client: string; readonly op: OperationType; readonly code: string; readonly message: string }
  | {
      readonly kind: 'write';
      readonly at: number;
      readonly client: string;
      readonly holdOpId: string;
      readonly lockKind: 'lock' | 'election';
      readonly name: string;
      readonly token: number;
      readonly accepted: boolean;
      readonly highestBefore: number | null;
      /** The writer's lock signal was not aborted and its session's lease deadline had not passed. */
      readonly leaseValid: boolean;
      readonly otherValidHolds: readonly HoldReference[];
    }
  /** A hold's signal was aborted by something other than its own release (lease lapse, session lost). */
  | { readonly kind: 'hold-lost'; readonly at: number; readonly client: string; readonly holdOpId: string; readonly name: string; readonly token: number; readonly reason: string }
  | { readonly kind: 'session-lost'; readonly at: number; readonly client: string; readonly session: string; readonly reason: string }
  /** A hold its worker deliberately kept when told to stop: it must be in the final state. */
  | { readonly kind: 'kept'; readonly at: number; readonly client: string; readonly holdOpId: string; readonly session: string; readonly lockKind: 'lock' | 'election'; readonly name: string; readonly token: number }
  /** A member reported itself leader of this term (polled over HTTP; the first report per term and member). */
  | { readonly kind: 'leader-seen'; readonly at: number; readonly member: string; readonly term: number }
  | { readonly kind: 'watch-snapshot'; readonly at: number; readonly index: number; readonly afterIndex: number | null }
  | {
      readonly kind: 'watch-event';
      readonly at: number;
      readonly index: number;
      readonly type: string;
      readonly lockKind: 'lock' | 'election';
      readonly name: string;
      readonly session: string;
      readonly token?: number;
      readonly metadata?: string;
      readonly value?: string;
    }
  | { readonly kind: 'watch-ended'; readonly at: number; readonly reason: string }
  | { readonly kind: 'sessions-seen'; readonly at: number; readonly sessions: readonly { readonly sessionId: string; readonly clientName: string }[] }
  | { readonly kind: 'final'; readonly at: number; readonly stage: 'holding' | 'closed'; readonly locks: readonly FinalLock[]; readonly sessions: readonly FinalSession[] }
  /** Each member's log at the end of the run (from /metrics): how far compaction went. */
  | { readonly kind: 'members-final'; readonly at: number; readonly members: readonly { readonly id: string; readonly commitIndex: number | null; readonly snapshotIndex: number | null; readonly logEntries: number | null }[] }
  /** A bound the run enforces (cluster healthy, clients finished…): whether it held, and how long it took. */
  | { readonly kind: 'liveness'; readonly at: number; readonly check: string; readonly ok: boolean; readonly elapsedMs: number; readonly boundMs: number; readonly detail: string };

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type HistoryRecord = DistributiveOmit<HistoryEntry, 'at'>;

export class History {
  readonly entries: HistoryEntry[] = [];
  private readonly startedAtMs = performance.now();
  private readonly stream: WriteStream;

  constructor(readonly path: string) {
    this.stream = createWriteStream(path, { flags: 'w' });
  }

  /** Milliseconds since the run started. */
  now(): number {
    return Math.round((performance.now() - this.startedAtMs) * 10) / 10;
  }

  record(record: HistoryRecord): HistoryEntry {
    const entry = { ...record, at: this.now() } as HistoryEntry;
    this.entries.push(entry);
    this.stream.write(`${JSON.stringify(entry)}\n`);
    return entry;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

export function readHistory(path: string): HistoryEntry[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as HistoryEntry);
}
