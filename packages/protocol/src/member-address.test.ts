import { expect, test } from 'vitest';
import { memberAddressProblem, memberIdProblem, parseMemberAddress } from './member-address.js';

test('a member address is a name, an IPv4 address or a bracketed IPv6 one, with a port in 1–65535', () => {
  expect(parseMemberAddress('10.0.0.1:7070')).toEqual({ host: '10.0.0.1', port: 7070 });
  expect(parseMemberAddress('raftlock-1.internal:1')).toEqual({ host: 'raftlock-1.internal', port: 1 });
  expect(parseMemberAddress('raftlock_n1:7070')).toEqual({ host: 'raftlock_n1', port: 7070 });
  expect(parseMemberAddress('[::1]:65535')).toEqual({ host: '::1', port: 65535 });
  expect(parseMemberAddress('[::ffff:10.0.0.1]:7070')).toEqual({ host: '::ffff:10.0.0.1', port: 7070 });
});

test.each(['', '10.0.0.1', ':7070', '10.0.0.1:', '::1:7070', '[::1]', '[host]:7070', 'a b:1', 'ws://h:1', 'h:port', 'h:123456'])('%j is not host:port', (address) => {
  expect(parseMemberAddress(address)).toBeUndefined();
  expect(memberAddressProblem(address)).toBe('must be host:port');
});

test.each(['h:0', 'h:65536', 'h:99999'])('%j has a port outside 1–65535', (address) => {
  expect(parseMemberAddress(address)).toBeUndefined();
  expect(memberAddressProblem(address)).toBe('must have a port in 1–65535');
});

test('a member id is 1–32 of [a-z0-9-]', () => {
  expect(memberIdProblem('n1')).toBeUndefined();
  expect(memberIdProblem('a'.repeat(32))).toBeUndefined();
  for (const id of ['', 'N1', 'n_1', 'a'.repeat(33)]) expect(memberIdProblem(id)).toBe('must match [a-z0-9-]{1,32}');
});
