import { expect, test } from 'vitest';
import { ClientTokens, rolePermits, TokenFileError } from './client-tokens.js';

const file = `
# operators
admin-token-0123456789 admin
client-token-0123456789   client   # the billing service
read-token-0123456789 read
`;

test('a token file maps each bearer token to its role, and unknown or missing tokens to none', () => {
  const tokens = ClientTokens.parse(file, 'tokens.txt');
  expect(tokens.size).toBe(3);
  expect(tokens.roleOf('Bearer admin-token-0123456789')).toBe('admin');
  expect(tokens.roleOf('bearer client-token-0123456789')).toBe('client');
  expect(tokens.roleOf('Bearer read-token-0123456789')).toBe('read');
  expect(tokens.roleOf('Bearer nope-nope-nope-nope')).toBeUndefined();
  expect(tokens.roleOf('read-token-0123456789')).toBeUndefined();
  expect(tokens.roleOf(undefined)).toBeUndefined();
});

test('malformed token files are refused with the line that is wrong and without echoing the token', () => {
  const refuse = (text: string) => () => ClientTokens.parse(text, 'tokens.txt');
  expect(refuse('short admin')).toThrow(/tokens\.txt line 1: a token must be at least 16 characters/);
  expect(refuse('# only a comment\n')).toThrow(/no tokens/);
  expect(refuse('long-enough-token-xyz superuser')).toThrow(/line 1: role "superuser"/);
  expect(refuse('long-enough-token-xyz admin extra')).toThrow(/expected "token role"/);
  expect(refuse('long-enough-token-xyz admin\nlong-enough-token-xyz read')).toThrow(/line 2: this token is listed twice/);
  try {
    ClientTokens.parse('long-enough-token-xyz superuser', 'tokens.txt');
  } catch (error) {
    expect(error).toBeInstanceOf(TokenFileError);
    expect((error as Error).message).not.toContain('long-enough-token-xyz');
  }
});

test('read may only inspect, client may also lock and elect, admin may also force-release', () => {
  expect(rolePermits('read', 'lock.list')).toBe(true);
  expect(rolePermits('read', 'watch.start')).toBe(true);
  expect(rolePermits('read', 'lock.acquire')).toBe(false);
  expect(rolePermits('read', 'session.open')).toBe(false);
  expect(rolePermits('client', 'lock.acquire')).toBe(true);
  expect(rolePermits('client', 'election.campaign')).toBe(true);
  expect(rolePermits('client', 'lock.forceRelease')).toBe(false);
  expect(rolePermits('admin', 'lock.forceRelease')).toBe(true);
});

test('members.list is a read; membership changes, leadership transfers and snapshot reads are admin only', () => {
  expect(rolePermits('read', 'members.list')).toBe(true);
  for (const op of ['members.add', 'members.remove', 'members.transferLeader', 'snapshot.read'] as const) {
    expect(rolePermits('read', op)).toBe(false);
    expect(rolePermits('client', op)).toBe(false);
    expect(rolePermits('admin', op)).toBe(true);
  }
});
