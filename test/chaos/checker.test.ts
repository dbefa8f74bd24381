// The chaos checker on hand-written histories: each rule fires on the history that breaks it, and
// stays quiet on the legitimate case next to it (a stale write from a lapsed lease, a grant the
// watch could not see). Without these, a chaos run reporting zero violations would prove nothing.

import { describe, expect, test } from 'vitest';
import { checkHistory, type ViolationRule } from './checker.js';
import type { FinalLock, FinalSession, HistoryEntry, HistoryRecord } from './history.js';

class HistoryBuilder {
  readonly entries: HistoryEntry[] = [];
  private atMs = 0;

  add(record: HistoryRecord): this {
    this.atMs += 10;
    this.entries.push({ ...record, at: this.atMs } as HistoryEntry);
    return this;
  }

  snapshot(index: number, afterIndex: number | null = null): this {
    return this.add({ kind: 'watch-snapshot', index, afterIndex });
  }

  open(client: string, session: string): this {
    return this.add({ kind: 'invoke', opId: `${client}.open.${session}`, client, op: 'open', name: `${client}.${session}` }).add({ kind: 'ok', opId: `${client}.open.${session}`, client, op: 'open', session });
  }

  grant(client: string, opId: string, session: string, name: string, token: number, otherValidHolds: { client: string; opId: string; token: number }[] = []): this {
    return this.add({ kind: 'invoke', opId, client, op: 'acquire', session, name, timeoutMs: 1000 }).add({ kind: 'ok', opId, client, op: 'acquire', session, name, token, otherValidHolds });
  }

  acquiredEvent(index: number, session: string, name: string, metadata: string): this {
    return this.add({ kind: 'watch-event', index, type: 'acquired', lockKind: 'lock', name, session, token: index, metadata });
  }

  releasedEvent(index: number, session: string, name: string, token: number): this {
    return this.add({ kind: 'watch-event', index, type: 'released', lockKind: 'lock', name, session, token });
  }

  release(client: string, opId: string, holdOpId: string, session: string, name: string, token: number): this {
    return this.add({ kind: 'invoke', opId, client, op: 'release', session, name, holdOpId, token }).add({ kind: 'ok', opId, client, op: 'release', name });
  }

  close(client: string, session: string): this {
    return this.add({ kind: 'invoke', opId: `${client}.close.${session}`, client, op: 'close', session }).add({ kind: 'ok', opId: `${client}.close.${session}`, client, op: 'close' });
  }

  write(client: string, holdOpId: string, token: number, accepted: boolean, leaseValid: boolean, otherValidHolds: { client: string; opId: string; token: number }[] = []): this {
    return this.add({ kind: 'write', client, holdOpId, lockKind: 'lock', name: 'chaos/l', token, accepted, highestBefore: accepted ? null : token + 1, leaseValid, otherValidHolds });
  }

  final(stage: 'holding' | 'closed', locks: FinalLock[] = [], sessions: FinalSession[] = []): this {
    return this.add({ kind: 'final', stage, locks, sessions });
  }

  /** Both final reads, empty: what a run that closed everything ends with. */
  finals(): this {
    return this.final('holding').final('closed');
  }
}

/** One client: open, grant token 5 on chaos/l, write, release, close; the watch saw all of it. */
function cleanRun(): HistoryBuilder {
  return new HistoryBuilder()
    .snapshot(1)
    .open('c1', 's1')
    .grant('c1', 'c1.1', 's1', 'chaos/l', 5)
    .acquiredEvent(5, 's1', 'chaos/l', 'c1.1')
    .write('c1', 'c1.1', 5, true, true)
    .release('c1', 'c1.2', 'c1.1', 's1', 'chaos/l', 5)
    .releasedEvent(6, 's1', 'chaos/l', 5)
    .close('c1', 's1');
}

function rulesOf(builder: HistoryBuilder): ViolationRule[] {
  return checkHistory(builder.entries).violations.map((violation) => violation.rule);
}

test('a history where every acknowledged operation shows in the event stream and the final state has no violation', () => {
  const report = checkHistory(cleanRun().finals().entries);
  expect(report.violations).toEqual([]);
  expect(report.stats.grantCount).toBe(1);
  expect(report.stats.writesAccepted).toBe(1);
});

describe('exclusion', () => {
  test('a write refused as stale while its writer still had a valid lease is a violation', () => {
    expect(rulesOf(cleanRun().write('c2', 'c2.1', 3, false, true).finals())).toEqual(['exclusion']);
  });

  test('a write refused as stale after its writer\'s lease lapsed is fencing at work, not a violation', () => {
    const report = checkHistory(cleanRun().write('c2', 'c2.1', 3, false, false).finals().entries);
    expect(report.violations).toEqual([]);
    expect(report.stats.staleWritesFenced).toBe(1);
  });

  test('a write by a valid holder while another hold of the same lock still had a valid lease is a violation', () => {
    expect(rulesOf(cleanRun().write('c2', 'c2.1', 9, true, true, [{ client: 'c1', opId: 'c1.1', token: 5 }]).finals())).toEqual(['exclusion']);
  });

  test('a write by a holder whose lease lapsed, while the next holder is valid, is a stale write, not a violation', () => {
    expect(rulesOf(cleanRun().write('c1', 'c1.1', 5, true, false, [{ client: 'c2', opId: 'c2.1', token: 9 }]).write('c1', 'c1.1', 5, false, false, [{ client: 'c2', opId: 'c2.1', token: 9 }]).finals())).toEqual([]);
  });

  test('a grant that arrives while another holder still has a valid lease is a violation', () => {
    const history = cleanRun().open('c2', 's2').grant('c2', 'c2.1', 's2', 'chaos/other', 20, [{ client: 'c3', opId: 'c3.1', token: 12 }]);
    expect(rulesOf(history.finals())).toContain('exclusion');
  });
});

describe('token order', () => {
  test('a grant requested after another was acknowledged must carry a greater token', () => {
    const history = new HistoryBuilder().open('c1', 's1').open('c2', 's2').grant('c1', 'c1.1', 's1', 'chaos/l', 8).grant('c2', 'c2.1', 's2', 'chaos/l', 7).close('c1', 's1').close('c2', 's2').finals();
    expect(rulesOf(history)).toEqual(['token-order']);
  });

  test('grants of one lock in the event stream must have increasing tokens equal to their index', () => {
    const history = new HistoryBuilder().snapshot(1).acquiredEvent(9, 'sa', 'chaos/l', '').releasedEvent(10, 'sa', 'chaos/l', 9).add({ kind: 'watch-event', index: 11, type: 'acquired', lockKind: 'lock', name: 'chaos/l', session: 'sb', token: 4 }).finals();
    expect(rulesOf(history)).toEqual(['token-order', 'token-order']);
  });
});

describe('acknowledged operations', () => {
  test('an acknowledged grant missing from a watch that covered its index is a lost acknowledgement', () => {
    const history = new HistoryBuilder().snapshot(1).open('c1', 's1').grant('c1', 'c1.1', 's1', 'chaos/l', 5).release('c1', 'c1.2', 'c1.1', 's1', 'chaos/l', 5).releasedEvent(6, 's1', 'chaos/l', 5).close('c1', 's1').finals();
    expect(rulesOf(history)).toEqual(['lost-ack']);
  });

  test('an acknowledged grant inside a watch gap (a fresh snapshot) is not judged', () => {
    const history = new HistoryBuilder().snapshot(1).acquiredEvent(2, 'sx', 'chaos/x', '').snapshot(8, 2).open('c1', 's1').grant('c1', 'c1.1', 's1', 'chaos/l', 5).release('c1', 'c1.2', 'c1.1', 's1', 'chaos/l', 5).releasedEvent(9, 's1', 'chaos/l', 5).close('c1', 's1').finals();
    expect(rulesOf(history)).toEqual([]);
  });

  test('an acknowledged release whose hold never ends in the event stream is a lost acknowledgement', () => {
    const history = new HistoryBuilder().snapshot(1).open('c1', 's1').grant('c1', 'c1.1', 's1', 'chaos/l', 5).acquiredEvent(5, 's1', 'chaos/l', 'c1.1').release('c1', 'c1.2', 'c1.1', 's1', 'chaos/l', 5).acquiredEvent(7, 'sz', 'chaos/other', '').close('c1', 's1').finals();
    expect(rulesOf(history)).toEqual(['lost-ack']);
  });

  test('an acknowledged proclaim that no value event carries is a lost acknowledgement', () => {
    const election = { lockKind: 'election' as const, name: 'chaos/e', session: 's1' };
    const history = new HistoryBuilder()
      .snapshot(1)
      .open('c1', 's1')
      .add({ kind: 'invoke', opId: 'c1.1', client: 'c1', op: 'campaign', session: 's1', name: 'chaos/e', timeoutMs: 1000 })
      .add({ kind: 'ok', opId: 'c1.1', client: 'c1', op: 'campaign', session: 's1', name: 'chaos/e', token: 5, otherValidHolds: [] })
      .add({ kind: 'watch-event', index: 5, type: 'acquired', ...election, token: 5, value: 'c1.1' })
      .add({ kind: 'watch-event', index: 5, type: 'value', ...election, token: 5, value: 'c1.1' })
      .add({ kind: 'invoke', opId: 'c1.2', client: 'c1', op: 'proclaim', session: 's1', name: 'chaos/e', holdOpId: 'c1.1', token: 5 })
      .add({ kind: 'ok', opId: 'c1.2', client: 'c1', op: 'proclaim', name: 'chaos/e' })
      .add({ kind: 'invoke', opId: 'c1.3', client: 'c1', op: 'resign', session: 's1', name: 'chaos/e', holdOpId: 'c1.1', token: 5 })
      .add({ kind: 'ok', opId: 'c1.3', client: 'c1', op: 'resign', name: 'chaos/e' })
      .add({ kind: 'watch-event', index: 7, type: 'released', ...election, token: 5 })
      .close('c1', 's1')
      .finals();
    expect(rulesOf(history)).toEqual(['lost-ack']);
  });

  test('a hold kept at the end that the final state does not show is a lost acknowledgement', () => {
    const history = cleanRun()
      .open('c2', 's2')
      .grant('c2', 'c2.1', 's2', 'chaos/l', 7)
      .acquiredEvent(7, 's2', 'chaos/l', 'c2.1')
      .add({ kind: 'kept', client: 'c2', holdOpId: 'c2.1', session: 's2', lockKind: 'lock', name: 'chaos/l', token: 7 })
      .final('holding', [], [{ sessionId: 's2', clientName: 'c2.s2', heldLocks: 0, waits: 0 }])
      .close('c2', 's2')
      .final('closed');
    expect(rulesOf(history)).toEqual(['lost-ack']);
  });

  test('a lock still held after its release was acknowledged is a lost acknowledgement', () => {
    const history = cleanRun().final('holding', [{ kind: 'lock', name: 'chaos/l', holder: { sessionId: 's1', token: 5, metadata: 'c1.1', value: '' }, waiterSessionIds: [] }]).final('closed');
    expect(rulesOf(history)).toEqual(['lost-ack']);
  });

  test('a session still present after its close was acknowledged is a lost acknowledgement', () => {
    const history = cleanRun().final('holding').final('closed', [], [{ sessionId: 's1', clientName: 'c1.s1', heldLocks: 0, waits: 0 }]);
    expect(rulesOf(history)).toEqual(['lost-ack']);
  });
});

describe('double applies', () => {
  test('one acquire request granted twice (two grants with its op id) is a double apply', () => {
    const history = cleanRun().acquiredEvent(7, 's1', 'chaos/l', 'c1.1').releasedEvent(8, 's1', 'chaos/l', 7).finals();
    expect(rulesOf(history)).toEqual(['double-apply']);
  });

  test('one session.open that created two sessions with its client name is a double apply', () => {
    const history = cleanRun().add({ kind: 'sessions-seen', sessions: [{ sessionId: 's1', clientName: 'c1.s1' }, { sessionId: 's9', clientName: 'c1.s1' }] }).finals();
    expect(rulesOf(history)).toEqual(['double-apply']);
  });
});

describe('leaked state, liveness, crashes, elections, watch order', () => {
  test('a lock held at the end by a grant no client believes it holds is leaked state', () => {
    const history = cleanRun()
      .open('c2', 's2')
      .add({ kind: 'invoke', opId: 'c2.9', client: 'c2', op: 'tryAcquire', session: 's2', name: 'chaos/m' })
      .add({ kind: 'fail', opId: 'c2.9', client: 'c2', op: 'tryAcquire', code: 'TIMEOUT', message: 'no answer' })
      .final('holding', [{ kind: 'lock', name: 'chaos/m', holder: { sessionId: 's2', token: 30, metadata: 'c2.9', value: '' }, waiterSessionIds: ['s4'] }], [{ sessionId: 's2', clientName: 'c2.s2', heldLocks: 1, waits: 0 }])
      .close('c2', 's2')
      .final('closed');
    const violations = checkHistory(history.entries).violations;
    expect(violations.map((violation) => violation.rule)).toEqual(['leaked-state', 'leaked-state']);
    expect(violations[1]?.message).toMatch(/failed with TIMEOUT/);
  });

  test('a missed recovery bound, a crashed member, two leaders in one term and a watch going backwards are each reported', () => {
    const history = cleanRun()
      .add({ kind: 'liveness', check: 'cluster healthy after healing', ok: false, elapsedMs: 30_000, boundMs: 30_000, detail: 'no leader' })
      .add({ kind: 'member-exit', member: 'n2', code: 70, signal: null, logPath: '/tmp/n2.log' })
      .add({ kind: 'leader-seen', member: 'n1', term: 4 })
      .add({ kind: 'leader-seen', member: 'n3', term: 4 })
      .add({ kind: 'watch-event', index: 3, type: 'queued', lockKind: 'lock', name: 'chaos/q', session: 's7', metadata: 'c7.1' })
      .finals();
    expect(rulesOf(history).sort()).toEqual(['election-safety', 'liveness', 'member-crash', 'watch-order']);
  });

  test('a run whose final state was never read fails liveness', () => {
    expect(rulesOf(cleanRun())).toEqual(['liveness', 'liveness']);
  });
});
