// Unit tests of the flag parsers and validators behind raftlockd's configuration (SPEC §2).

import { describe, expect, test } from 'vitest';
import { memberAddressProblem } from '@raftlock/protocol';
import { clusterIdOf, ConfigError, parseHostPort, parsePeers, validateNodeId, validateTiming } from './config.js';

describe('validateNodeId', () => {
  test.each(['n1', 'a', 'node-2', '0', 'x'.repeat(32)])('accepts %j', (id) => {
    expect(validateNodeId(id, '--id')).toBe(id);
  });

  test.each(['', 'N1', 'n_1', 'n 1', 'n1.', 'x'.repeat(33), 'é'])('refuses %j with a ConfigError naming the flag', (id) => {
    expect(() => validateNodeId(id, '--id')).toThrow(ConfigError);
    expect(() => validateNodeId(id, '--id')).toThrow(/^--id: /);
  });
});

describe('parseHostPort', () => {
  test('splits an IPv4 address and port', () => {
    expect(parseHostPort('127.0.0.1:7071', '--listen')).toEqual({ host: '127.0.0.1', port: 7071 });
  });

  test('accepts a host name', () => {
    expect(parseHostPort('raftlock-1.internal:7070', '--listen')).toEqual({ host: 'raftlock-1.internal', port: 7070 });
  });

  test('accepts a bracketed IPv6 address and strips the brackets', () => {
    expect(parseHostPort('[::1]:7070', '--listen')).toEqual({ host: '::1', port: 7070 });
  });

  test.each(['127.0.0.1', ':7070', '127.0.0.1:', 'host:port', '127.0.0.1:123456', '::1:7070', 'a b:1', 'http://h:1'])('refuses %j', (value) => {
    expect(() => parseHostPort(value, '--listen')).toThrow(ConfigError);
  });

  test.each(['127.0.0.1:0', '127.0.0.1:65536', '127.0.0.1:99999'])('refuses port outside 1–65535 in %j', (value) => {
    expect(() => parseHostPort(value, '--listen')).toThrow(/outside 1–65535/);
  });

  test('the error names where the value came from', () => {
    expect(() => parseHostPort('nope', '--advertise')).toThrow(/^--advertise: "nope" is not host:port$/);
  });

  test('takes every address members.add takes: the flags and the wire share one rule', () => {
    // An IPv4-mapped IPv6 address and a container name with `_` were refused here and accepted by
    // members.add (or the other way round), so a member could be added that could not be started.
    for (const address of ['[::ffff:10.0.0.4]:7070', 'raftlock_n4:7070', '10.0.0.4:65535']) {
      expect(memberAddressProblem(address)).toBeUndefined();
      expect(() => parseHostPort(address, '--listen')).not.toThrow();
    }
    for (const address of ['10.0.0.4', 'n4:0', '[n4]:7070', 'a b:1']) {
      expect(memberAddressProblem(address)).toBeDefined();
      expect(() => parseHostPort(address, '--listen')).toThrow(ConfigError);
    }
  });
});

describe('parsePeers', () => {
  test('parses id=host:port items in order', () => {
    const peers = parsePeers('n1=127.0.0.1:7071,n2=127.0.0.1:7072,n3=127.0.0.1:7073');
    expect([...peers]).toEqual([
      ['n1', '127.0.0.1:7071'],
      ['n2', '127.0.0.1:7072'],
      ['n3', '127.0.0.1:7073'],
    ]);
  });

  test('ignores empty items and whitespace around items', () => {
    expect([...parsePeers(' n1=127.0.0.1:7071 , ,n2=127.0.0.1:7072,')]).toEqual([
      ['n1', '127.0.0.1:7071'],
      ['n2', '127.0.0.1:7072'],
    ]);
  });

  test.each(['', ' , '])('refuses an empty list %j', (value) => {
    expect(() => parsePeers(value)).toThrow(/the list is empty/);
  });

  test.each(['n1', '=127.0.0.1:7071', 'n1:127.0.0.1:7071'])('refuses the malformed item %j', (value) => {
    expect(() => parsePeers(value)).toThrow(ConfigError);
  });

  test('refuses a bad member id', () => {
    expect(() => parsePeers('N1=127.0.0.1:7071')).toThrow(/member id "N1"/);
  });

  test('refuses a bad address and names the member', () => {
    expect(() => parsePeers('n1=127.0.0.1')).toThrow(/--peers n1: /);
  });

  test('refuses a member listed twice', () => {
    expect(() => parsePeers('n1=127.0.0.1:7071,n1=127.0.0.1:7072')).toThrow(/member "n1" is listed twice/);
  });

  test('refuses an address listed twice', () => {
    expect(() => parsePeers('n1=127.0.0.1:7071,n2=127.0.0.1:7071')).toThrow(/address 127.0.0.1:7071 is listed twice/);
  });

  // Fails today: the address is validated trimmed but stored untrimmed (" 127.0.0.1:7072"), so the
  // transport dials a host name with a leading space and the member silently never reaches n2.
  test('an address with whitespace after "=" is stored trimmed or refused, never kept with the space', () => {
    let peers: Map<string, string> | undefined;
    try {
      peers = parsePeers('n1=127.0.0.1:7071,n2= 127.0.0.1:7072');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return;
    }
    expect(peers.get('n2')).toBe('127.0.0.1:7072');
  });
});

describe('clusterIdOf', () => {
  const peers = new Map([
    ['n1', '127.0.0.1:7071'],
    ['n2', '127.0.0.1:7072'],
    ['n3', '127.0.0.1:7073'],
  ]);

  test('is the same whatever order the members were listed in', () => {
    const reordered = new Map([
      ['n3', '127.0.0.1:7073'],
      ['n1', '127.0.0.1:7071'],
      ['n2', '127.0.0.1:7072'],
    ]);
    expect(clusterIdOf(reordered)).toBe(clusterIdOf(peers));
  });

  test('is 16 hex characters and deterministic', () => {
    expect(clusterIdOf(peers)).toMatch(/^[0-9a-f]{16}$/);
    expect(clusterIdOf(new Map(peers))).toBe(clusterIdOf(peers));
  });

  test('differs for another member list or another address', () => {
    expect(clusterIdOf(new Map([...peers, ['n4', '127.0.0.1:7074']]))).not.toBe(clusterIdOf(peers));
    expect(clusterIdOf(new Map([...peers, ['n3', '127.0.0.1:7079']]))).not.toBe(clusterIdOf(peers));
  });

  test('ids that differ only in hyphens still sort to one canonical order', () => {
    const left = new Map([
      ['a-b', '10.0.0.1:1'],
      ['ab', '10.0.0.2:1'],
      ['a-c', '10.0.0.3:1'],
    ]);
    const right = new Map([...left].reverse());
    expect(clusterIdOf(right)).toBe(clusterIdOf(left));
  });
});

describe('validateTiming', () => {
  test('accepts the defaults and the tightest allowed pair', () => {
    expect(() => validateTiming(100, 1000)).not.toThrow();
    expect(() => validateTiming(10, 30)).not.toThrow();
  });

  test.each([
    [9, 1000],
    [0, 1000],
    [-100, 1000],
    [10.5, 1000],
    [Number.NaN, 1000],
  ])('refuses heartbeat %d ms', (heartbeatMs, electionMs) => {
    expect(() => validateTiming(heartbeatMs, electionMs)).toThrow(/--heartbeat-ms/);
  });

  test.each([
    [100, 299],
    [100, 100],
    [100, 1000.5],
    [100, Number.NaN],
  ])('with heartbeat %d ms, refuses election timeout %d ms', (heartbeatMs, electionMs) => {
    expect(() => validateTiming(heartbeatMs, electionMs)).toThrow(/--election-timeout-ms/);
  });
});
