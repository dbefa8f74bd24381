// Validation of a decoded client frame into a typed request. Everything from the network is
// untrusted: every op has a rule per argument (type, range, size), unknown ops and unknown
// arguments are refused, and each refusal carries the §5 code and names the offending field.

import { memberAddressProblem, memberIdProblem } from './member-address.js';
import { utf8ByteLength } from './utf8-length.js';
import { mutatingOperations, type ClientRequest, type OperationName } from './client-protocol.js';
import { protocolLimits } from './limits.js';
import { InvalidArgumentError, TooLargeError, type ServiceError } from './service-error.js';

type FieldRule =
  | {
      readonly type: 'string';
      readonly required: boolean;
      readonly maxBytes: number;
      readonly allowEmpty?: boolean;
      readonly lockName?: boolean;
      /** A further check of the value's shape (member ids, addresses): the problem, or undefined. */
      readonly problem?: (value: string) => string | undefined;
    }
  | { readonly type: 'integer'; readonly required: boolean; readonly min: number; readonly max: number }
  | { readonly type: 'boolean'; readonly required: boolean }
  | { readonly type: 'enum'; readonly required: boolean; readonly values: readonly string[] };

const sessionId: FieldRule = { type: 'string', required: true, maxBytes: 64 };
const lockName: FieldRule = { type: 'string', required: true, maxBytes: protocolLimits.maxLockNameBytes, lockName: true };
const token: FieldRule = { type: 'integer', required: true, min: 1, max: Number.MAX_SAFE_INTEGER };
const stale: FieldRule = { type: 'boolean', required: false };
const electionValue: FieldRule = { type: 'string', required: true, maxBytes: protocolLimits.maxElectionValueBytes, allowEmpty: true };
const memberId: FieldRule = { type: 'string', required: true, maxBytes: 64, problem: (value) => memberIdProblem(value) };
const memberAddress: FieldRule = { type: 'string', required: true, maxBytes: 300, problem: (value) => memberAddressProblem(value) };
const adminTimeoutMs: FieldRule = { type: 'integer', required: false, min: protocolLimits.minAdminTimeoutMs, max: protocolLimits.maxAdminTimeoutMs };
const logIndex: FieldRule = { type: 'integer', required: false, min: 0, max: Number.MAX_SAFE_INTEGER };

const argumentRules: { readonly [Op in OperationName]: Readonly<Record<string, FieldRule>> } = {
  'session.open': {
    ttlMs: { type: 'integer', required: false, min: protocolLimits.minSessionTtlMs, max: protocolLimits.maxSessionTtlMs },
    // The lock state machine stores client names under the rules of lock names (bar emptiness).
    name: { type: 'string', required: false, maxBytes: protocolLimits.maxClientNameBytes, allowEmpty: true, problem: (value) => textProblem(value) },
  },
  'session.keepalive': { sessionId },
  'session.close': { sessionId },
  'session.list': { stale },
  'lock.acquire': {
    sessionId,
    name: lockName,
    mode: { type: 'enum', required: true, values: ['wait', 'try'] },
    metadata: { type: 'string', required: false, maxBytes: protocolLimits.maxMetadataBytes, allowEmpty: true },
  },
  'lock.cancel': { sessionId, name: lockName },
  'lock.release': { sessionId, name: lockName, token },
  'lock.forceRelease': { name: lockName },
  'lock.get': { name: lockName, stale },
  'lock.list': {
    prefix: { type: 'string', required: false, maxBytes: protocolLimits.maxLockNameBytes, allowEmpty: true },
    limit: { type: 'integer', required: false, min: 1, max: protocolLimits.maxListLimit },
    stale,
  },
  'election.campaign': { sessionId, name: lockName, value: electionValue },
  'election.cancel': { sessionId, name: lockName },
  'election.proclaim': { sessionId, name: lockName, token, value: electionValue },
  'election.resign': { sessionId, name: lockName, token },
  'election.leader': { name: lockName, stale },
  'watch.start': {
    kind: { type: 'enum', required: false, values: ['lock', 'election'] },
    prefix: { type: 'string', required: true, maxBytes: protocolLimits.maxLockNameBytes, allowEmpty: true },
    fromIndex: { type: 'integer', required: false, min: 0, max: Number.MAX_SAFE_INTEGER },
  },
  'watch.cancel': { watchId: { type: 'string', required: true, maxBytes: 64 } },
  'cluster.status': {},
  'members.list': {},
  'members.add': { id: memberId, address: memberAddress, timeoutMs: adminTimeoutMs },
  'members.remove': { id: memberId, timeoutMs: adminTimeoutMs },
  'members.transferLeader': { id: { ...memberId, required: false }, timeoutMs: adminTimeoutMs },
  'snapshot.read': { chunk: { type: 'integer', required: true, min: 0, max: Number.MAX_SAFE_INTEGER }, index: logIndex },
};

/** Rules that span arguments, checked once each argument passed its own. */
const requestRules: { readonly [Op in OperationName]?: (args: Readonly<Record<string, unknown>>) => string | undefined } = {
  'snapshot.read': (args) => (args.chunk !== 0 && args.index === undefined ? 'argument "index" is required after chunk 0 (pass the index chunk 0 answered with)' : undefined),
};

/** A high surrogate not followed by a low one, or a low one not preceded by a high one (code units, no `u` flag). */
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Control characters (Unicode's Cc: C0, DEL and C1, since a terminal may act on U+009B or U+0085 in
 * a name the CLI prints), or a lone surrogate (such a name does not survive a UTF-8 round trip).
 * The lock state machine applies the same rules but C1 (its rule for committed entries predates it),
 * so this check is where a C1 name is refused, before it costs a log entry.
 */
function textProblem(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(text)) return 'must not contain control characters';
  if (loneSurrogate.test(text)) return 'must be well-formed Unicode (no lone surrogates)';
  return undefined;
}

/**
 * True when text takes more than maxBytes as UTF-8. A UTF-16 code unit takes 1 to 3 bytes (a pair,
 * 4 for two), so most strings are decided by their length alone, without a pass over them.
 */
function exceedsUtf8Bytes(text: string, maxBytes: number): boolean {
  if (text.length > maxBytes) return true;
  if (text.length * 3 <= maxBytes) return false;
  return utf8ByteLength(text) > maxBytes;
}

/** SPEC §4: 1–256 bytes of UTF-8, no control characters (and well-formed Unicode). */
export function lockNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'must not be empty';
  if (exceedsUtf8Bytes(name, protocolLimits.maxLockNameBytes)) return `must be at most ${protocolLimits.maxLockNameBytes} bytes of UTF-8`;
  return textProblem(name);
}

function checkField(op: string, field: string, rule: FieldRule, value: unknown): ServiceError | undefined {
  const where = `${op}: argument "${field}"`;
  switch (rule.type) {
    case 'string': {
      if (typeof value !== 'string') return new InvalidArgumentError(`${where} must be a string`);
      if (!rule.allowEmpty && value.length === 0 && !rule.lockName) return new InvalidArgumentError(`${where} must not be empty`);
      if (rule.lockName) {
        const problem = lockNameProblem(value);
        if (problem) return exceedsUtf8Bytes(value, rule.maxBytes) ? new TooLargeError(`${where} ${problem}`) : new InvalidArgumentError(`${where} ${problem}`);
        return undefined;
      }
      if (exceedsUtf8Bytes(value, rule.maxBytes)) return new TooLargeError(`${where} must be at most ${rule.maxBytes} bytes`);
      const problem = rule.problem?.(value);
      return problem === undefined ? undefined : new InvalidArgumentError(`${where} ${problem}`);
    }
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return new InvalidArgumentError(`${where} must be an integer`);
      if (value < rule.min || value > rule.max) return new InvalidArgumentError(`${where} must be between ${rule.min} and ${rule.max}`);
      return undefined;
    case 'boolean':
      return typeof value === 'boolean' ? undefined : new InvalidArgumentError(`${where} must be a boolean`);
    case 'enum':
      return typeof value === 'string' && rule.values.includes(value) ? undefined : new InvalidArgumentError(`${where} must be one of ${rule.values.join(', ')}`);
  }
}

export type ValidatedRequest = { readonly ok: true; readonly request: ClientRequest } | { readonly ok: false; readonly id: string | undefined; readonly error: ServiceError };

/**
 * A msgpack map as the codec decodes it. Not a Date, RegExp, Error, Set, typed array or msgpackr's
 * 0xC1 marker, which msgpackr also decodes to objects: taken for maps, they passed as empty
 * argument maps, and their inherited properties (an Error's name) were read as arguments.
 */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

export function isOperationName(value: unknown): value is OperationName {
  return typeof value === 'string' && Object.hasOwn(argumentRules, value);
}

export function isMutatingOperation(op: OperationName): boolean {
  return mutatingOperations.has(op);
}

/** Check a decoded frame; the id is returned even on failure when it is usable, so the error can be answered. */
export function validateRequest(frame: unknown): ValidatedRequest {
  if (!isPlainObject(frame)) return { ok: false, id: undefined, error: new InvalidArgumentError('a request must be a map with id, op and args') };
  const id = typeof frame.id === 'string' && frame.id.length > 0 && frame.id.length <= protocolLimits.maxRequestIdLength ? frame.id : undefined;
  if (id === undefined) return { ok: false, id: undefined, error: new InvalidArgumentError(`request "id" must be a string of 1–${protocolLimits.maxRequestIdLength} characters`) };
  for (const key of Object.keys(frame)) {
    if (key !== 'id' && key !== 'op' && key !== 'args') return { ok: false, id, error: new InvalidArgumentError(`unknown request field "${key}"`) };
  }
  if (!isOperationName(frame.op)) return { ok: false, id, error: new InvalidArgumentError(`unknown op ${JSON.stringify(String(frame.op)).slice(0, 80)}`) };
  const op = frame.op;
  const args = frame.args ?? {};
  if (!isPlainObject(args)) return { ok: false, id, error: new InvalidArgumentError(`${op}: "args" must be a map`) };
  const rules = argumentRules[op];
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(rules, key)) return { ok: false, id, error: new InvalidArgumentError(`${op}: unknown argument "${key}"`) };
  }
  // Only the fields we checked go on, and nil means absent (encoders in other languages send nil
  // for an unset optional field): handlers never see a null.
  const checked: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(rules)) {
    const value = args[field];
    if (value === undefined || value === null) {
      if (rule.required) return { ok: false, id, error: new InvalidArgumentError(`${op}: argument "${field}" is required`) };
      continue;
    }
    const problem = checkField(op, field, rule, value);
    if (problem) return { ok: false, id, error: problem };
    checked[field] = value;
  }
  const problem = requestRules[op]?.(checked);
  if (problem !== undefined) return { ok: false, id, error: new InvalidArgumentError(`${op}: ${problem}`) };
  return { ok: true, request: { id, op, args: checked } as ClientRequest };
}
