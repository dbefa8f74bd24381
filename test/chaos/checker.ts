// The chaos checker: judges a History (and nothing else) against the guarantees of SPEC §3. It is
// pure: the same history always gives the same verdict, so a history file can be re-checked
// offline. docs/chaos.md states each rule and why it is sound; in short:
//
//   exclusion     a write by a writer whose lease was still valid that the resource refused as
//                 stale, or that happened while ANOTHER hold of the same name also had a valid
//                 lease; a grant seen while another hold had a valid lease (two holders at once)
//   token-order   per lock, the cluster's grants (event stream) have strictly increasing tokens
//                 equal to their log index; a grant acknowledged before another was requested has
//                 a smaller token; two acknowledged grants never share a token
//   lost-ack      an acknowledged grant or proclaim missing from the event stream; an acknowledged
//                 release or resign whose hold never ended; a kept hold or open session missing from the final
//                 state; an acknowledged session close or release still in effect at the end
//   double-apply  one request (op id, carried as metadata/value) granted, queued or proclaimed
//                 twice; one session.open (client name) that created two sessions
//   election-safety  two members reported themselves leader of the same Raft term
//   leaked-state  after the run settled: a lock held by a grant nobody holds, a waiter left
//                 behind, a lost session that never expired
//   liveness      a bound the run enforces was missed (cluster healthy again, every client got a
//                 grant after healing, workers stopped, the watch caught up, the state settled)
//   member-crash  a member exited without being told to (an assertion, a crash)
//   watch-order   the watch delivered an index lower than one before it, or an event twice

import type { FinalLock, FinalSession, HistoryEntry, OperationType } from './history.js';

export const violationRules = ['exclusion', 'token-order', 'lost-ack', 'double-apply', 'election-safety', 'leaked-state', 'liveness', 'member-crash', 'watch-order'] as const;
export type ViolationRule = (typeof violationRules)[number];

export interface Violation {
  readonly rule: ViolationRule;
  readonly message: string;
  /** Where in the history to look (ms since the run started). */
  readonly at: number | undefined;
}

export interface OperationCounts {
  ok: number;
  fail: number;
  /** Failures by error code. */
  readonly codes: Record<string, number>;
}

export interface HistoryStats {
  readonly operations: Record<string, OperationCounts>;
  readonly operationCount: number;
  readonly grantCount: number;
  readonly writesAccepted: number;
  readonly writesRejected: number;
  /** Stale writes refused from holders whose lease had lapsed: fencing doing its job. */
  readonly staleWritesFenced: number;
  readonly faults: Record<string, number>;
  readonly faultCount: number;
  readonly sessionsLost: number;
  readonly holdsLost: number;
  readonly watchEvents: number;
  readonly watchGaps: number;
  /** Distinct Raft terms in which some member was seen leading: elections that happened. */
  readonly leaderTerms: number;
  /** Each member's commit index, latest snapshot and log length at the end (compaction at work). */
  readonly membersAtEnd: Entry<'members-final'>['members'];
}

export interface CheckReport {
  readonly violations: readonly Violation[];
  readonly countsByRule: Readonly<Record<ViolationRule, number>>;
  readonly stats: HistoryStats;
}

type Entry<K extends HistoryEntry['kind']> = Extract<HistoryEntry, { kind: K }>;

interface Grant {
  readonly opId: string;
  readonly client: string;
  readonly op: OperationType;
  readonly lockKind: 'lock' | 'election';
  readonly name: string;
  readonly session: string;
  readonly token: number;
  readonly invokedAt: number;
  readonly acknowledgedAt: number;
}

const grantOps: ReadonlySet<OperationType> = new Set(['acquire', 'tryAcquire', 'campaign']);
const lockKindOf = (op: OperationType): 'lock' | 'election' => (op === 'campaign' ? 'election' : 'lock');
const resourceKey = (lockKind: string, name: string): string => `${lockKind}:${name}`;

/** What the history says about operations: invocations, outcomes, grants, releases, sessions. */
class OperationIndex {
  readonly invocations = new Map<string, Entry<'invoke'>>();
  readonly acknowledgements = new Map<string, Entry<'ok'>>();
  readonly failures = new Map<string, Entry<'fail'>>();
  readonly grants: Grant[] = [];
  readonly grantByOpId = new Map<string, Grant>();
  /** holdOpId → the acknowledged release/resign/close that gave the hold back. */
  readonly acknowledgedLetGo = new Map<string, Entry<'ok'>>();
  /** session id → the session.open that created it. */
  readonly openedSessions = new Map<string, { opId: string; name: string; at: number }>();
  readonly closeInvokedSessions = new Map<string, number>();
  readonly closeAcknowledgedSessions = new Map<string, number>();
  readonly lostSessions = new Map<string, number>();
  readonly kept: Entry<'kept'>[] = [];

  constructor(entries: readonly HistoryEntry[]) {
    for (const entry of entries) {
      if (entry.kind === 'invoke') {
        this.invocations.set(entry.opId, entry);
        if (entry.op === 'close' && entry.session !== undefined && !this.closeInvokedSessions.has(entry.session)) this.closeInvokedSessions.set(entry.session, entry.at);
      } else if (entry.kind === 'fail') this.failures.set(entry.opId, entry);
      else if (entry.kind === 'session-lost') this.lostSessions.set(entry.session, entry.at);
      else if (entry.kind === 'kept') this.kept.push(entry);
      else if (entry.kind === 'ok') this.onAcknowledged(entry);
    }
  }

  private onAcknowledged(entry: Entry<'ok'>): void {
    this.acknowledgements.set(entry.opId, entry);
    const invoke = this.invocations.get(entry.opId);
    if (grantOps.has(entry.op) && entry.token !== undefined && entry.session !== undefined && entry.name !== undefined) {
      const grant: Grant = { opId: entry.opId, client: entry.client, op: entry.op, lockKind: lockKindOf(entry.op), name: entry.name, session: entry.session, token: entry.token, invokedAt: invoke?.at ?? entry.at, acknowledgedAt: entry.at };
      this.grants.push(grant);
      this.grantByOpId.set(grant.opId, grant);
    }
    if (entry.op === 'open' && entry.session !== undefined) this.openedSessions.set(entry.session, { opId: entry.opId, name: invoke?.name ?? '', at: entry.at });
    if ((entry.op === 'release' || entry.op === 'resign' || entry.op === 'close') && invoke?.holdOpId !== undefined) this.acknowledgedLetGo.set(invoke.holdOpId, entry);
    if (entry.op === 'close' && invoke?.session !== undefined) this.closeAcknowledgedSessions.set(invoke.session, entry.at);
  }

  /** The grant behind a holder's metadata or value (a proclaim replaces an election's value with its own op id). */
  grantOpIdOf(metadataOrValue: string): string {
    const invoke = this.invocations.get(metadataOrValue);
    return invoke?.op === 'proclaim' && invoke.holdOpId !== undefined ? invoke.holdOpId : metadataOrValue;
  }

  /** Whether the session's client closed it (or began to) at or before `at`. */
  closeInvokedBy(session: string, at: number): boolean {
    return (this.closeInvokedSessions.get(session) ?? Infinity) <= at;
  }
}

/** Which log indexes the observer's watch saw every event of. */
class WatchCoverage {
  private firstIndex: number | undefined;
  private readonly gaps: { after: number; through: number }[] = [];
  lastIndex = 0;

  constructor(entries: readonly HistoryEntry[]) {
    for (const entry of entries) {
      if (entry.kind === 'watch-snapshot') {
        if (this.firstIndex === undefined) this.firstIndex = entry.index;
        else this.gaps.push({ after: entry.afterIndex ?? this.lastIndex, through: entry.index });
        this.lastIndex = Math.max(this.lastIndex, entry.index);
      } else if (entry.kind === 'watch-event') {
        this.lastIndex = Math.max(this.lastIndex, entry.index);
      }
    }
  }

  get gapCount(): number {
    return this.gaps.length;
  }

  /** Every event with an index in (from, through] was delivered. */
  coversRange(from: number, through: number): boolean {
    if (this.firstIndex === undefined || from < this.firstIndex || through > this.lastIndex) return false;
    return !this.gaps.some((gap) => gap.through > from && gap.after < through);
  }

  covers(index: number): boolean {
    return this.coversRange(index - 1, index);
  }
}

export function checkHistory(entries: readonly HistoryEntry[]): CheckReport {
  const operations = new OperationIndex(entries);
  const coverage = new WatchCoverage(entries);
  const events = entries.filter((entry): entry is Entry<'watch-event'> => entry.kind === 'watch-event');
  const violations: Violation[] = [
    ...checkExclusion(entries),
    ...checkTokenOrder(operations, events),
    ...checkAcknowledgedInEvents(operations, events, coverage),
    ...checkDoubleApply(operations, entries, events),
    ...checkFinalStates(entries),
    ...checkElectionSafety(entries),
    ...checkLivenessAndCrashes(entries),
    ...checkWatchOrder(events),
  ];
  const countsByRule = Object.fromEntries(violationRules.map((rule) => [rule, violations.filter((violation) => violation.rule === rule).length])) as Record<ViolationRule, number>;
  return { violations, countsByRule, stats: statsOf(entries, operations, coverage) };
}

// ---- exclusion --------------------------------------------------------------------------------

function checkExclusion(entries: readonly HistoryEntry[]): Violation[] {
  const violations: Violation[] = [];
  const describe = (holds: readonly { client: string; opId: string; token: number }[]) => holds.map((hold) => `${hold.client}'s hold ${hold.opId} (token ${hold.token})`).join(', ');
  for (const entry of entries) {
    if (entry.kind === 'write') {
      const what = `${entry.client}'s write to ${entry.lockKind} ${entry.name} with token ${entry.token} (hold ${entry.holdOpId})`;
      // A writer whose lease had lapsed is a stale writer: refusing it is fencing at work, and
      // accepting it (no newer holder has written yet) is the window fencing leaves by design.
      if (!entry.leaseValid) continue;
      if (!entry.accepted) violations.push({ rule: 'exclusion', at: entry.at, message: `${what} was refused as stale (the resource had accepted ${entry.highestBefore}) while its writer's lease was still valid` });
      if (entry.otherValidHolds.length > 0) violations.push({ rule: 'exclusion', at: entry.at, message: `${what}, by a writer with a valid lease, happened while ${describe(entry.otherValidHolds)} still had a valid lease too` });
    } else if (entry.kind === 'ok' && entry.otherValidHolds !== undefined && entry.otherValidHolds.length > 0) {
      violations.push({ rule: 'exclusion', at: entry.at, message: `${entry.client}'s grant ${entry.opId} of ${entry.name} (token ${entry.token}) arrived while ${describe(entry.otherValidHolds)} still had a valid lease` });
    }
  }
  return violations;
}

// ---- token order ------------------------------------------------------------------------------

function checkTokenOrder(operations: OperationIndex, events: readonly Entry<'watch-event'>[]): Violation[] {
  const violations: Violation[] = [];
  const lastTokenByResource = new Map<string, number>();
  for (const event of events) {
    if (event.type !== 'acquired') continue;
    const key = resourceKey(event.lockKind, event.name);
    if (event.token !== event.index) violations.push({ rule: 'token-order', at: event.at, message: `grant of ${key} at index ${event.index} carries token ${event.token}, not its index` });
    const previous = lastTokenByResource.get(key);
    if (event.token !== undefined && previous !== undefined && event.token <= previous) violations.push({ rule: 'token-order', at: event.at, message: `grant of ${key} with token ${event.token} follows a grant with token ${previous} in the event stream` });
    if (event.token !== undefined) lastTokenByResource.set(key, event.token);
  }

  const grantsByResource = new Map<string, Grant[]>();
  for (const grant of operations.grants) {
    const key = resourceKey(grant.lockKind, grant.name);
    grantsByResource.set(key, [...(grantsByResource.get(key) ?? []), grant]);
  }
  for (const [key, grants] of grantsByResource) {
    const byToken = new Map<number, Grant>();
    for (const grant of grants) {
      const other = byToken.get(grant.token);
      if (other) violations.push({ rule: 'token-order', at: grant.acknowledgedAt, message: `${key}: grants ${other.opId} and ${grant.opId} were both acknowledged with token ${grant.token}` });
      byToken.set(grant.token, grant);
    }
    // Real-time order: a grant acknowledged before another was even requested has the smaller token.
    const byInvocation = [...grants].sort((left, right) => left.invokedAt - right.invokedAt);
    const byAcknowledgement = [...grants].sort((left, right) => left.acknowledgedAt - right.acknowledgedAt);
    let highest: Grant | undefined;
    let position = 0;
    for (const grant of byInvocation) {
      while (position < byAcknowledgement.length && (byAcknowledgement[position] as Grant).acknowledgedAt < grant.invokedAt) {
        const earlier = byAcknowledgement[position++] as Grant;
        if (!highest || earlier.token > highest.token) highest = earlier;
      }
      if (highest && highest.token >= grant.token) {
        violations.push({ rule: 'token-order', at: grant.acknowledgedAt, message: `${key}: grant ${grant.opId} (token ${grant.token}) was requested after grant ${highest.opId} (token ${highest.token}) was acknowledged, yet its token is not greater` });
      }
    }
  }
  return violations;
}

// ---- acknowledged operations in the event stream ----------------------------------------------

function checkAcknowledgedInEvents(operations: OperationIndex, events: readonly Entry<'watch-event'>[], coverage: WatchCoverage): Violation[] {
  const violations: Violation[] = [];
  const acquiredAt = new Map<string, Entry<'watch-event'>[]>();
  const endedTokens = new Set<string>();
  for (const event of events) {
    const key = `${resourceKey(event.lockKind, event.name)}@${event.token}`;
    if (event.type === 'acquired') acquiredAt.set(key, [...(acquiredAt.get(key) ?? []), event]);
    if ((event.type === 'released' || event.type === 'expired') && event.token !== undefined) endedTokens.add(key);
  }
  for (const grant of operations.grants) {
    if (!coverage.covers(grant.token)) continue;
    const key = `${resourceKey(grant.lockKind, grant.name)}@${grant.token}`;
    const seen = acquiredAt.get(key) ?? [];
    const matching = seen.filter((event) => event.session === grant.session && (grant.lockKind === 'lock' ? event.metadata : event.value) === grant.opId);
    if (matching.length !== 1) {
      violations.push({ rule: 'lost-ack', at: grant.acknowledgedAt, message: `acknowledged grant ${grant.opId} (${key}, session ${grant.session}) appears ${matching.length} times in the event stream (events at that index: ${JSON.stringify(seen.map((event) => ({ session: event.session, metadata: event.metadata, value: event.value })))})` });
    }
  }
  const values = new Set(events.filter((event) => event.type === 'value').map((event) => event.value));
  for (const acknowledgement of operations.acknowledgements.values()) {
    if (acknowledgement.op !== 'proclaim') continue;
    const grant = operations.grantByOpId.get(operations.invocations.get(acknowledgement.opId)?.holdOpId ?? '');
    if (!grant || !coverage.coversRange(grant.token, coverage.lastIndex)) continue;
    if (!values.has(acknowledgement.opId)) violations.push({ rule: 'lost-ack', at: acknowledgement.at, message: `proclaim ${acknowledgement.opId} in ${grant.name} (leadership ${grant.opId}) was acknowledged, but no value event carries it` });
  }
  for (const [holdOpId, letGo] of operations.acknowledgedLetGo) {
    const grant = operations.grantByOpId.get(holdOpId);
    if (!grant || !coverage.coversRange(grant.token, coverage.lastIndex)) continue;
    const key = `${resourceKey(grant.lockKind, grant.name)}@${grant.token}`;
    if (!endedTokens.has(key)) violations.push({ rule: 'lost-ack', at: letGo.at, message: `${letGo.op} ${letGo.opId} of hold ${holdOpId} (${key}) was acknowledged, but the event stream never shows that hold ending` });
  }
  return violations;
}

// ---- double applies ---------------------------------------------------------------------------

function checkDoubleApply(operations: OperationIndex, entries: readonly HistoryEntry[], events: readonly Entry<'watch-event'>[]): Violation[] {
  const violations: Violation[] = [];
  // Every grant, queue entry and election value carries the op id of the request behind it.
  const seen = new Map<string, Entry<'watch-event'>[]>();
  for (const event of events) {
    if (event.type !== 'acquired' && event.type !== 'queued' && event.type !== 'value') continue;
    const requestKey = event.type === 'value' || event.lockKind === 'election' ? event.value : event.metadata;
    if (requestKey === undefined || requestKey === '') continue;
    const key = `${event.type}:${resourceKey(event.lockKind, event.name)}:${requestKey}`;
    seen.set(key, [...(seen.get(key) ?? []), event]);
  }
  for (const [key, duplicates] of seen) {
    if (duplicates.length > 1) violations.push({ rule: 'double-apply', at: duplicates[1]?.at, message: `request ${key} took effect ${duplicates.length} times, at indexes ${duplicates.map((event) => event.index).join(', ')}` });
  }
  // One session.open (one client name) must create one session.
  const idsByName = new Map<string, Set<string>>();
  const note = (name: string, sessionId: string) => {
    if (name === '') return;
    idsByName.set(name, (idsByName.get(name) ?? new Set()).add(sessionId));
  };
  for (const [sessionId, opened] of operations.openedSessions) note(opened.name, sessionId);
  for (const entry of entries) {
    if (entry.kind === 'sessions-seen' || entry.kind === 'final') for (const session of entry.sessions) note(session.clientName, session.sessionId);
  }
  for (const [name, ids] of idsByName) {
    if (ids.size > 1) violations.push({ rule: 'double-apply', at: undefined, message: `session.open for client name ${name} created ${ids.size} sessions: ${[...ids].join(', ')}` });
  }
  return violations;
}

// ---- the final state --------------------------------------------------------------------------

/**
 * What is wrong with a final state read at `at`, given the history before it. The run polls this
 * until it is empty (background clean-ups and lapsing leases need a moment) or its bound passes;
 * the checker then judges the last state read.
 */
export function finalStateProblems(entries: readonly HistoryEntry[], final: { stage: 'holding' | 'closed'; at: number; locks: readonly FinalLock[]; sessions: readonly FinalSession[] }): Violation[] {
  const operations = new OperationIndex(entries.filter((entry) => entry.at <= final.at));
  const problems: Violation[] = [];
  const problem = (rule: ViolationRule, message: string) => problems.push({ rule, at: final.at, message: `final state (${final.stage}): ${message}` });
  const lockByKey = new Map(final.locks.map((lock) => [resourceKey(lock.kind, lock.name), lock]));
  const sessionById = new Map(final.sessions.map((session) => [session.sessionId, session]));
  const isOpenSession = (sessionId: string) => operations.openedSessions.has(sessionId) && !operations.lostSessions.has(sessionId) && !operations.closeInvokedBy(sessionId, final.at);

  const expectedHolds = new Map<string, Entry<'kept'>>();
  if (final.stage === 'holding') {
    for (const kept of operations.kept) {
      if (!isOpenSession(kept.session)) continue; // lost after it was kept: its lease may be gone
      const key = resourceKey(kept.lockKind, kept.name);
      expectedHolds.set(key, kept);
      const holder = lockByKey.get(key)?.holder;
      if (holder?.sessionId !== kept.session || holder.token !== kept.token) problem('lost-ack', `${kept.client} holds ${key} with token ${kept.token} (grant ${kept.holdOpId}, session ${kept.session}), but the cluster says the holder is ${holder ? `session ${holder.sessionId} with token ${holder.token}` : 'nobody'}`);
    }
    for (const sessionId of operations.openedSessions.keys()) {
      if (isOpenSession(sessionId) && !sessionById.has(sessionId)) problem('lost-ack', `session ${sessionId} (${operations.openedSessions.get(sessionId)?.name}) is open for its client, but the cluster no longer has it`);
    }
  }
  for (const lock of final.locks) {
    const key = resourceKey(lock.kind, lock.name);
    if (lock.waiterSessionIds.length > 0) problem('leaked-state', `${key} still has waiters ${lock.waiterSessionIds.join(', ')} though every client stopped waiting`);
    if (!lock.holder || expectedHolds.get(key)?.session === lock.holder.sessionId) continue;
    const grantOpId = operations.grantOpIdOf(lock.kind === 'lock' ? lock.holder.metadata : lock.holder.value);
    const letGo = operations.acknowledgedLetGo.get(grantOpId);
    const sessionClosed = operations.closeAcknowledgedSessions.has(lock.holder.sessionId);
    if (letGo || sessionClosed) problem('lost-ack', `${key} is held by session ${lock.holder.sessionId} with token ${lock.holder.token} (grant ${grantOpId}) although ${letGo ? `${letGo.op} ${letGo.opId} was acknowledged` : 'its session close was acknowledged'}`);
    else problem('leaked-state', `${key} is held by session ${lock.holder.sessionId} with token ${lock.holder.token} (grant ${grantOpId}, ${describeOutcome(operations, grantOpId)}) which no client believes it holds`);
  }
  for (const session of final.sessions) {
    if (final.stage === 'holding' && isOpenSession(session.sessionId)) {
      if (session.waits > 0) problem('leaked-state', `open session ${session.sessionId} (${session.clientName}) still waits for ${session.waits} lock(s)`);
      continue;
    }
    if (operations.closeAcknowledgedSessions.has(session.sessionId)) problem('lost-ack', `session ${session.sessionId} (${session.clientName}) is still there although its close was acknowledged`);
    else problem('leaked-state', `session ${session.sessionId} (${session.clientName}, ${operations.lostSessions.has(session.sessionId) ? 'lost by its client' : operations.openedSessions.has(session.sessionId) ? 'closed by its client' : 'never acknowledged to a client'}) is still there after its TTL`);
  }
  return problems;
}

function describeOutcome(operations: OperationIndex, opId: string): string {
  if (operations.acknowledgements.has(opId)) return 'acknowledged';
  const failure = operations.failures.get(opId);
  if (failure) return `failed with ${failure.code}`;
  return operations.invocations.has(opId) ? 'never answered' : 'not in the history';
}

function checkFinalStates(entries: readonly HistoryEntry[]): Violation[] {
  const finals = entries.filter((entry): entry is Entry<'final'> => entry.kind === 'final');
  const violations: Violation[] = [];
  for (const stage of ['holding', 'closed'] as const) {
    const last = finals.filter((final) => final.stage === stage).at(-1);
    if (!last) {
      violations.push({ rule: 'liveness', at: undefined, message: `the final state (${stage}) was never read` });
      continue;
    }
    violations.push(...finalStateProblems(entries, last));
  }
  return violations;
}

// ---- election safety --------------------------------------------------------------------------

function checkElectionSafety(entries: readonly HistoryEntry[]): Violation[] {
  const leaderOfTerm = new Map<number, string>();
  const violations: Violation[] = [];
  for (const entry of entries) {
    if (entry.kind !== 'leader-seen') continue;
    const other = leaderOfTerm.get(entry.term);
    if (other !== undefined && other !== entry.member) violations.push({ rule: 'election-safety', at: entry.at, message: `${other} and ${entry.member} both reported themselves leader of term ${entry.term}` });
    leaderOfTerm.set(entry.term, entry.member);
  }
  return violations;
}

// ---- liveness, crashes, watch order ------------------------------------------------------------

function checkLivenessAndCrashes(entries: readonly HistoryEntry[]): Violation[] {
  const violations: Violation[] = [];
  for (const entry of entries) {
    if (entry.kind === 'liveness' && !entry.ok) violations.push({ rule: 'liveness', at: entry.at, message: `${entry.check}: not within ${entry.boundMs} ms (${entry.detail})` });
    if (entry.kind === 'member-exit') violations.push({ rule: 'member-crash', at: entry.at, message: `member ${entry.member} exited on its own (code ${entry.code}, signal ${entry.signal}); its log: ${entry.logPath}` });
  }
  return violations;
}

function checkWatchOrder(events: readonly Entry<'watch-event'>[]): Violation[] {
  const violations: Violation[] = [];
  const seen = new Set<string>();
  let lastIndex = 0;
  for (const event of events) {
    if (event.index < lastIndex) violations.push({ rule: 'watch-order', at: event.at, message: `watch delivered index ${event.index} after ${lastIndex}` });
    lastIndex = Math.max(lastIndex, event.index);
    const key = JSON.stringify([event.index, event.type, event.lockKind, event.name, event.session, event.token ?? null]);
    if (seen.has(key)) violations.push({ rule: 'watch-order', at: event.at, message: `watch delivered ${key} twice` });
    seen.add(key);
  }
  return violations;
}

// ---- statistics -------------------------------------------------------------------------------

function statsOf(entries: readonly HistoryEntry[], operations: OperationIndex, coverage: WatchCoverage): HistoryStats {
  const counts: Record<string, OperationCounts> = {};
  const countsOf = (op: string) => (counts[op] ??= { ok: 0, fail: 0, codes: {} });
  for (const entry of entries) {
    if (entry.kind === 'ok') countsOf(entry.op).ok++;
    if (entry.kind === 'fail') {
      const opCounts = countsOf(entry.op);
      opCounts.fail++;
      opCounts.codes[entry.code] = (opCounts.codes[entry.code] ?? 0) + 1;
    }
  }
  const writes = entries.filter((entry): entry is Entry<'write'> => entry.kind === 'write');
  const faults: Record<string, number> = {};
  for (const entry of entries) if (entry.kind === 'nemesis' && entry.action === 'start') faults[entry.fault] = (faults[entry.fault] ?? 0) + 1;
  return {
    operations: counts,
    operationCount: Object.values(counts).reduce((sum, count) => sum + count.ok + count.fail, 0),
    grantCount: operations.grants.length,
    writesAccepted: writes.filter((write) => write.accepted).length,
    writesRejected: writes.filter((write) => !write.accepted).length,
    staleWritesFenced: writes.filter((write) => !write.accepted && !write.leaseValid).length,
    faults,
    faultCount: Object.values(faults).reduce((sum, count) => sum + count, 0),
    sessionsLost: entries.filter((entry) => entry.kind === 'session-lost').length,
    holdsLost: entries.filter((entry) => entry.kind === 'hold-lost').length,
    watchEvents: entries.filter((entry) => entry.kind === 'watch-event').length,
    watchGaps: coverage.gapCount,
    membersAtEnd: entries.filter((entry): entry is Entry<'members-final'> => entry.kind === 'members-final').at(-1)?.members ?? [],
    leaderTerms: new Set(entries.map((entry) => (entry.kind === 'leader-seen' ? entry.term : undefined)).filter((term) => term !== undefined)).size,
  };
}
