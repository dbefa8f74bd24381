import { expect, test } from 'vitest';
import type { ClientCommand } from './lock-commands.js';
import { requestFingerprint } from './request-fingerprint.js';

const acquire: ClientCommand = { type: 'Acquire', requestId: 'r', sessionId: '7', kind: 'lock', name: 'a', mode: 'wait', metadata: 'm', value: '', leaderTimeMs: 1 };

test('a request keeps its fingerprint when only the leader stamp, the metadata or the request id differ', () => {
  expect(requestFingerprint({ ...acquire, leaderTimeMs: 2, metadata: 'other', requestId: 'q' })).toBe(requestFingerprint(acquire));
});

test('every field that says what a request is about changes the fingerprint, which stays a 30-bit whole number', () => {
  const variants: ClientCommand[] = [
    acquire,
    { ...acquire, sessionId: '8' },
    { ...acquire, kind: 'election' },
    { ...acquire, name: 'b' },
    { ...acquire, mode: 'try' },
    { ...acquire, value: 'v' },
    // Fields cannot run into each other: session "7a" on lock "" is not session "7" on lock "a".
    { ...acquire, sessionId: '7a', name: '' },
    { type: 'CancelWait', requestId: 'r', sessionId: '7', kind: 'lock', name: 'a' },
    { type: 'Release', requestId: 'r', sessionId: '7', kind: 'lock', name: 'a', token: 3 },
    { type: 'Release', requestId: 'r', sessionId: '7', kind: 'lock', name: 'a', token: 4 },
    { type: 'ForceRelease', requestId: 'r', kind: 'lock', name: 'a' },
    { type: 'Proclaim', requestId: 'r', sessionId: '7', name: 'a', token: 3, value: 'v' },
    { type: 'Proclaim', requestId: 'r', sessionId: '7', name: 'a', token: 3, value: 'w' },
    { type: 'OpenSession', requestId: 'r', ttlMs: 1000, clientName: 'c', leaderTimeMs: 1 },
    { type: 'OpenSession', requestId: 'r', ttlMs: 2000, clientName: 'c', leaderTimeMs: 1 },
    { type: 'OpenSession', requestId: 'r', ttlMs: 1000, clientName: 'd', leaderTimeMs: 1 },
    { type: 'CloseSession', requestId: 'r', sessionId: '7' },
  ];
  const fingerprints = variants.map(requestFingerprint);
  expect(new Set(fingerprints).size).toBe(variants.length);
  for (const fingerprint of fingerprints) {
    expect(Number.isInteger(fingerprint)).toBe(true);
    expect(fingerprint).toBeGreaterThanOrEqual(0);
    expect(fingerprint).toBeLessThan(2 ** 30);
  }
});
