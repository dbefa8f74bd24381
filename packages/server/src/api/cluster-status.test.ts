import { expect, test } from 'vitest';
import type { RaftDriver } from '../runtime/raft-driver.js';
import { clusterStatusOf } from './cluster-status.js';

test('a learner in the configuration is reported as learner; voters by what this member knows of them', () => {
  const members = [
    { id: 'n1', address: '127.0.0.1:7071', role: 'voter' },
    { id: 'n2', address: '127.0.0.1:7072', role: 'voter' },
    { id: 'n4', address: '127.0.0.1:7074', role: 'learner' },
  ] as const;
  const driver = {
    status: () => ({
      role: 'leader',
      leaderId: 'n1',
      term: 3,
      commitIndex: 9,
      lastIndex: 9,
      progress: new Map([
        ['n1', { matchIndex: 9 }],
        ['n2', { matchIndex: 9 }],
        ['n4', { matchIndex: 4 }],
      ]),
    }),
    configuration: () => ({ members }),
    memberIds: () => members.map((member) => member.id),
    addressOf: (id: string) => members.find((member) => member.id === id)?.address,
    lastAppliedIndex: () => 9,
  } as unknown as RaftDriver;
  const status = clusterStatusOf(driver, 'n1', '127.0.0.1:7071');
  expect(status.members.map((member) => [member.id, member.role, member.matchIndex])).toEqual([
    ['n1', 'leader', 9],
    ['n2', 'follower', 9],
    ['n4', 'learner', 4],
  ]);
});
