// Fuzzing a real raftlockd over real WebSockets (SPEC §5): generated requests for every op (with the
// oracle of request-arbitraries.ts) on a `client` and an `admin` connection, and raw frames —
// random bytes, mutated requests, deep nesting, text — each on a connection of its own. Checked:
// every reply carries a documented code, a planted fault gets exactly its code, an accepted request
// never answers INTERNAL, an undecodable frame closes with 1007/1009 and nothing else; after every
// batch a separate client still gets a linearizable read answered promptly; and at the end the member
// is alive and ready, its log holds no handler failure, and its connections are all gone.
// `pnpm fuzz` runs FUZZ_RUNS / 10 requests and FUZZ_RUNS / 50 raw frames here.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { encodeFrame, type OperationName } from '@raftlock/protocol';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { eventually } from '../sdk/sdk-test-helpers.js';
import { isReady, LocalCluster } from '../e2e/local-cluster.js';
import { documentedErrorCodes, fuzzParameters, fuzzRuns, fuzzTimeoutMs } from './fuzz-budget.js';
import { deeplyNestedFrame, edgeRequests, operationSpecs, requestArbitrary, type GeneratedRequest, type RequestContext } from './request-arbitraries.js';
import { WireConnection, type WireReply } from './wire-connection.js';

const tokens = { client: 'fuzz-client-token-0123456789', admin: 'fuzz-admin-token-0123456789' };
/** A client must get its read answered within this while the fuzz runs (a loaded 2-core machine). */
const promptReadMs = 3_000;
/** Membership changes would reconfigure the member under test; everything else is fuzzed as admin. */
const adminExcluded: ReadonlySet<string> = new Set(['members.add', 'members.remove', 'members.transferLeader']);
/** Ops that may wait without answering: a valid acquire or campaign can queue behind a holder. */
const mayPark: ReadonlySet<string> = new Set(['lock.acquire', 'election.campaign']);

let cluster: LocalCluster;
let address: string;
let observer: WireConnection;
let liveContext: RequestContext;
const stats = { requests: 0, rawFrames: 0, closed1007: 0, closed1009: 0, answered: 0, parked: 0, byCode: new Map<string, number>(), slowestReadMs: 0 };

beforeAll(async () => {
  cluster = await LocalCluster.start({
    size: 1,
    extraArgs: (rootDir) => {
      const file = join(rootDir, 'tokens');
      writeFileSync(file, `${tokens.client} client\n${tokens.admin} admin\n`);
      return ['--token-file', file];
    },
  });
  address = cluster.members[0]?.address as string;
  observer = await WireConnection.open(address, tokens.client);
  // Real sessions holding real locks, so that generated requests reach past "no such session".
  const setup = await WireConnection.open(address, tokens.client);
  const sessionIds: string[] = [];
  for (let position = 0; position < 3; position++) {
    const reply = await request(setup, 'session.open', { ttlMs: 300_000, name: `fuzz-${position}` });
    sessionIds.push(String((reply.result as { sessionId: string }).sessionId));
  }
  const lockNames = ['fuzz/held', 'fuzz/free', 'fuzz/election', 'fuzz/a/b'];
  await request(setup, 'lock.acquire', { sessionId: sessionIds[0], name: 'fuzz/held', mode: 'try' });
  await request(setup, 'election.campaign', { sessionId: sessionIds[0], name: 'fuzz/election', value: 'n1' });
  setup.close();
  liveContext = { sessionIds, lockNames, wellFormedOnly: true };
});

afterAll(async () => {
  observer?.close();
  console.log(
    `live-member fuzz: ${stats.requests} requests and ${stats.rawFrames} raw frames against a real member; ` +
      `${stats.answered} answered (${[...stats.byCode].sort().map(([code, count]) => `${code} ${count}`).join(', ')}), ${stats.parked} left waiting, ` +
      `${stats.closed1007} closed 1007, ${stats.closed1009} closed 1009; slowest read by another client ${stats.slowestReadMs.toFixed(0)} ms`,
  );
  await cluster?.stop();
});

let nextRequestId = 0;
async function request(connection: WireConnection, op: string, args: Record<string, unknown>): Promise<WireReply> {
  const id = `setup-${++nextRequestId}`;
  connection.send(encodeFrame({ id, op, args }));
  await connection.until(() => connection.replies.has(id), 10_000);
  const reply = connection.replies.get(id);
  if (reply === undefined || !reply.ok) throw new Error(`${op} failed: ${JSON.stringify(reply)}`);
  return reply;
}

/** Another client's linearizable read is answered, and promptly. */
async function expectMemberServesOthers(): Promise<void> {
  const id = `observe-${++nextRequestId}`;
  const startedMs = performance.now();
  observer.send(encodeFrame({ id, op: 'lock.get', args: { name: 'fuzz/held' } }));
  const answered = await observer.until(() => observer.replies.has(id), promptReadMs);
  const elapsedMs = performance.now() - startedMs;
  stats.slowestReadMs = Math.max(stats.slowestReadMs, elapsedMs);
  expect(answered, `another client's read was not answered within ${promptReadMs} ms`).toBe(true);
  expect(observer.replies.get(id)?.ok).toBe(true);
  observer.replies.delete(id);
}

function recordCode(reply: WireReply): void {
  const code = reply.ok ? 'OK' : (reply.error?.code ?? 'missing');
  stats.byCode.set(code, (stats.byCode.get(code) ?? 0) + 1);
  stats.answered += 1;
}

/** Send a batch of generated requests on one connection and hold every answer to its oracle. */
async function checkBatch(connection: WireConnection, batch: readonly GeneratedRequest[]): Promise<void> {
  const sent: { readonly id: string | undefined; readonly generated: GeneratedRequest }[] = [];
  for (const generated of batch) {
    const id = generated.idValid ? `fz-${++nextRequestId}` : undefined;
    const frame = id === undefined ? generated.frame : { ...(generated.frame as Record<string, unknown>), id };
    connection.send(encodeFrame(frame));
    sent.push({ id, generated });
  }
  stats.requests += batch.length;
  const anonymousBefore = connection.anonymousReplies.length;
  const anonymousExpected = sent.filter((entry) => entry.id === undefined).length;
  const mustAnswer = sent.filter((entry) => entry.id !== undefined && !(entry.generated.expected === 'valid' && mayPark.has(entry.generated.op)));
  await connection.until(() => mustAnswer.every((entry) => connection.replies.has(entry.id as string)) && connection.anonymousReplies.length - anonymousBefore >= anonymousExpected, 10_000);
  expect(connection.closeCode, 'a decodable frame never closes the connection').toBeUndefined();
  expect(connection.undecodable).toBe(0);
  for (const { id, generated } of sent) {
    if (id === undefined) continue;
    const reply = connection.replies.get(id);
    const where = `${generated.op} (${generated.fault})`;
    if (reply === undefined) {
      expect(generated.expected === 'valid' && mayPark.has(generated.op), `${where}: no answer`).toBe(true);
      stats.parked += 1;
      continue;
    }
    connection.replies.delete(id);
    recordCode(reply);
    if (!reply.ok) expect(documentedErrorCodes.has(reply.error?.code ?? ''), `${where}: ${JSON.stringify(reply.error)}`).toBe(true);
    if (generated.expected === 'valid') expect(reply.error?.code, `${where}: ${reply.error?.message}`).not.toBe('INTERNAL');
    else expect(reply.error?.code, `${where}: ${reply.error?.message}`).toBe(generated.expected);
  }
  const anonymous = connection.anonymousReplies.splice(anonymousBefore);
  expect(anonymous).toHaveLength(anonymousExpected);
  for (const reply of anonymous) {
    recordCode(reply);
    expect(reply.error?.code).toBe('INVALID_ARGUMENT');
  }
}

describe('a real member under generated requests', () => {
  test('every field of every op at its edges, as client and as admin', async () => {
    const asClient = await WireConnection.open(address, tokens.client);
    const asAdmin = await WireConnection.open(address, tokens.admin);
    const edges = edgeRequests(liveContext);
    await checkBatch(asClient, edges);
    await checkBatch(asAdmin, edges.filter((generated) => !adminExcluded.has(generated.op)));
    await expectMemberServesOthers();
    asClient.close();
    asAdmin.close();
  });

  const batches = fuzzRuns(15, 10 * 20);
  test(
    'random requests in batches: documented codes, the planted fault\'s exact code, never INTERNAL, others served',
    async () => {
      const clientOps = Object.keys(operationSpecs(liveContext)) as OperationName[];
      const adminOps = clientOps.filter((op) => !adminExcluded.has(op));
      // Fresh connections now and then: parked waits hold in-flight places until their connection goes.
      let asClient = await WireConnection.open(address, tokens.client);
      let asAdmin = await WireConnection.open(address, tokens.admin);
      let batchNumber = 0;
      await fc.assert(
        fc.asyncProperty(fc.boolean(), fc.array(requestArbitrary(liveContext, clientOps), { minLength: 1, maxLength: 40, size: 'max' }), fc.array(requestArbitrary(liveContext, adminOps), { minLength: 1, maxLength: 40, size: 'max' }), async (admin, clientBatch, adminBatch) => {
          if (++batchNumber % 50 === 0) {
            asClient.close();
            asAdmin.close();
            asClient = await WireConnection.open(address, tokens.client);
            asAdmin = await WireConnection.open(address, tokens.admin);
          }
          await (admin ? checkBatch(asAdmin, adminBatch) : checkBatch(asClient, clientBatch));
          await expectMemberServesOthers();
        }),
        fuzzParameters(batches),
      );
      asClient.close();
      asAdmin.close();
    },
    fuzzTimeoutMs(batches, 400, 120_000),
  );
});

type RawFrame = { readonly kind: string; readonly bytes: Uint8Array | string; readonly binary: boolean };

const readOps: OperationName[] = ['lock.get', 'lock.list', 'cluster.status', 'session.list', 'election.leader', 'members.list', 'watch.cancel'];

function rawFrameArbitrary(context: RequestContext): fc.Arbitrary<RawFrame> {
  const mutated = fc.tuple(requestArbitrary(context, readOps), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([generated, flips]): RawFrame => {
    const bytes = new Uint8Array(encodeFrame({ ...(generated.frame as Record<string, unknown>), id: 'raw' }));
    for (const [position, value] of flips) bytes[position % bytes.length] = value;
    return { kind: 'mutated', bytes, binary: true };
  });
  return fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((bytes): RawFrame => ({ kind: 'random bytes', bytes, binary: true })) },
    { weight: 4, arbitrary: mutated },
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 100, max: 400_000 }), fc.boolean()).map(([depth, asMaps]): RawFrame => ({ kind: 'deep nesting', bytes: deeplyNestedFrame(depth, asMaps), binary: true })) },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text): RawFrame => ({ kind: 'text frame', bytes: text, binary: false })) },
  );
}

describe('a real member under raw frames', () => {
  test('oversize frames close with 1009, text frames with 1007, a huge lock name is TOO_LARGE, __proto__ keys pollute nothing', async () => {
    const oversize = await WireConnection.open(address, tokens.client);
    oversize.send(new Uint8Array(1024 * 1024 + 1));
    await oversize.until(() => false, 5_000);
    expect(oversize.closeCode).toBe(1009);
    const oversizeRequest = await WireConnection.open(address, tokens.client);
    oversizeRequest.send(encodeFrame({ id: 'big', op: 'lock.get', args: { name: 'x'.repeat(2 * 1024 * 1024) } }));
    await oversizeRequest.until(() => false, 5_000);
    expect(oversizeRequest.closeCode).toBe(1009);

    const connection = await WireConnection.open(address, tokens.client);
    connection.send(encodeFrame({ id: 'huge-name', op: 'lock.get', args: { name: 'n'.repeat(900_000) } }));
    // {id: "proto", op: "lock.get", args: {"__proto__": {name: "fuzz/held"}}}, written byte by byte (a
    // JavaScript object cannot hold that key to encode): refused, and no object prototype gains a name.
    const utf8 = (text: string) => new TextEncoder().encode(text);
    connection.send(new Uint8Array([0x83, 0xa2, ...utf8('id'), ...encodeFrame('proto'), 0xa2, ...utf8('op'), ...encodeFrame('lock.get'), 0xa4, ...utf8('args'), 0x81, 0xa9, ...utf8('__proto__'), ...encodeFrame({ name: 'fuzz/held' })]));
    connection.send(encodeFrame({ id: 'no-name', op: 'lock.get', args: {} }));
    await connection.until(() => ['huge-name', 'proto', 'no-name'].every((id) => connection.replies.has(id)), 5_000);
    expect(connection.replies.get('huge-name')?.error?.code).toBe('TOO_LARGE');
    expect(connection.replies.get('proto')?.error?.code).toBe('INVALID_ARGUMENT');
    expect(connection.replies.get('no-name')?.error?.message).toMatch(/"name" is required/);
    connection.send('{"id":"json","op":"cluster.status","args":{}}', false);
    await connection.until(() => false, 5_000);
    expect(connection.closeCode).toBe(1007);
    await expectMemberServesOthers();
  });

  const frames = fuzzRuns(150, 50);
  test(
    'random bytes, mutated requests, deep nesting and text: an answer with a documented code, or a close with 1007/1009',
    async () => {
      await fc.assert(
        fc.asyncProperty(rawFrameArbitrary(liveContext), async (frame) => {
          const connection = await WireConnection.open(address, tokens.client);
          connection.send(frame.bytes, frame.binary);
          // A frame is answered (one reply, possibly under "") or the connection is closed.
          await connection.until(() => connection.replies.size + connection.anonymousReplies.length > 0, 5_000);
          stats.rawFrames += 1;
          const replies = [...connection.replies.values(), ...connection.anonymousReplies];
          if (replies.length > 0) {
            for (const reply of replies) {
              recordCode(reply);
              if (!reply.ok) expect(documentedErrorCodes.has(reply.error?.code ?? ''), `${frame.kind}: ${JSON.stringify(reply.error)}`).toBe(true);
              expect(reply.error?.code, frame.kind).not.toBe('INTERNAL');
            }
          } else {
            expect([1007, 1009], `${frame.kind}: closed with ${connection.closeCode}`).toContain(connection.closeCode);
            if (connection.closeCode === 1007) stats.closed1007 += 1;
            else stats.closed1009 += 1;
          }
          expect(connection.undecodable).toBe(0);
          connection.close();
          if (stats.rawFrames % 25 === 0) await expectMemberServesOthers();
        }),
        fuzzParameters(frames),
      );
      await expectMemberServesOthers();
    },
    fuzzTimeoutMs(frames, 30, 120_000),
  );
});

describe('after the fuzz', () => {
  test('the member is alive and ready, logged no handler failure, and holds only the observer connection', async () => {
    const member = cluster.members[0];
    expect(member?.process?.exitCode ?? null).toBeNull();
    expect(await isReady(address)).toBe(true);
    for (const failure of ['client frame handler failed', 'unexpected error', 'fatal', 'uncaught', 'unhandled']) expect(member?.output.toLowerCase()).not.toContain(failure);
    await eventually(
      async () => {
        const metrics = await (await fetch(`http://${address}/metrics`)).text();
        return /^raftlock_client_connections 1$/m.test(metrics);
      },
      10_000,
      'every fuzz connection closed on the member (only the observer left)',
    );
  });
});
