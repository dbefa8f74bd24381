// Lock commands inside log entries: msgpack bytes. The encoding is part of the durable format (LMDB
// holds these bytes), so it only ever gains fields; decoding validates the shape, and an entry that
// does not decode is a corrupt log, which is a crash, not a request error.

import { Packr } from 'msgpackr';
import { assert } from '../assert.js';
import type { LockCommand } from '../lock/lock-commands.js';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

export function encodeCommand(command: LockCommand): Uint8Array {
  return packr.pack(command);
}

const commandTypes: ReadonlySet<string> = new Set([
  'OpenSession',
  'CloseSession',
  'ExpireSession',
  'Acquire',
  'CancelWait',
  'Release',
  'ForceRelease',
  'Proclaim',
  'Noop',
]);

export function decodeCommand(data: Uint8Array): LockCommand {
  const command = packr.unpack(data) as LockCommand;
  assert(typeof command === 'object' && command !== null, 'a log entry holds a command map');
  assert(commandTypes.has(command.type), `a log entry holds a known command type, got ${String(command.type)}`);
  return command;
}
