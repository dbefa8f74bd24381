// The lock state machine's snapshot bytes: its serialize() object as plain msgpack (no records
// extension, so every snapshot decodes on its own). What a follower receives from a leader and what
// a backup file carries; LockStateMachine.restore checks the shape and the invariants on the way in.

import { Packr } from 'msgpackr';
import { defaultLockLimits } from '../lock/lock-commands.js';
import { LockStateMachine, type LockSnapshot } from '../lock/lock-state-machine.js';
import type { StateMachineCodec } from './raft-driver.js';

const snapshotPackr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export const lockSnapshotCodec: StateMachineCodec = {
  encode: (stateMachine) => snapshotPackr.pack(stateMachine.serialize()),
  decode: (data) => LockStateMachine.restore(snapshotPackr.unpack(data) as LockSnapshot, defaultLockLimits),
};
