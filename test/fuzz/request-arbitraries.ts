// fast-check generators of client requests (SPEC §5) with an oracle: each generated request says
// whether the protocol must accept it, or which code it must be refused with. The rules are restated
// here from SPEC §4–§5 and docs/protocol.md, independently of validate-request.ts, so a validator
// that drifts from the contract fails the fuzz. `operationSpecs` names every op (the Record over
// OperationName makes a new op fail to compile until it is described here).
//
// A request has at most one deliberate fault (a bad id, op, argument map, unknown argument, missing
// required argument, or one argument with a wrong type, out of range, too large or malformed), so the
// expected code is exact. `anythingRequestArbitrary` adds requests built from arbitrary values, for
// which only "never throws, and a documented code" can be asked.

import fc from 'fast-check';
import { protocolLimits, type OperationName } from '@raftlock/protocol';

export type RefusalCode = 'INVALID_ARGUMENT' | 'TOO_LARGE';

export interface Refusal {
  readonly value: unknown;
  readonly code: RefusalCode;
}

interface FieldSpec {
  readonly required: boolean;
  readonly valid: fc.Arbitrary<unknown>;
  readonly invalid: fc.Arbitrary<Refusal>;
  /** The values at the field's bounds, each side: swept one by one (a random draw rarely hits them). */
  readonly edges: { readonly valid: readonly unknown[]; readonly invalid: readonly Refusal[] };
}

/** What the generators may use to reach deeper than "no such session": live sessions and lock names. */
export interface RequestContext {
  readonly sessionIds: readonly string[];
  readonly lockNames: readonly string[];
  /** Well-formed strings only (no lone surrogates): what survives a msgpack round trip unchanged. */
  readonly wellFormedOnly: boolean;
}

export interface GeneratedRequest {
  readonly op: string;
  /** The frame to send; `id` is left out when `idValid` (the sender gives each request a unique one). */
  readonly frame: Record<string, unknown> | unknown;
  readonly idValid: boolean;
  /** 'valid': the protocol must accept it; otherwise the code it must be refused with. */
  readonly expected: 'valid' | RefusalCode;
  /** Which fault was planted (for failure messages and statistics). */
  readonly fault: string;
}

const utf8 = new TextEncoder();
export const byteLength = (text: string): number => utf8.encode(text).byteLength;

// ---- strings -------------------------------------------------------------------------------------

const asciiUnit = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_/.:@ '.split(''));
const wideUnits = fc.constantFrom('é', 'ß', 'я', '中', '文', '🔒', '𝄞', '\u{10ffff}', '\u00a0', '\u2028');
const controlUnits = fc.constantFrom('\u0000', '\u0001', '\n', '\t', '\u001f', '\u007f', '\u0080', '\u0085', '\u009b', '\u009f');
const loneSurrogates = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff');

/** A string of at most maxBytes UTF-8 bytes, well-formed; with `control`, control characters may appear. */
function textUpTo(maxBytes: number, options: { minBytes?: number; control?: boolean } = {}): fc.Arbitrary<string> {
  const unit = options.control === true ? fc.oneof({ weight: 6, arbitrary: asciiUnit }, { weight: 2, arbitrary: wideUnits }, { weight: 1, arbitrary: controlUnits }) : fc.oneof({ weight: 3, arbitrary: asciiUnit }, { weight: 1, arbitrary: wideUnits });
  const built = fc.array(unit, { maxLength: Math.min(maxBytes, 300) }).map((units) => {
    let text = '';
    for (const piece of units) {
      if (byteLength(text + piece) > maxBytes) break;
      text += piece;
    }
    return text;
  });
  // Exactly at the limit, in one-, two- and four-byte characters.
  const atLimit = fc.constantFrom('a'.repeat(maxBytes), 'é'.repeat(Math.floor(maxBytes / 2)), '🔒'.repeat(Math.floor(maxBytes / 4)));
  const minBytes = options.minBytes ?? 0;
  return fc.oneof({ weight: 8, arbitrary: built }, { weight: 1, arbitrary: atLimit }).map((text) => (byteLength(text) < minBytes ? 'x'.repeat(minBytes) : text));
}

/** Well-formed text over maxBytes bytes: just over, a multi-byte just over, or huge. */
function textOver(maxBytes: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constant('x'.repeat(maxBytes + 1)),
    fc.integer({ min: maxBytes + 1, max: maxBytes * 3 }).map((length) => 'x'.repeat(length)),
    fc.constant('é'.repeat(Math.floor(maxBytes / 2) + 1)),
    fc.constant('🔒'.repeat(Math.floor(maxBytes / 4) + 1)),
    fc.integer({ min: 10_000, max: 200_000 }).map((length) => 'n'.repeat(length)),
  );
}

/** A value of any msgpack-encodable type but string (null is "absent" and never generated here). */
const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 3 }),
  fc.uint8Array({ maxLength: 8 }),
);
const notANumber = fc.oneof(fc.string({ maxLength: 8 }), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }), fc.uint8Array({ maxLength: 4 }));
const notABoolean = fc.oneof(fc.integer(), fc.string({ maxLength: 6 }), fc.constantFrom('true', 'false', 0, 1), fc.array(fc.boolean(), { maxLength: 2 }));

const refuse = (code: RefusalCode) => (value: unknown): Refusal => ({ value, code });

// ---- fields ---------------------------------------------------------------------------------------

/** A free-form string of 1..maxBytes (ids): empty is malformed, longer is too large. */
function boundedId(maxBytes: number, valid: fc.Arbitrary<string>, required = true): FieldSpec {
  return {
    required,
    valid,
    invalid: fc.oneof(fc.constant('').map(refuse('INVALID_ARGUMENT')), textOver(maxBytes).map(refuse('TOO_LARGE')), notAString.map(refuse('INVALID_ARGUMENT'))),
    edges: {
      valid: ['x', 'x'.repeat(maxBytes), 'é'.repeat(maxBytes / 2), '\u0000'],
      invalid: [refuse('INVALID_ARGUMENT')(''), refuse('TOO_LARGE')('x'.repeat(maxBytes + 1)), refuse('TOO_LARGE')('é'.repeat(maxBytes / 2 + 1)), refuse('INVALID_ARGUMENT')(7), refuse('INVALID_ARGUMENT')(true)],
    },
  };
}

/** A string of 0..maxBytes, any content (metadata, values, prefixes). */
function boundedText(maxBytes: number, required: boolean, wellFormedOnly: boolean): FieldSpec {
  const valid = wellFormedOnly ? textUpTo(maxBytes, { control: true }) : fc.oneof(textUpTo(maxBytes, { control: true }), loneSurrogates);
  return {
    required,
    valid,
    invalid: fc.oneof(textOver(maxBytes).map(refuse('TOO_LARGE')), notAString.map(refuse('INVALID_ARGUMENT'))),
    edges: {
      valid: ['', 'x'.repeat(maxBytes), '🔒'.repeat(maxBytes / 4), 'tab\tnew\nline'],
      invalid: [refuse('TOO_LARGE')('x'.repeat(maxBytes + 1)), refuse('TOO_LARGE')('🔒'.repeat(maxBytes / 4) + 'x'), refuse('INVALID_ARGUMENT')(1), refuse('INVALID_ARGUMENT')([])],
    },
  };
}

/** A lock or election name (SPEC §4): 1–256 bytes, no control characters, well-formed. */
function lockNameField(context: RequestContext): FieldSpec {
  const fresh = textUpTo(protocolLimits.maxLockNameBytes, { minBytes: 1 });
  const valid = context.lockNames.length === 0 ? fresh : fc.oneof(fresh, fc.constantFrom(...context.lockNames));
  const malformed: fc.Arbitrary<string>[] = [
    fc.constant(''),
    fc.tuple(textUpTo(100), controlUnits, textUpTo(100)).map(([before, control, after]) => before + control + after),
  ];
  if (!context.wellFormedOnly) malformed.push(fc.tuple(textUpTo(100), loneSurrogates, asciiUnit).map(([before, lone, after]) => before + lone + after));
  return {
    required: true,
    valid,
    invalid: fc.oneof(
      fc.oneof(...malformed).map(refuse('INVALID_ARGUMENT')),
      // Too large wins over malformed: the size is checked first.
      fc.oneof(textOver(protocolLimits.maxLockNameBytes), fc.constant(`${'\n'.repeat(300)}`)).map(refuse('TOO_LARGE')),
      notAString.map(refuse('INVALID_ARGUMENT')),
    ),
    edges: {
      valid: ['a', 'x'.repeat(256), 'é'.repeat(128), '🔒'.repeat(64), 'orders/42', ' ', '\u00a0'],
      invalid: [
        refuse('INVALID_ARGUMENT')(''),
        refuse('INVALID_ARGUMENT')('a\u0000'),
        refuse('INVALID_ARGUMENT')('a\u007f'),
        refuse('INVALID_ARGUMENT')('\u001f'),
        refuse('INVALID_ARGUMENT')('\u0080'),
        refuse('INVALID_ARGUMENT')('a\u009f'),
        refuse('TOO_LARGE')('x'.repeat(257)),
        refuse('TOO_LARGE')('é'.repeat(129)),
        refuse('TOO_LARGE')('🔒'.repeat(64) + 'x'),
        refuse('INVALID_ARGUMENT')(256),
        ...(context.wellFormedOnly ? [] : [refuse('INVALID_ARGUMENT')('\ud800'), refuse('INVALID_ARGUMENT')('a\udc00b')]),
      ],
    },
  };
}

/** A client name: 0–128 bytes, no control characters, well-formed (the state machine's rules). */
function clientNameField(context: RequestContext): FieldSpec {
  const malformed: fc.Arbitrary<string>[] = [fc.tuple(textUpTo(50), controlUnits).map(([before, control]) => before + control)];
  if (!context.wellFormedOnly) malformed.push(fc.tuple(textUpTo(50), loneSurrogates).map(([before, lone]) => before + lone));
  return {
    required: false,
    valid: textUpTo(protocolLimits.maxClientNameBytes),
    invalid: fc.oneof(fc.oneof(...malformed).map(refuse('INVALID_ARGUMENT')), textOver(protocolLimits.maxClientNameBytes).map(refuse('TOO_LARGE')), notAString.map(refuse('INVALID_ARGUMENT'))),
    edges: {
      valid: ['', 'x'.repeat(128), 'é'.repeat(64), 'worker 3'],
      invalid: [refuse('TOO_LARGE')('x'.repeat(129)), refuse('INVALID_ARGUMENT')('a\n'), refuse('INVALID_ARGUMENT')(0), ...(context.wellFormedOnly ? [] : [refuse('INVALID_ARGUMENT')('\udfff')])],
    },
  };
}

/** A safe integer in [min, max]. */
function integerField(min: number, max: number, required: boolean): FieldSpec {
  const outside: fc.Arbitrary<number>[] = [fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, -(2 ** 53), 1e300)];
  // One past each bound, by name: a uniform draw would rarely land there.
  if (min > Number.MIN_SAFE_INTEGER) outside.push(fc.constant(min - 1), fc.integer({ min: Math.max(Number.MIN_SAFE_INTEGER, min - 1_000_000), max: min - 1 }));
  if (max < Number.MAX_SAFE_INTEGER) outside.push(fc.constant(max + 1), fc.integer({ min: max + 1, max: Math.min(Number.MAX_SAFE_INTEGER, max + 1_000_000) }));
  const fractional = fc.double({ min: Math.max(min, -1e9), max: Math.min(max, 1e9), noNaN: true }).filter((value) => !Number.isInteger(value));
  return {
    required,
    valid: fc.oneof(fc.integer({ min, max: Math.min(max, 2 ** 31 - 1) }), fc.constantFrom(min, max, min + 1, max - 1)),
    invalid: fc.oneof(fc.oneof(...outside), fractional, notANumber).map(refuse('INVALID_ARGUMENT')),
    edges: {
      valid: [min, max, min + 1, max - 1],
      invalid: [min - 1, max + 1, min + 0.5, Number.NaN, Number.POSITIVE_INFINITY, String(min), true].map(refuse('INVALID_ARGUMENT')),
    },
  };
}

function enumField(values: readonly string[], required: boolean): FieldSpec {
  return {
    required,
    valid: fc.constantFrom(...values),
    invalid: fc.oneof(fc.string({ maxLength: 8 }).filter((value) => !values.includes(value)), fc.constantFrom(...values.map((value) => value.toUpperCase()), `${values[0]} `), notAString).map(refuse('INVALID_ARGUMENT')),
    edges: { valid: values, invalid: ['', values[0]?.toUpperCase(), 0, ['wait']].map(refuse('INVALID_ARGUMENT')) },
  };
}

const booleanField: FieldSpec = {
  required: false,
  valid: fc.boolean(),
  invalid: notABoolean.map(refuse('INVALID_ARGUMENT')),
  edges: { valid: [true, false], invalid: [0, 1, 'true', ''].map(refuse('INVALID_ARGUMENT')) },
};

/** [a-z0-9-]{1,32}; ≤ 64 bytes before the pattern is even checked. */
function memberIdField(required: boolean): FieldSpec {
  return {
    required,
    valid: fc.stringMatching(/^[a-z0-9-]{1,32}$/),
    invalid: fc.oneof(
      fc.oneof(fc.constantFrom('', 'N1', 'n_1', 'n 1', 'ñ1', 'x'.repeat(33), 'n1\n'), fc.string({ minLength: 1, maxLength: 20 }).filter((value) => !/^[a-z0-9-]{1,32}$/.test(value) && byteLength(value) <= 64), notAString).map(refuse('INVALID_ARGUMENT')),
      textOver(64).map(refuse('TOO_LARGE')),
    ),
    edges: {
      valid: ['n', 'x'.repeat(32), 'n-4', '0'],
      invalid: [...['', 'x'.repeat(33), 'N4', 'n_4', 'n4 '].map(refuse('INVALID_ARGUMENT')), refuse('TOO_LARGE')('x'.repeat(65))],
    },
  };
}

/** host:port with a port in 1–65535; ≤ 300 bytes. */
const memberAddressField: FieldSpec = {
  required: true,
  valid: fc.tuple(fc.oneof(fc.ipV4(), fc.domain(), fc.constant('[::1]')), fc.integer({ min: 1, max: 65535 })).map(([host, port]) => `${host}:${port}`),
  invalid: fc.oneof(
    fc.oneof(fc.constantFrom('', 'h', ':1', 'h:0', 'h:65536', 'ws://h:1', 'h:1 ', 'a b:1', 'h:123456'), notAString).map(refuse('INVALID_ARGUMENT')),
    textOver(300).map(refuse('TOO_LARGE')),
  ),
  edges: {
    valid: ['h:1', 'h:65535', '[::1]:7070', '10.0.0.4:7070', `${'a'.repeat(290)}:65535`],
    invalid: [...['h:0', 'h:65536', 'h', ':1', 'ws://h:1', ''].map(refuse('INVALID_ARGUMENT')), refuse('TOO_LARGE')(`${'a'.repeat(295)}:65535`)],
  },
};

const maxSafe = Number.MAX_SAFE_INTEGER;

export function operationSpecs(context: RequestContext): { readonly [Op in OperationName]: Readonly<Record<string, FieldSpec>> } {
  const sessionIdValid = context.sessionIds.length === 0 ? textUpTo(64, { minBytes: 1, control: true }) : fc.oneof(textUpTo(64, { minBytes: 1, control: true }), fc.constantFrom(...context.sessionIds));
  const sessionId = boundedId(64, sessionIdValid);
  const name = lockNameField(context);
  const token = integerField(1, maxSafe, true);
  const stale = booleanField;
  const value = boundedText(protocolLimits.maxElectionValueBytes, true, context.wellFormedOnly);
  const timeoutMs = integerField(protocolLimits.minAdminTimeoutMs, protocolLimits.maxAdminTimeoutMs, false);
  return {
    'session.open': { ttlMs: integerField(protocolLimits.minSessionTtlMs, protocolLimits.maxSessionTtlMs, false), name: clientNameField(context) },
    'session.keepalive': { sessionId },
    'session.close': { sessionId },
    'session.list': { stale },
    'lock.acquire': { sessionId, name, mode: enumField(['wait', 'try'], true), metadata: boundedText(protocolLimits.maxMetadataBytes, false, context.wellFormedOnly) },
    'lock.cancel': { sessionId, name },
    'lock.release': { sessionId, name, token },
    'lock.forceRelease': { name },
    'lock.get': { name, stale },
    'lock.list': { prefix: boundedText(protocolLimits.maxLockNameBytes, false, context.wellFormedOnly), limit: integerField(1, protocolLimits.maxListLimit, false), stale },
    'election.campaign': { sessionId, name, value },
    'election.cancel': { sessionId, name },
    'election.proclaim': { sessionId, name, token, value },
    'election.resign': { sessionId, name, token },
    'election.leader': { name, stale },
    'watch.start': { kind: enumField(['lock', 'election'], false), prefix: boundedText(protocolLimits.maxLockNameBytes, true, context.wellFormedOnly), fromIndex: integerField(0, maxSafe, false) },
    'watch.cancel': { watchId: boundedId(64, textUpTo(64, { minBytes: 1 })) },
    'cluster.status': {},
    'members.list': {},
    'members.add': { id: memberIdField(true), address: memberAddressField, timeoutMs },
    'members.remove': { id: memberIdField(true), timeoutMs },
    'members.transferLeader': { id: memberIdField(false), timeoutMs },
    'snapshot.read': { chunk: integerField(0, maxSafe, true), index: integerField(0, maxSafe, false) },
  };
}

// ---- whole requests -------------------------------------------------------------------------------

type FieldPlan = { readonly kind: 'absent' } | { readonly kind: 'null' } | { readonly kind: 'valid'; readonly value: unknown };

function fieldPlan(spec: FieldSpec): fc.Arbitrary<FieldPlan> {
  const present = spec.valid.map((value): FieldPlan => ({ kind: 'valid', value }));
  if (spec.required) return present;
  return fc.oneof({ weight: 3, arbitrary: present }, { weight: 1, arbitrary: fc.constant<FieldPlan>({ kind: 'absent' }) }, { weight: 1, arbitrary: fc.constant<FieldPlan>({ kind: 'null' }) });
}

type Fault =
  | { readonly kind: 'none' }
  | { readonly kind: 'field'; readonly field: string; readonly refusal: Refusal }
  | { readonly kind: 'missing'; readonly field: string; readonly asNull: boolean }
  | { readonly kind: 'unknownArgument'; readonly key: string }
  | { readonly kind: 'argsNotAMap'; readonly args: unknown }
  | { readonly kind: 'badId'; readonly id: unknown }
  | { readonly kind: 'unknownOp'; readonly op: unknown }
  | { readonly kind: 'extraTopLevel'; readonly key: string };

/**
 * Keys a plain object cannot hold as its own by assignment (`__proto__` sets the prototype); the
 * wire tests send such keys in hand-made msgpack instead.
 */
const ownKey = (key: string) => key !== '__proto__';

function faultArbitrary(op: OperationName, specs: Readonly<Record<string, FieldSpec>>, opNames: ReadonlySet<string>): fc.Arbitrary<Fault> {
  const fields = Object.keys(specs);
  const required = fields.filter((field) => specs[field]?.required === true);
  const choices: fc.Arbitrary<Fault>[] = [
    fc.constant<Fault>({ kind: 'none' }),
    fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !Object.hasOwn(specs, key) && ownKey(key)).map((key): Fault => ({ kind: 'unknownArgument', key })),
    fc.oneof(fc.array(fc.integer(), { maxLength: 2 }), fc.string({ maxLength: 5 }), fc.integer(), fc.boolean(), fc.uint8Array({ maxLength: 4 })).map((args): Fault => ({ kind: 'argsNotAMap', args })),
    fc.oneof(fc.constant(''), fc.constant('i'.repeat(protocolLimits.maxRequestIdLength + 1)), fc.integer(), fc.boolean(), fc.array(fc.string(), { maxLength: 2 }), fc.constant(null)).map((id): Fault => ({ kind: 'badId', id })),
    fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('constructor', 'toString', 'hasOwnProperty', `${op}x`, op.toUpperCase()), fc.integer(), fc.constant(null)).filter((badOp) => !opNames.has(String(badOp)) || typeof badOp !== 'string').map((badOp): Fault => ({ kind: 'unknownOp', op: badOp })),
    fc.string({ minLength: 1, maxLength: 8 }).filter((key) => !['id', 'op', 'args'].includes(key) && ownKey(key)).map((key): Fault => ({ kind: 'extraTopLevel', key })),
  ];
  for (const field of fields) {
    const spec = specs[field] as FieldSpec;
    choices.push(spec.invalid.map((refusal): Fault => ({ kind: 'field', field, refusal })));
  }
  for (const field of required) choices.push(fc.boolean().map((asNull): Fault => ({ kind: 'missing', field, asNull })));
  // Faults in arguments are most of the interest; a third of the requests carry none.
  return fc.oneof({ weight: 2, arbitrary: fc.constant<Fault>({ kind: 'none' }) }, { weight: 4, arbitrary: fc.oneof(...choices) });
}

/** Whether a request with all its arguments valid is still refused for a rule across arguments. */
function crossArgumentRefusal(op: string, args: Readonly<Record<string, unknown>>): RefusalCode | undefined {
  if (op === 'snapshot.read' && args.chunk !== 0 && (args.index === undefined || args.index === null)) return 'INVALID_ARGUMENT';
  return undefined;
}

function buildRequest(op: OperationName, specs: Readonly<Record<string, FieldSpec>>, plans: Readonly<Record<string, FieldPlan>>, fault: Fault): GeneratedRequest {
  const args: Record<string, unknown> = {};
  for (const [field, plan] of Object.entries(plans)) {
    if (plan.kind === 'valid') args[field] = plan.value;
    else if (plan.kind === 'null') args[field] = null;
  }
  let expected: 'valid' | RefusalCode = 'valid';
  let frame: Record<string, unknown> = { op, args };
  let idValid = true;
  switch (fault.kind) {
    case 'none':
      expected = crossArgumentRefusal(op, args) ?? 'valid';
      break;
    case 'field':
      args[fault.field] = fault.refusal.value;
      expected = fault.refusal.code;
      break;
    case 'missing':
      if (fault.asNull) args[fault.field] = null;
      else delete args[fault.field];
      expected = 'INVALID_ARGUMENT';
      break;
    case 'unknownArgument':
      args[fault.key] = 1;
      expected = 'INVALID_ARGUMENT';
      break;
    case 'argsNotAMap':
      frame = { op, args: fault.args };
      expected = 'INVALID_ARGUMENT';
      break;
    case 'badId':
      frame = { id: fault.id, op, args };
      idValid = false;
      expected = 'INVALID_ARGUMENT';
      break;
    case 'unknownOp':
      frame = { op: fault.op, args };
      expected = 'INVALID_ARGUMENT';
      break;
    case 'extraTopLevel':
      frame = { op, args, [fault.key]: true };
      expected = 'INVALID_ARGUMENT';
      break;
  }
  assertPlanned(specs, fault);
  return { op, frame, idValid, expected, fault: fault.kind === 'field' ? `field ${fault.field}` : fault.kind };
}

function assertPlanned(specs: Readonly<Record<string, FieldSpec>>, fault: Fault): void {
  if ((fault.kind === 'field' || fault.kind === 'missing') && !Object.hasOwn(specs, fault.field)) throw new Error(`fault names an unknown field ${fault.field}`);
}

/** One request for one of `ops` (default: every op), with at most one planted fault and its oracle. */
export function requestArbitrary(context: RequestContext, ops?: readonly OperationName[]): fc.Arbitrary<GeneratedRequest> {
  const allSpecs = operationSpecs(context);
  const opNames: ReadonlySet<string> = new Set(Object.keys(allSpecs));
  const names = ops ?? (Object.keys(allSpecs) as OperationName[]);
  return fc.constantFrom(...names).chain((op) => {
    const specs = allSpecs[op];
    const plans = fc.record(Object.fromEntries(Object.entries(specs).map(([field, spec]) => [field, fieldPlan(spec)])) as Record<string, fc.Arbitrary<FieldPlan>>);
    return fc.tuple(plans, faultArbitrary(op, specs, opNames)).map(([fieldPlans, fault]) => buildRequest(op, specs, fieldPlans, fault));
  });
}

/**
 * Every field of every op at each of its edges, one at a time, the other arguments at a valid edge
 * (required ones) or absent: the sweep that catches an off-by-one a random draw would miss.
 */
export function edgeRequests(context: RequestContext): GeneratedRequest[] {
  const requests: GeneratedRequest[] = [];
  for (const [op, specs] of Object.entries(operationSpecs(context))) {
    const base: Record<string, unknown> = {};
    for (const [field, spec] of Object.entries(specs)) if (spec.required) base[field] = spec.edges.valid[0];
    for (const [field, spec] of Object.entries(specs)) {
      for (const value of spec.edges.valid) {
        const args = { ...base, [field]: value };
        requests.push({ op, frame: { op, args }, idValid: true, expected: crossArgumentRefusal(op, args) ?? 'valid', fault: `edge ${field} (valid)` });
      }
      for (const refusal of spec.edges.invalid) requests.push({ op, frame: { op, args: { ...base, [field]: refusal.value } }, idValid: true, expected: refusal.code, fault: `edge ${field} (invalid)` });
      if (spec.required) {
        const { [field]: _omitted, ...without } = base;
        requests.push({ op, frame: { op, args: without }, idValid: true, expected: 'INVALID_ARGUMENT', fault: `edge ${field} (missing)` });
      }
    }
  }
  return requests;
}

/** Anything at all where a request or its arguments go: only "never throws, documented code" holds. */
export function anythingRequestArbitrary(ops: readonly string[]): fc.Arbitrary<unknown> {
  const anything = fc.anything({ maxDepth: 4, maxKeys: 6, withBigInt: true, withTypedArray: true, withNullPrototype: true, withMap: true, withSet: true, withDate: true, withBoxedValues: true, withSparseArray: true });
  return fc.oneof(
    anything,
    fc.record({ id: fc.string({ maxLength: 10 }), op: fc.constantFrom(...ops), args: anything }),
    fc.record({ id: fc.string({ maxLength: 10 }), op: fc.constantFrom(...ops), args: fc.dictionary(fc.constantFrom('sessionId', 'name', 'mode', 'token', 'ttlMs', 'prefix', 'limit', 'stale', 'value', 'metadata', 'kind', 'fromIndex', 'watchId', 'id', 'address', 'timeoutMs', 'chunk', 'index'), anything) }),
  );
}

/** Nested arrays (or maps) `depth` deep: msgpack bytes a recursive decoder could overflow on. */
export function deeplyNestedFrame(depth: number, asMaps: boolean): Uint8Array {
  const bytes = new Uint8Array(asMaps ? depth * 2 + 1 : depth + 1);
  if (asMaps) {
    for (let level = 0; level < depth; level++) {
      bytes[level * 2] = 0x81; // fixmap of one entry
      bytes[level * 2 + 1] = 0xa0; // its key: the empty string
    }
  } else {
    bytes.fill(0x91, 0, depth); // fixarray of one element
  }
  bytes[bytes.length - 1] = 0xc0; // nil at the bottom
  return bytes;
}
