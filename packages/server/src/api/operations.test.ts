// The membership and backup ops of Operations against a scripted driver: who may answer them (the
// leader, or any member for members.list), what reaches the driver, and how repeats and retries of a
// change that already happened are answered without doing it twice.

import { NotLeaderError, type ClientRequest, type MemberInfo, type OperationName, type ServiceError } from '@raftlock/protocol';
import { describe, expect, test } from 'vitest';
import type { RaftDriver } from '../runtime/raft-driver.js';
import { Operations, type ConnectionContext } from './operations.js';
import { WaitRegistry } from './wait-registry.js';

interface SoftState {
  role: 'leader' | 'follower' | 'candidate' | 'preCandidate';
  leaderId: string;
  term: number;
}

/** Just the driver surface the membership ops use. */
class MembershipDriver {
  softState: SoftState = { role: 'leader', leaderId: 'n1', term: 3 };
  members: MemberInfo[] = [
    { id: 'n1', address: '127.0.0.1:7071', role: 'voter' },
    { id: 'n2', address: '127.0.0.1:7072', role: 'voter' },
    { id: 'n3', address: '127.0.0.1:7073', role: 'voter' },
  ];
  configIndex = 7;
  readonly calls: unknown[][] = [];
  /** What transferLeadership does: step down now and name `next` as leader after `afterMs` (or never). */
  transfer: { moved: boolean; next: string | undefined; afterMs: number } = { moved: true, next: 'n2', afterMs: 5 };
  private readonly listeners = new Set<(softState: SoftState) => void>();

  role(): SoftState {
    return this.softState;
  }

  configuration(): { members: readonly MemberInfo[] } {
    return { members: this.members };
  }

  configurationIndex(): number {
    return this.configIndex;
  }

  notLeaderError(): ServiceError {
    return new NotLeaderError('this member is not the leader; the leader is n2 at 127.0.0.1:7072', '127.0.0.1:7072');
  }

  onRoleChange(listener: (softState: SoftState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async addMember(id: string, address: string, timeoutMs: number): Promise<void> {
    this.calls.push(['addMember', id, address, timeoutMs]);
    this.members = [...this.members.filter((member) => member.id !== id), { id, address, role: 'voter' }];
  }

  async removeMember(id: string, timeoutMs: number): Promise<void> {
    this.calls.push(['removeMember', id, timeoutMs]);
    this.members = this.members.filter((member) => member.id !== id);
  }

  async transferLeadership(target: string | undefined, timeoutMs: number): Promise<boolean> {
    this.calls.push(['transferLeadership', target, timeoutMs]);
    if (!this.transfer.moved) return false;
    this.change({ role: 'follower', leaderId: '', term: 4 });
    const next = this.transfer.next;
    if (next !== undefined) setTimeout(() => this.change({ role: 'follower', leaderId: next, term: 4 }), this.transfer.afterMs);
    return true;
  }

  async backupSnapshotChunk(chunk: number, index: number | undefined) {
    this.calls.push(['backupSnapshotChunk', chunk, index]);
    return { index: 40, term: 3, chunk, chunkCount: 2, totalBytes: 3, data: new Uint8Array(chunk === 0 ? [1, 2] : [3]) };
  }

  private change(next: SoftState): void {
    this.softState = next;
    for (const listener of [...this.listeners]) listener(next);
  }
}

function operationsWith(driver: MembershipDriver, handOffCalls: unknown[][] = []): { run: <Op extends OperationName>(op: Op, args: ClientRequest<Op>['args']) => Promise<unknown> } {
  const operations = new Operations({
    driver: driver as unknown as RaftDriver,
    waits: new WaitRegistry(),
    clock: { monotonicMs: () => performance.now(), wallTimeMs: () => Date.now() },
    nodeId: 'n1',
    address: '127.0.0.1:7071',
    defaultSessionTtlMs: 10_000,
    defaultListLimit: 1000,
    handOff: { begin: (windowMs) => handOffCalls.push(['begin', windowMs]), end: () => handOffCalls.push(['end']) },
  });
  const context: ConnectionContext = {
    receivedAtMs: performance.now(),
    onClose: () => () => {},
    startWatch: () => {
      throw new Error('not used');
    },
    cancelWatch: () => false,
  };
  let counter = 0;
  return { run: (op, args) => operations.run({ id: `r${++counter}`, op, args } as ClientRequest, context) };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'OK';
  } catch (error) {
    return (error as ServiceError).code;
  }
}

describe('members.list', () => {
  test('any member answers with the configuration it knows, the leader and the configuration index', async () => {
    const driver = new MembershipDriver();
    driver.softState = { role: 'follower', leaderId: 'n2', term: 3 };
    driver.members = [...driver.members, { id: 'n4', address: '127.0.0.1:7074', role: 'learner' }];
    const result = await operationsWith(driver).run('members.list', {});
    expect(result).toEqual({ members: driver.members, leaderId: 'n2', configIndex: 7 });
    driver.softState = { role: 'candidate', leaderId: '', term: 4 };
    expect(await operationsWith(driver).run('members.list', {})).toMatchObject({ leaderId: null });
  });
});

describe('admin ops', () => {
  test('a member that does not lead answers NOT_LEADER with the leader, and changes nothing', async () => {
    const driver = new MembershipDriver();
    driver.softState = { role: 'follower', leaderId: 'n2', term: 3 };
    const { run } = operationsWith(driver);
    for (const [op, args] of [
      ['members.add', { id: 'n4', address: '127.0.0.1:7074' }],
      ['members.remove', { id: 'n3' }],
      ['members.transferLeader', { id: 'n3' }],
      ['snapshot.read', { chunk: 0 }],
    ] as const) {
      const error = await run(op, args).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(NotLeaderError);
      expect((error as NotLeaderError).leader).toBe('127.0.0.1:7072');
    }
    expect(driver.calls).toEqual([]);
  });

  test('members.add hands the new member to the driver with the request timeout, and answers the new configuration', async () => {
    const driver = new MembershipDriver();
    const { run } = operationsWith(driver);
    const result = await run('members.add', { id: 'n4', address: '127.0.0.1:7074', timeoutMs: 60_000 });
    expect(driver.calls).toEqual([['addMember', 'n4', '127.0.0.1:7074', 60_000]]);
    expect(result).toEqual({ members: driver.members });
    expect(driver.members.map((member) => member.id)).toEqual(['n1', 'n2', 'n3', 'n4']);
    await run('members.add', { id: 'n5', address: '127.0.0.1:7075' });
    expect(driver.calls[1]).toEqual(['addMember', 'n5', '127.0.0.1:7075', 10_000]);
  });

  test('members.add of a voter already at that address is done at once; another address or a taken one is refused', async () => {
    const driver = new MembershipDriver();
    const { run } = operationsWith(driver);
    expect(await run('members.add', { id: 'n3', address: '127.0.0.1:7073' })).toEqual({ members: driver.members });
    expect(await codeOf(run('members.add', { id: 'n3', address: '127.0.0.1:7099' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(run('members.add', { id: 'n4', address: '127.0.0.1:7073' }))).toBe('INVALID_ARGUMENT');
    expect(driver.calls).toEqual([]);
    driver.members = [...driver.members, { id: 'n4', address: '127.0.0.1:7074', role: 'learner' }];
    await run('members.add', { id: 'n4', address: '127.0.0.1:7074' });
    expect(driver.calls).toEqual([['addMember', 'n4', '127.0.0.1:7074', 10_000]]); // a learner: the driver resumes it
  });

  test('members.remove of a member that is not there is done at once', async () => {
    const driver = new MembershipDriver();
    const { run } = operationsWith(driver);
    expect(await run('members.remove', { id: 'n3', timeoutMs: 2_000 })).toEqual({ members: driver.members });
    expect(driver.members.map((member) => member.id)).toEqual(['n1', 'n2']);
    await run('members.remove', { id: 'n3' });
    expect(driver.calls).toEqual([['removeMember', 'n3', 2_000]]);
  });

  test('members.transferLeader answers once the new leader is known', async () => {
    const driver = new MembershipDriver();
    driver.transfer = { moved: true, next: 'n3', afterMs: 20 };
    expect(await operationsWith(driver).run('members.transferLeader', { id: 'n3', timeoutMs: 5_000 })).toEqual({ leaderId: 'n3' });
    expect(driver.calls).toEqual([['transferLeadership', 'n3', 5_000]]);
  });

  test('members.transferLeader hands clients off for the transfer, and stops holding their answers when leadership stays put', async () => {
    const driver = new MembershipDriver();
    const handOffCalls: unknown[][] = [];
    const { run } = operationsWith(driver, handOffCalls);
    expect(await run('members.transferLeader', { id: 'n3', timeoutMs: 5_000 })).toEqual({ leaderId: 'n2' });
    expect(handOffCalls).toEqual([['begin', 5_000]]); // the successor's arrival ends it (leader-hand-off.ts)
    const staysLeader = new MembershipDriver();
    staysLeader.transfer = { moved: false, next: undefined, afterMs: 0 };
    const refusedCalls: unknown[][] = [];
    expect(await codeOf(operationsWith(staysLeader, refusedCalls).run('members.transferLeader', { id: 'n3', timeoutMs: 5_000 }))).toBe('TIMEOUT');
    expect(refusedCalls).toEqual([['begin', 5_000], ['end']]);
  });

  test('members.transferLeader without an id leaves the choice to the driver', async () => {
    const driver = new MembershipDriver();
    driver.transfer = { moved: true, next: 'n2', afterMs: 0 };
    expect(await operationsWith(driver).run('members.transferLeader', {})).toEqual({ leaderId: 'n2' });
    expect(driver.calls).toEqual([['transferLeadership', undefined, 10_000]]);
  });

  test('members.transferLeader to itself is done; to a learner, a stranger or with nobody to take over is refused', async () => {
    const driver = new MembershipDriver();
    driver.members = [...driver.members, { id: 'n4', address: '127.0.0.1:7074', role: 'learner' }];
    const { run } = operationsWith(driver);
    expect(await run('members.transferLeader', { id: 'n1' })).toEqual({ leaderId: 'n1' });
    expect(await codeOf(run('members.transferLeader', { id: 'n4' }))).toBe('INVALID_ARGUMENT');
    expect(await codeOf(run('members.transferLeader', { id: 'n9' }))).toBe('INVALID_ARGUMENT');
    driver.members = [{ id: 'n1', address: '127.0.0.1:7071', role: 'voter' }];
    expect(await codeOf(run('members.transferLeader', {}))).toBe('INVALID_ARGUMENT');
    expect(driver.calls).toEqual([]);
  });

  test('members.transferLeader answers TIMEOUT when leadership did not move, or no new leader showed up in time', async () => {
    const driver = new MembershipDriver();
    driver.transfer = { moved: false, next: undefined, afterMs: 0 };
    expect(await codeOf(operationsWith(driver).run('members.transferLeader', { id: 'n2', timeoutMs: 100 }))).toBe('TIMEOUT');
    const stepsDown = new MembershipDriver();
    stepsDown.transfer = { moved: true, next: undefined, afterMs: 0 };
    const startedMs = performance.now();
    expect(await codeOf(operationsWith(stepsDown).run('members.transferLeader', { id: 'n2', timeoutMs: 150 }))).toBe('TIMEOUT');
    expect(performance.now() - startedMs).toBeLessThan(1_000);
  });

  test('snapshot.read passes the chunk and the index on to the driver', async () => {
    const driver = new MembershipDriver();
    const { run } = operationsWith(driver);
    expect(await run('snapshot.read', { chunk: 0 })).toMatchObject({ index: 40, chunk: 0, chunkCount: 2, totalBytes: 3 });
    expect(await run('snapshot.read', { chunk: 1, index: 40 })).toMatchObject({ chunk: 1, data: new Uint8Array([3]) });
    expect(driver.calls).toEqual([
      ['backupSnapshotChunk', 0, undefined],
      ['backupSnapshotChunk', 1, 40],
    ]);
  });
});
