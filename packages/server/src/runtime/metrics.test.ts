import { expect, test } from 'vitest';
import { Metrics, type MemberState } from './metrics.js';

const gaugeLine = (text: string, name: string) => text.split('\n').find((line) => line.startsWith(`${name} `));

test('the state gauges show what the member holds at the moment of the scrape, not when it last changed', async () => {
  const metrics = new Metrics(false);
  let state: MemberState = { commitIndex: 7, appliedIndex: 6, logEntries: 5, snapshotIndex: 2, sessions: 3, locksHeld: 4, electionsLed: 2, waiters: 1 };
  metrics.sampleStateFrom(() => state);
  const first = await metrics.registry.metrics();
  expect(gaugeLine(first, 'raftlock_commit_index')).toBe('raftlock_commit_index 7');
  expect(gaugeLine(first, 'raftlock_applied_index')).toBe('raftlock_applied_index 6');
  expect(gaugeLine(first, 'raftlock_log_entries')).toBe('raftlock_log_entries 5');
  expect(gaugeLine(first, 'raftlock_snapshot_index')).toBe('raftlock_snapshot_index 2');
  expect(gaugeLine(first, 'raftlock_sessions')).toBe('raftlock_sessions 3');
  expect(gaugeLine(first, 'raftlock_locks_held')).toBe('raftlock_locks_held 4');
  expect(gaugeLine(first, 'raftlock_elections_led')).toBe('raftlock_elections_led 2');
  expect(gaugeLine(first, 'raftlock_waiters')).toBe('raftlock_waiters 1');
  state = { ...state, commitIndex: 9, locksHeld: 0 };
  const second = await metrics.registry.metrics();
  expect(gaugeLine(second, 'raftlock_commit_index')).toBe('raftlock_commit_index 9');
  expect(gaugeLine(second, 'raftlock_locks_held')).toBe('raftlock_locks_held 0');
});

test('before a member is attached the state gauges read zero instead of failing the scrape', async () => {
  const text = await new Metrics(false).registry.metrics();
  expect(gaugeLine(text, 'raftlock_commit_index')).toBe('raftlock_commit_index 0');
});
