import { expect, test } from 'vitest';
import type { ClusterStatus } from '@raftlock/client';
import type { MemberProbe } from '../member-probe.js';
import { renderTable } from '../output.js';
import { buildStatusReport, statusColumns, statusRows } from './status.js';

const status: ClusterStatus = {
  nodeId: 'n2',
  address: '127.0.0.1:7072',
  role: 'leader',
  leaderId: 'n2',
  leaderAddress: '127.0.0.1:7072',
  term: 4,
  commitIndex: 120,
  appliedIndex: 120,
  lastIndex: 121,
  members: [
    { id: 'n3', address: '127.0.0.1:7073', role: 'follower', reachable: true, matchIndex: 118 },
    { id: 'n1', address: '127.0.0.1:7071', role: 'follower', reachable: false, matchIndex: 90 },
    { id: 'n2', address: '127.0.0.1:7072', role: 'leader', reachable: true, matchIndex: 121 },
  ],
};

function probe(address: string, fields: Partial<MemberProbe>): MemberProbe {
  return { address, reachable: true, ready: true, role: 'follower', leaderId: 'n2', commitIndex: 120, appliedIndex: 120, term: 4, error: undefined, status: undefined, ...fields };
}

test('each member is reported from its own answer: down, caught up or lagging; the leader comes from the cluster', () => {
  const probes = new Map([
    ['127.0.0.1:7071', probe('127.0.0.1:7071', { reachable: false, ready: false, role: undefined, term: undefined, error: 'connect ECONNREFUSED' })],
    ['127.0.0.1:7072', probe('127.0.0.1:7072', { role: 'leader', commitIndex: 121, appliedIndex: 121 })],
    ['127.0.0.1:7073', probe('127.0.0.1:7073', { ready: false, commitIndex: 115, appliedIndex: 110 })],
  ]);
  const report = buildStatusReport(status, probes);
  expect(report.leader).toEqual({ id: 'n2', address: '127.0.0.1:7072' });
  expect(report.members.map((member) => [member.id, member.role, member.health, member.lag])).toEqual([
    ['n1', null, 'down', null],
    ['n2', 'leader', 'ok', 0],
    ['n3', 'follower', 'unready', 11],
  ]);
  expect(report.members[0]).toMatchObject({ error: 'connect ECONNREFUSED', matchIndex: 90, term: null });
  expect(renderTable(statusColumns, statusRows(report), { color: false })).toBe(
    [
      'MEMBER   ADDRESS          ROLE       TERM   COMMIT   APPLIED   LAG   HEALTH',
      'n1       127.0.0.1:7071   -             -        -         -     -   down',
      'n2       127.0.0.1:7072   leader        4      121       121     0   ok',
      'n3       127.0.0.1:7073   follower      4      115       110    11   unready',
      '',
    ].join('\n'),
  );
});

test('with no leader known the report says so', () => {
  const report = buildStatusReport({ ...status, role: 'follower', leaderId: null, leaderAddress: null }, new Map());
  expect(report.leader).toBeNull();
  expect(report.members.every((member) => member.health === 'down' && member.lag === null)).toBe(true);
});
