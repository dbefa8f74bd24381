import { expect, test } from 'vitest';
import { clock, watchJson, watchLines } from './watch.js';
import { observeLine } from './election.js';

test('a watch prints the current holders first, then one line per event', () => {
  const snapshot = watchLines(
    {
      type: 'snapshot',
      index: 40,
      locks: [
        { kind: 'lock', name: 'orders/1', holder: { sessionId: 's1', clientName: 'w', token: 12n, sinceIndex: 12, sinceTimeMs: 0, metadata: '', value: '' }, waiters: [{ sessionId: 's2', clientName: '', sinceIndex: 30 }] },
        { kind: 'lock', name: 'orders/2', holder: null, waiters: [{ sessionId: 's3', clientName: '', sinceIndex: 31 }] },
        { kind: 'election', name: 'orders/leader', holder: { sessionId: 's4', clientName: '', token: 20n, sinceIndex: 20, sinceTimeMs: 0, metadata: '', value: '10.0.0.7' }, waiters: [] },
      ],
    },
    { time: undefined },
  );
  expect(snapshot).toEqual(['#40  held  lock  orders/1  session=s1 token=12 waiters=1', '#40  held  election  orders/leader  session=s4 token=20 value="10.0.0.7"']);
  expect(watchLines({ type: 'released', index: 41, kind: 'lock', name: 'orders/1', sessionId: 's1', token: 12n }, { time: '12:00:00.000' })).toEqual(['12:00:00.000  #41  released  lock  orders/1  session=s1 token=12']);
  expect(watchLines({ type: 'queued', index: 42, kind: 'lock', name: 'orders/9', sessionId: 's5' }, { time: undefined })).toEqual(['#42  queued  lock  orders/9  session=s5']);
});

test('--json watch items are one object each, tokens as numbers', () => {
  expect(JSON.stringify(watchJson({ type: 'acquired', index: 5, kind: 'lock', name: 'a', sessionId: 's', token: 5n }, 0), (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value))).toBe('{"type":"acquired","index":5,"kind":"lock","name":"a","sessionId":"s","token":5}');
});

test('observe prints one line per change of leader', () => {
  expect(observeLine('scheduler', { name: 'scheduler', sessionId: 's1', token: 7n, value: '10.0.0.7:8080', index: 9 })).toBe('#9  scheduler  leader "10.0.0.7:8080"  session=s1 token=7');
  expect(observeLine('scheduler', null)).toBe('#-  scheduler  no leader');
});

test('on a terminal a watch line starts with the local time of day it arrived, not UTC', () => {
  const savedTz = process.env['TZ'];
  process.env['TZ'] = 'Asia/Tokyo'; // UTC+9 all year: local and UTC differ wherever the test runs
  try {
    expect(clock(Date.UTC(2025, 0, 2, 0, 5, 7, 42))).toBe('09:05:07.042');
  } finally {
    if (savedTz === undefined) delete process.env['TZ'];
    else process.env['TZ'] = savedTz;
  }
});
