import { expect, test } from 'vitest';
import type { MemberStatus, Membership } from '@raftlock/client';
import { renderTable } from '../output.js';
import { buildMembersReport, changeTimeoutMs, describeMembers, evenVotersWarning, memberColumns, memberRows } from './members.js';
import { formatBytes, savedLine } from './snapshot.js';

const membership: Membership = {
  members: [
    { id: 'n3', address: '10.0.0.3:7070', role: 'voter' },
    { id: 'n1', address: '10.0.0.1:7070', role: 'voter' },
    { id: 'n4', address: '10.0.0.4:7070', role: 'learner' },
    { id: 'n2', address: '10.0.0.2:7070', role: 'voter' },
  ],
  leaderId: 'n2',
  configIndex: 57,
};

const statuses: MemberStatus[] = [
  { id: 'n1', address: '10.0.0.1:7070', role: 'follower', reachable: false, matchIndex: 40 },
  { id: 'n2', address: '10.0.0.2:7070', role: 'leader', reachable: true, matchIndex: 812 },
  { id: 'n3', address: '10.0.0.3:7070', role: 'follower', reachable: true, matchIndex: 812 },
];

test('members list: the configuration by id, the leader marked, learners shown, and what the status adds', () => {
  const report = buildMembersReport(membership, statuses, 'n2');
  expect(report).toMatchObject({ leaderId: 'n2', configIndex: 57, answeredBy: 'n2' });
  expect(report.members).toEqual([
    { id: 'n1', address: '10.0.0.1:7070', role: 'voter', leader: false, reachable: false, matchIndex: 40 },
    { id: 'n2', address: '10.0.0.2:7070', role: 'voter', leader: true, reachable: true, matchIndex: 812 },
    { id: 'n3', address: '10.0.0.3:7070', role: 'voter', leader: false, reachable: true, matchIndex: 812 },
    { id: 'n4', address: '10.0.0.4:7070', role: 'learner', leader: false, reachable: null, matchIndex: null },
  ]);
  expect(renderTable(memberColumns, memberRows(report), { color: false })).toBe(
    [
      'ID   ADDRESS         ROLE      REACHABLE   MATCH INDEX',
      'n1   10.0.0.1:7070   voter     no                   40',
      'n2   10.0.0.2:7070   leader    yes                 812',
      'n3   10.0.0.3:7070   voter     yes                 812',
      'n4   10.0.0.4:7070   learner   -                     -',
      '',
    ].join('\n'),
  );
});

test('an even number of voters is warned about; odd ones, and learners, are not', () => {
  const voters = (count: number, learners = 0) => [
    ...Array.from({ length: count }, (_unused, position) => ({ id: `n${position}`, address: `h:${position + 1}`, role: 'voter' as const })),
    ...Array.from({ length: learners }, (_unused, position) => ({ id: `l${position}`, address: `l:${position + 1}`, role: 'learner' as const })),
  ];
  expect(evenVotersWarning(voters(3))).toBeUndefined();
  expect(evenVotersWarning(voters(3, 1))).toBeUndefined();
  expect(evenVotersWarning(voters(1))).toBeUndefined();
  expect(evenVotersWarning(voters(4))).toBe('the cluster now has 4 voters: an even number survives 1 failure, no more than 3 voters would; add or remove one more');
  expect(evenVotersWarning(voters(2))).toBe('the cluster now has 2 voters: an even number survives 0 failures, no more than 1 voter would; add or remove one more');
  expect(evenVotersWarning(voters(6))).toMatch(/survives 2 failures, no more than 5 voters would/);
});

test('a change may wait until shortly before --timeout runs out, within 100 ms and 10 minutes', () => {
  expect(changeTimeoutMs(5_000, 1_000)).toBe(3_700);
  expect(changeTimeoutMs(1_000, 950)).toBe(100);
  expect(changeTimeoutMs(3_600_000, 0)).toBe(600_000);
});

test('snapshot save: one line naming the index, the size, the members and the file', () => {
  expect(describeMembers(membership.members)).toBe('n1, n2, n3, n4 (learner)');
  expect(formatBytes(0)).toBe('0 bytes');
  expect(formatBytes(1023)).toBe('1023 bytes');
  expect(formatBytes(1536)).toBe('1.5 KiB');
  expect(formatBytes(200 * 1024 * 1024)).toBe('200 MiB');
  const line = savedLine({ path: 'backup.raftlock', index: 812, term: 4, members: membership.members, totalBytes: 1_258_291, fileBytes: 1_258_400, createdAt: '2025-01-02T03:04:05.678Z', restarts: 0 });
  expect(line).toBe('saved the state at index 812 (term 4; 1.2 MiB; members n1, n2, n3, n4 (learner)) to backup.raftlock');
});
