// Round trips of the lock commands through the durable log encoding, and what decoding refuses.

import { Packr } from 'msgpackr';
import { describe, expect, test } from 'vitest';
import { AssertionError } from '../assert.js';
import type { LockCommand } from '../lock/lock-commands.js';
import { decodeCommand, encodeCommand } from './command-codec.js';

const commands: readonly LockCommand[] = [
  { type: 'OpenSession', requestId: 'r-open', ttlMs: 10_000, clientName: 'billing-worker-3', leaderTimeMs: 1_735_689_600_123 },
  { type: 'CloseSession', requestId: 'r-close', sessionId: '12' },
  { type: 'ExpireSession', sessionId: '12', leaderTimeMs: 1_735_689_600_456 },
  { type: 'Acquire', requestId: 'r-acq', sessionId: '12', kind: 'lock', name: 'orders/42', mode: 'wait', metadata: 'host=a', value: '', leaderTimeMs: 1 },
  { type: 'Acquire', requestId: 'r-camp', sessionId: '12', kind: 'election', name: 'scheduler', mode: 'try', metadata: '', value: '10.0.0.7:8080', leaderTimeMs: 2 },
  { type: 'CancelWait', requestId: 'r-cancel', sessionId: '12', kind: 'election', name: 'scheduler' },
  { type: 'Release', requestId: 'r-rel', sessionId: '12', kind: 'lock', name: 'orders/42', token: 9_007_199_254_740_991 },
  { type: 'ForceRelease', requestId: 'r-force', kind: 'lock', name: 'orders/42' },
  { type: 'Proclaim', requestId: 'r-proc', sessionId: '12', name: 'scheduler', token: 77, value: 'ünïcødé ✓ 😀' },
  { type: 'Noop' },
];

describe('command codec', () => {
  test.each(commands.map((command) => [command.type, command] as const))('%s survives encode then decode unchanged', (_type, command) => {
    const decoded = decodeCommand(encodeCommand(command));
    expect(decoded).toEqual(command);
  });

  test('an encoded command is independent of later encodings (no shared buffer is overwritten)', () => {
    const first = encodeCommand(commands[0] as LockCommand);
    const copy = Uint8Array.from(first);
    for (const command of commands) encodeCommand(command);
    expect(Uint8Array.from(first)).toEqual(copy);
    expect(decodeCommand(first)).toEqual(commands[0]);
  });

  test('an entry holding an unknown command type is a corrupt log (assertion)', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    expect(() => decodeCommand(packr.pack({ type: 'DropTables' }))).toThrow(AssertionError);
  });

  test('an entry that is not a command map is a corrupt log (assertion)', () => {
    const packr = new Packr({ useRecords: false, mapsAsObjects: true });
    expect(() => decodeCommand(packr.pack(42))).toThrow(AssertionError);
    expect(() => decodeCommand(packr.pack(null))).toThrow(AssertionError);
  });
});
