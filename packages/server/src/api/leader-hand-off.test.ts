// LeaderHandOff on a scripted driver and clock: which answers wait during a hand-off, what they
// become, and that nothing waits past the window or past end().

import { NotHolderError, NotLeaderError, UnavailableError, type ServiceError } from '@raftlock/protocol';
import { afterEach, expect, test } from 'vitest';
import { asNodeId, asTerm } from '../ids.js';
import { silentLogger } from '../raft/ports.js';
import type { SoftState } from '../raft/ready.js';
import { LeaderHandOff, type HandOffDriver } from './leader-hand-off.js';

const successorAddress = '127.0.0.1:7072';

/** A member that leads until told otherwise; like RaftDriver, it names a leader only when it follows one. */
class ScriptedDriver implements HandOffDriver {
  private softState: SoftState = { role: 'leader', leaderId: asNodeId('n1'), term: asTerm(1) };
  private readonly listeners = new Set<(softState: SoftState) => void>();

  role(): SoftState {
    return this.softState;
  }

  notLeaderError(): ServiceError {
    if (this.softState.leaderId === '' || this.softState.leaderId === 'n1') return new UnavailableError('no leader is known yet');
    return new NotLeaderError(`the leader is ${this.softState.leaderId}`, successorAddress);
  }

  onRoleChange(listener: (softState: SoftState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  become(role: SoftState['role'], leaderId: string): void {
    this.softState = { role, leaderId: asNodeId(leaderId), term: asTerm(2) };
    for (const listener of this.listeners) listener(this.softState);
  }
}

const clock = { monotonicMs: () => performance.now(), wallTimeMs: () => Date.now() };
const handOffs: LeaderHandOff[] = [];

function handOffOn(driver: ScriptedDriver): LeaderHandOff {
  const handOff = new LeaderHandOff(driver, clock, silentLogger);
  handOffs.push(handOff);
  return handOff;
}

afterEach(() => {
  for (const handOff of handOffs.splice(0)) handOff.end();
});

/** Settles to the value, or 'pending' if the promise has not settled after a few turns. */
async function settledOrPending<T>(value: T | Promise<T>): Promise<T | 'pending'> {
  return Promise.race([Promise.resolve(value), new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 20))]);
}

test('during a hand-off an UNAVAILABLE answer waits, then goes out as NOT_LEADER naming the successor once it is known', async () => {
  const driver = new ScriptedDriver();
  const handOff = handOffOn(driver);
  handOff.begin(5_000);
  const refusedWhileTransferring = handOff.answer(new UnavailableError('leadership is being transferred; retry shortly'));
  expect(await settledOrPending(refusedWhileTransferring)).toBe('pending');
  driver.become('follower', ''); // stepped down for the transferee's vote: no leader known yet
  const failedOnStepDown = handOff.answer(new UnavailableError('no leader is known yet'));
  expect(await settledOrPending(failedOnStepDown)).toBe('pending');
  driver.become('follower', 'n2'); // the successor's first append
  for (const answer of [await refusedWhileTransferring, await failedOnStepDown]) {
    expect(answer.code).toBe('NOT_LEADER');
    expect(answer.leader).toBe(successorAddress);
  }
  // Done: a follower that knows its leader says so at once anyway; nothing is held any more.
  expect(handOff.active).toBe(false);
  const later = new UnavailableError('some other trouble');
  expect(handOff.answer(later)).toBe(later);
});

test('a member that lost its leader and then wins the election itself lets held answers go out at once, as they were', async () => {
  const driver = new ScriptedDriver();
  driver.become('follower', ''); // its leader died: no leader known
  const handOff = handOffOn(driver);
  handOff.begin(5_000);
  const original = new UnavailableError('no leader is known yet');
  const held = handOff.answer(original);
  expect(await settledOrPending(held)).toBe('pending');
  driver.become('candidate', '');
  expect(await settledOrPending(held)).toBe('pending');
  driver.become('leader', 'n1');
  expect(await settledOrPending(held)).toBe(original); // the client retries here, now the leader
  expect(handOff.active).toBe(false);
});

test('only UNAVAILABLE is held: definitive answers and NOT_LEADER go out unchanged and at once', () => {
  const driver = new ScriptedDriver();
  const handOff = handOffOn(driver);
  handOff.begin(5_000);
  const definitive = new NotHolderError();
  expect(handOff.answer(definitive)).toBe(definitive);
  const redirect = new NotLeaderError('elsewhere', '127.0.0.1:7073');
  expect(handOff.answer(redirect)).toBe(redirect);
});

test('outside a hand-off every answer goes out unchanged and at once', () => {
  const driver = new ScriptedDriver();
  const handOff = handOffOn(driver);
  const unavailable = new UnavailableError('no quorum');
  expect(handOff.answer(unavailable)).toBe(unavailable);
});

test('a hand-off whose window ends without a successor lets the held answers go out as they were', async () => {
  const driver = new ScriptedDriver();
  const handOff = handOffOn(driver);
  handOff.begin(30);
  const original = new UnavailableError('leadership is being transferred; retry shortly');
  const startedMs = performance.now();
  const answer = await handOff.answer(original);
  expect(answer).toBe(original);
  expect(performance.now() - startedMs).toBeGreaterThanOrEqual(25);
  expect(handOff.active).toBe(false);
});

test('end() sends the held answers at once, redirected when the successor is already known', async () => {
  const driver = new ScriptedDriver();
  const handOff = handOffOn(driver);
  handOff.begin(5_000);
  const original = new UnavailableError('leadership is being transferred; retry shortly');
  const held = handOff.answer(original);
  handOff.end();
  expect(await held).toBe(original);
});

test('successor() names the leader a follower knows at once, waits for it during a hand-off, and is undefined for a leader', async () => {
  const driver = new ScriptedDriver();
  const handOff = handOffOn(driver);
  expect(await handOff.successor()).toBeUndefined(); // leading, no hand-off
  handOff.begin(5_000);
  driver.become('follower', '');
  const successor = handOff.successor();
  expect(await settledOrPending(successor)).toBe('pending');
  driver.become('follower', 'n2');
  expect(await successor).toBe(successorAddress);
  expect(await handOff.successor()).toBe(successorAddress);
});
