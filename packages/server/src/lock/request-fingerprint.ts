// requestFingerprint: what makes two commands under one request id the same request, as a number
// the dedupe table keeps beside the result (SPEC §3.4). A retry carries the same fields and is
// answered from the table; a different request that reused a spent id differs in one of them and is
// refused, instead of being answered with a result that was never its own (a grant of another lock,
// a session it did not open, a release that did not happen).
//
// The leader that proposes a command computes it and writes it into the entry (withFingerprint);
// the state machine only reads it from there (fingerprintOf). So members running this version keep
// the same number for an entry whatever snapshot they restarted from, and entries already in logs
// and snapshots keep theirs. One gap is left: a member of an older version applies such entries
// without keeping the number, and its snapshots have none for them; until those entries are evicted
// from the dedupe table, a different request reusing one of their ids gets the old answer (the
// first request's result) from that member, where the others refuse it. Lock and session state never
// differ; upgrade every member before relying on the refusal.
//
// The fields are those that say what the request is about: its type, session, lock, mode, token and
// values, after the leader filled in defaults (session.open's TTL: a protocol constant). FROZEN: a
// retry proposed by a leader of another version must get the same number, so the field list, their
// order, the defaults and the hash may only change together with a new field name in the entry.
// leaderTimeMs is left out: the leader stamps it anew when a retry is proposed again. Lock metadata
// is left out too: it only describes the holder, and hashing up to 1 KiB per acquire is not worth
// catching a reuse that already differs in nothing else.
//
// FNV-1a over UTF-16 code units, each field preceded by its length so that fields cannot run into
// each other; 30 bits, so V8 keeps it as a small integer. Two different requests collide with
// probability 2^-30, and are then answered by id as before fingerprints (the API's shape checks
// still catch most of those).

import { assertNever } from '../assert.js';
import type { ClientCommand } from './lock-commands.js';

/** The command as the leader proposes it: with its fingerprint in the entry. */
export function withFingerprint<Command extends ClientCommand>(command: Command): Command {
  return { ...command, fingerprint: requestFingerprint(command) };
}

/** An entry's fingerprint, or undefined when it has none (proposed by an older leader) or no valid one. */
export function fingerprintOf(command: ClientCommand): number | undefined {
  const { fingerprint } = command;
  return typeof fingerprint === 'number' && isFingerprint(fingerprint) ? fingerprint : undefined;
}

/** A 30-bit whole number: what requestFingerprint returns, and what V8 keeps as a small integer. */
export function isFingerprint(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value < 2 ** 30;
}

const fnvOffsetBasis = 0x811c9dc5;
const fnvPrime = 0x01000193;

export function requestFingerprint(command: ClientCommand): number {
  let hash = mix(fnvOffsetBasis, command.type);
  switch (command.type) {
    case 'OpenSession':
      hash = mix(mix(hash, String(command.ttlMs)), command.clientName);
      break;
    case 'CloseSession':
      hash = mix(hash, command.sessionId);
      break;
    case 'Acquire':
      hash = mix(mix(mix(mix(mix(hash, command.sessionId), command.kind), command.name), command.mode), command.value);
      break;
    case 'CancelWait':
      hash = mix(mix(mix(hash, command.sessionId), command.kind), command.name);
      break;
    case 'Release':
      hash = mix(mix(mix(mix(hash, command.sessionId), command.kind), command.name), String(command.token));
      break;
    case 'ForceRelease':
      hash = mix(mix(hash, command.kind), command.name);
      break;
    case 'Proclaim':
      hash = mix(mix(mix(mix(hash, command.sessionId), command.name), String(command.token)), command.value);
      break;
    default:
      return assertNever(command, 'unknown client command');
  }
  return hash >>> 2;
}

function mix(hash: number, field: string): number {
  let next = Math.imul(hash ^ field.length, fnvPrime);
  for (let position = 0; position < field.length; position++) next = Math.imul(next ^ field.charCodeAt(position), fnvPrime);
  return next >>> 0;
}
