import { expect, test } from 'vitest';
import { TimeoutError, UnavailableError, NotHolderError, PermissionDeniedError, NotLeaderError } from '@raftlock/client';
import { CliError, describeError, exitCodeFor, exitCodes, oneLine } from './exit-codes.js';

test('the cluster being unreachable, leaderless or silent is exit 3; anything else the cluster says is exit 1', () => {
  expect(exitCodeFor(new UnavailableError('no member reachable'))).toBe(exitCodes.unavailable);
  expect(exitCodeFor(new TimeoutError('no answer'))).toBe(exitCodes.unavailable);
  expect(exitCodeFor(new NotLeaderError('no leader'))).toBe(exitCodes.unavailable);
  expect(exitCodeFor(new NotHolderError('not yours'))).toBe(exitCodes.failed);
  expect(exitCodeFor(new PermissionDeniedError('admin only'))).toBe(exitCodes.failed);
  expect(exitCodeFor(new Error('boom'))).toBe(exitCodes.failed);
  expect(exitCodeFor(new CliError(exitCodes.usage, 'bad'))).toBe(exitCodes.usage);
});

test('every reason is one line, and says what kind of failure it is', () => {
  expect(describeError(new UnavailableError('no member of a, b reachable within 1000 ms'))).toBe('cluster unavailable: no member of a, b reachable within 1000 ms');
  expect(describeError(new PermissionDeniedError('forceRelease needs the admin role'))).toBe('forceRelease needs the admin role (PERMISSION_DENIED; check --token)');
  expect(describeError(new NotHolderError('wrong token'))).toBe('wrong token (NOT_HOLDER)');
  expect(describeError(new Error('first\n  second\n'))).toBe('first second');
  expect(new CliError(1, 'a\nb').message).toBe('a b');
  expect(oneLine('Usage:\n\n  x\n')).toBe('Usage: x');
});
