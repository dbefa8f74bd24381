import { expect, test } from 'vitest';
import { InvalidArgumentError, TimeoutError } from '@raftlock/protocol';
import { closedAfterEachTest } from './fake-member.fixture.js';

const { member, client } = closedAfterEachTest();

const members = [
  { id: 'n1', address: '127.0.0.1:7071', role: 'voter' },
  { id: 'n4', address: '127.0.0.1:7074', role: 'learner' },
];

test('members.list returns the configuration, its index and the leader', async () => {
  const only = await member();
  only.script = (received, fake) => fake.ok(received, { members, leaderId: 'n1', configIndex: 12 });
  const sdk = await client({ endpoints: [only.address] });
  expect(await sdk.members.list()).toEqual({ members, leaderId: 'n1', configIndex: 12 });
  expect(only.requests('members.list')[0]?.request.args).toEqual({});
});

test('add, remove and transferLeader send the member and how long the server may wait for the change', async () => {
  const only = await member();
  only.script = (received, fake) => fake.ok(received, received.request.op === 'members.transferLeader' ? { leaderId: 'n2' } : { members });
  const sdk = await client({ endpoints: [only.address], requestTimeoutMs: 4_000 });
  expect(await sdk.members.add('n4', '127.0.0.1:7074', { timeoutMs: 60_000 })).toEqual({ members });
  expect(await sdk.members.remove('n3')).toEqual({ members });
  expect(await sdk.members.transferLeader('n2')).toEqual({ leaderId: 'n2' });
  expect(await sdk.members.transferLeader()).toEqual({ leaderId: 'n2' });
  expect(only.received.map((received) => [received.request.op, received.request.args])).toEqual([
    ['members.add', { id: 'n4', address: '127.0.0.1:7074', timeoutMs: 60_000 }],
    ['members.remove', { id: 'n3', timeoutMs: 4_000 }],
    ['members.transferLeader', { id: 'n2', timeoutMs: 4_000 }],
    ['members.transferLeader', { timeoutMs: 4_000 }],
  ]);
});

test('a malformed id, address or timeout is refused before anything is sent', async () => {
  const only = await member();
  const sdk = await client({ endpoints: [only.address] });
  await expect(sdk.members.add('N4', '127.0.0.1:7074')).rejects.toBeInstanceOf(InvalidArgumentError);
  await expect(sdk.members.add('n4', 'ws://127.0.0.1:7074')).rejects.toThrow(/address "ws:\/\/127\.0\.0\.1:7074" must be host:port/);
  await expect(sdk.members.remove('')).rejects.toBeInstanceOf(InvalidArgumentError);
  await expect(sdk.members.transferLeader('n 2')).rejects.toBeInstanceOf(InvalidArgumentError);
  await expect(sdk.members.remove('n3', { timeoutMs: 50 })).rejects.toThrow(/timeoutMs must be an integer from 100 to 600000/);
  expect(only.received).toEqual([]);
});

test('a change follows NOT_LEADER with the same request id, but the server answering TIMEOUT is final', async () => {
  const leader = await member();
  const follower = await member();
  follower.script = (received, fake) => fake.fail(received, { code: 'NOT_LEADER', message: 'not me', leader: leader.address });
  leader.script = (received, fake) => fake.fail(received, { code: 'TIMEOUT', message: 'add n4 did not complete in time: LearnerNotCaughtUp' });
  const sdk = await client({ endpoints: [follower.address] });
  const error = await sdk.members.add('n4', '127.0.0.1:7074', { timeoutMs: 200 }).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(TimeoutError);
  expect((error as Error).message).toContain('LearnerNotCaughtUp');
  expect(leader.requests('members.add')).toHaveLength(1);
  expect(leader.requests('members.add')[0]?.request.id).toBe(follower.requests('members.add')[0]?.request.id);
});
