// WsPeerTransport end to end: real ws servers on 127.0.0.1:0, one http server per member routing
// /v1/raft upgrades to its transport, raw ws clients for what a real member never sends.

import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { asLogIndex, asNodeId, asTerm, type NodeId } from '../ids.js';
import type { Message } from '../raft/messages.js';
import type { Logger } from '../raft/ports.js';
import { encodePeerFrame } from './peer-codec.js';
import { peerHandshakeHeaders } from './peer-handshake.js';
import { WsPeerTransport, type WsPeerTransportLimits } from './ws-peer-transport.js';

const clusterId = 'test-cluster';
const secret = 'correct horse battery staple';
const limits: WsPeerTransportLimits = { maxQueuedMessagesPerPeer: 256, maxFrameBytes: 64 * 1024, reconnectBackoffMinMs: 10, reconnectBackoffMaxMs: 80 };

interface LogLine {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

/** A logger that keeps every line, so tests can look for warnings and for leaked secrets. */
function capturingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (fields: Record<string, unknown>, message: string) => lines.push({ level, fields, message });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

interface Member {
  readonly nodeId: NodeId;
  readonly server: Server;
  address: string;
  transport: WsPeerTransport | undefined;
  readonly received: Message[];
  readonly logs: LogLine[];
}

const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  // Reverse order: transports before the servers they are attached to.
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups.length = 0;
});

/** An HTTP server on 127.0.0.1:0 that routes /v1/raft upgrades to the member's transport once it has one. */
async function listeningMember(id: string): Promise<Member> {
  const server = createServer((_request, response) => response.writeHead(404).end());
  const member: Member = { nodeId: asNodeId(id), server, address: '', transport: undefined, received: [], logs: [] };
  server.on('upgrade', (request, socket, head) => {
    if (member.transport === undefined) socket.destroy();
    else member.transport.handleUpgrade(request, socket, head);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  member.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return member;
}

async function stopListening(member: Member): Promise<void> {
  await new Promise<void>((resolve) => member.server.close(() => resolve()));
}

/** Listen again on the member's old port: the peer "comes up" at the address others already dial. */
async function resumeListening(member: Member): Promise<void> {
  const port = Number(member.address.split(':')[1]);
  member.server.listen(port, '127.0.0.1');
  await once(member.server, 'listening');
}

function startTransport(member: Member, peers: readonly Member[], overrides: { peerSecret?: string | undefined; clusterId?: string; limits?: WsPeerTransportLimits } = {}): WsPeerTransport {
  const transport = new WsPeerTransport({
    nodeId: member.nodeId,
    clusterId: overrides.clusterId ?? clusterId,
    peers: new Map(peers.filter((peer) => peer !== member).map((peer) => [peer.nodeId, peer.address])),
    peerSecret: 'peerSecret' in overrides ? overrides.peerSecret : secret,
    tls: undefined,
    onMessage: (message) => member.received.push(message),
    logger: capturingLogger(member.logs),
    limits: overrides.limits ?? limits,
  });
  member.transport = transport;
  cleanups.push(() => transport.close());
  return transport;
}

async function cluster(ids: readonly string[]): Promise<Member[]> {
  const members = await Promise.all(ids.map((id) => listeningMember(id)));
  for (const member of members) startTransport(member, members);
  return members;
}

function transportOf(member: Member): WsPeerTransport {
  if (member.transport === undefined) throw new Error(`${member.nodeId} has no transport`);
  return member.transport;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function connected(members: readonly Member[], peerCount: number): Promise<void> {
  await waitFor(() => members.every((member) => transportOf(member).stats().connectedPeers === peerCount), 'members to connect');
}

const sleep = (milliseconds: number) => new Promise((resolve) => setTimeout(resolve, milliseconds));

function everyMessageType(fromId: NodeId, toId: NodeId): Message[] {
  const envelope = { from: fromId, to: toId, term: asTerm(7) };
  const bytes = Uint8Array.from({ length: 300 }, (_unused, position) => (position * 37) % 256);
  return [
    { ...envelope, type: 'RequestVote', preVote: true, leadershipTransfer: false, lastLogIndex: asLogIndex(41), lastLogTerm: asTerm(6) },
    { ...envelope, type: 'RequestVoteResponse', preVote: false, voteGranted: true },
    {
      ...envelope,
      type: 'AppendEntries',
      prevLogIndex: asLogIndex(41),
      prevLogTerm: asTerm(6),
      entries: [
        { kind: 'noop', index: asLogIndex(42), term: asTerm(7) },
        { kind: 'command', index: asLogIndex(43), term: asTerm(7), data: bytes },
        { kind: 'command', index: asLogIndex(44), term: asTerm(7), data: new Uint8Array() },
      ],
      leaderCommit: asLogIndex(40),
    },
    { ...envelope, type: 'AppendEntriesResponse', success: false, matchIndex: asLogIndex(41), conflictTerm: asTerm(5), conflictIndex: asLogIndex(30) },
    { ...envelope, type: 'AppendEntriesResponse', success: true, matchIndex: asLogIndex(44), conflictTerm: undefined, conflictIndex: asLogIndex(0) },
    { ...envelope, type: 'Heartbeat', leaderCommit: asLogIndex(44), round: 12 },
    { ...envelope, type: 'HeartbeatResponse', round: 12 },
    { ...envelope, type: 'TimeoutNow', lastLogIndex: asLogIndex(44) },
  ];
}

function heartbeat(fromId: NodeId, toId: NodeId, round: number): Message {
  return { type: 'Heartbeat', from: fromId, to: toId, term: asTerm(1), leaderCommit: asLogIndex(0), round };
}

type DialResult = { readonly kind: 'open'; readonly socket: WebSocket } | { readonly kind: 'refused'; readonly status: number };

/** A hand-driven peer connection, to send what a real member never would. */
function rawSocket(target: Member, path: string, headers: Record<string, string>): WebSocket {
  const socket = new WebSocket(`ws://${target.address}${path}`, { headers });
  cleanups.push(async () => {
    if (socket.readyState === WebSocket.CLOSED) return;
    const closed = once(socket, 'close');
    socket.terminate();
    await closed;
  });
  return socket;
}

/** Resolves with the open socket, or with the HTTP status ws reports for a refused upgrade. */
async function dialRaw(target: Member, headers: Record<string, string>, path = '/v1/raft'): Promise<DialResult> {
  const socket = rawSocket(target, path, headers);
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ kind: 'open', socket }));
    socket.on('error', (error) => {
      const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
      if (status === undefined) reject(error);
      else resolve({ kind: 'refused', status: Number(status) });
    });
  });
}

async function dialRawOpen(target: Member, claimedId: string): Promise<WebSocket> {
  const result = await dialRaw(target, peerHandshakeHeaders({ nodeId: asNodeId(claimedId), clusterId, peerSecret: secret }));
  if (result.kind !== 'open') throw new Error(`raw dial refused with ${result.status}`);
  return result.socket;
}

function closeCode(socket: WebSocket): Promise<number> {
  return new Promise((resolve) => socket.once('close', (code) => resolve(code)));
}

describe('WsPeerTransport delivery', () => {
  test('three members exchange every message type with byte-exact command data, in order', async () => {
    const members = await cluster(['n1', 'n2', 'n3']);
    await connected(members, 2);
    for (const sender of members) {
      const outgoing = members.filter((peer) => peer !== sender).flatMap((peer) => everyMessageType(sender.nodeId, peer.nodeId));
      transportOf(sender).send(outgoing);
    }
    await waitFor(() => members.every((member) => member.received.length === 16), 'every message to arrive');
    for (const receiver of members) {
      for (const sender of members.filter((peer) => peer !== receiver)) {
        const fromSender = receiver.received.filter((message) => message.from === sender.nodeId);
        expect(fromSender).toStrictEqual(everyMessageType(sender.nodeId, receiver.nodeId));
      }
      expect(transportOf(receiver).stats()).toMatchObject({ droppedMessages: 0, invalidFrames: 0, queuedMessages: 0 });
    }
  });

  test('messages sent to one peer within one event-loop turn leave as exactly one frame', async () => {
    const [first, second] = await cluster(['n1', 'n2']);
    if (first === undefined || second === undefined) throw new Error('two members');
    await connected([first, second], 1);
    const framesSentBefore = transportOf(first).stats().framesSent;
    const framesReceivedBefore = transportOf(second).stats().framesReceived;
    // Three send() calls, including one after a microtask, all in the same turn.
    transportOf(first).send([heartbeat(first.nodeId, second.nodeId, 1), heartbeat(first.nodeId, second.nodeId, 2)]);
    transportOf(first).send([heartbeat(first.nodeId, second.nodeId, 3)]);
    await Promise.resolve();
    transportOf(first).send(Array.from({ length: 47 }, (_unused, position) => heartbeat(first.nodeId, second.nodeId, 4 + position)));
    expect(transportOf(first).stats().queuedMessages).toBe(50);
    await waitFor(() => second.received.length === 50, '50 heartbeats');
    expect(transportOf(first).stats().framesSent - framesSentBefore).toBe(1);
    expect(transportOf(second).stats().framesReceived - framesReceivedBefore).toBe(1);
    expect(second.received.map((message) => (message.type === 'Heartbeat' ? message.round : -1))).toStrictEqual(Array.from({ length: 50 }, (_unused, position) => position + 1));
  });

  test('a batch larger than maxFrameBytes is split across frames and still delivered in order', async () => {
    const [first, second] = await cluster(['n1', 'n2']);
    if (first === undefined || second === undefined) throw new Error('two members');
    await connected([first, second], 1);
    const append = (index: number): Message => ({
      type: 'AppendEntries',
      from: first.nodeId,
      to: second.nodeId,
      term: asTerm(2),
      prevLogIndex: asLogIndex(index - 1),
      prevLogTerm: asTerm(2),
      entries: [{ kind: 'command', index: asLogIndex(index), term: asTerm(2), data: new Uint8Array(20_000).fill(index) }],
      leaderCommit: asLogIndex(0),
    });
    transportOf(first).send(Array.from({ length: 10 }, (_unused, position) => append(position + 1)));
    await waitFor(() => second.received.length === 10, 'ten appends');
    expect(transportOf(first).stats().framesSent).toBeGreaterThanOrEqual(4);
    expect(second.received.map((message) => (message.type === 'AppendEntries' ? message.prevLogIndex + 1 : -1))).toStrictEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  test('a single message larger than maxFrameBytes is dropped, counted and logged as an error', async () => {
    const [first, second] = await cluster(['n1', 'n2']);
    if (first === undefined || second === undefined) throw new Error('two members');
    await connected([first, second], 1);
    const data = new Uint8Array(limits.maxFrameBytes);
    transportOf(first).send([
      { type: 'AppendEntries', from: first.nodeId, to: second.nodeId, term: asTerm(1), prevLogIndex: asLogIndex(0), prevLogTerm: asTerm(0), entries: [{ kind: 'command', index: asLogIndex(1), term: asTerm(1), data }], leaderCommit: asLogIndex(0) },
      heartbeat(first.nodeId, second.nodeId, 1),
    ]);
    await waitFor(() => second.received.length === 1, 'the heartbeat');
    expect(second.received[0]?.type).toBe('Heartbeat');
    expect(transportOf(first).stats().droppedMessages).toBe(1);
    expect(first.logs.some((line) => line.level === 'error' && line.message.includes('larger than maxFrameBytes'))).toBe(true);
  });
});

describe('WsPeerTransport with peers down', () => {
  test('messages to a peer that is down are dropped and counted, and delivery resumes once it comes up', async () => {
    const members = await Promise.all(['n1', 'n2'].map((id) => listeningMember(id)));
    const [first, second] = members;
    if (first === undefined || second === undefined) throw new Error('two members');
    await stopListening(second);
    startTransport(first, members);
    await waitFor(() => first.logs.some((line) => line.level === 'warn' && line.message.includes('peer connection failed')), 'a refused dial');
    transportOf(first).send([heartbeat(first.nodeId, second.nodeId, 1), heartbeat(first.nodeId, second.nodeId, 2)]);
    expect(transportOf(first).stats()).toMatchObject({ connectedPeers: 0, queuedMessages: 0, droppedMessages: 2, framesSent: 0 });
    expect(first.logs.some((line) => line.level === 'warn' && line.message.includes('peer connection failed'))).toBe(true);

    await resumeListening(second);
    startTransport(second, members);
    await connected([first], 1);
    transportOf(first).send([heartbeat(first.nodeId, second.nodeId, 3)]);
    await waitFor(() => second.received.length === 1, 'delivery after reconnect');
    expect(second.received[0]).toMatchObject({ type: 'Heartbeat', round: 3 });
  });

  test('a peer that connects to us is dialled back at once, not after our reconnect backoff', async () => {
    const members = await Promise.all(['n1', 'n2'].map((id) => listeningMember(id)));
    const [first, second] = members;
    if (first === undefined || second === undefined) throw new Error('two members');
    await stopListening(second);
    const slowBackoff = { ...limits, reconnectBackoffMinMs: 20_000, reconnectBackoffMaxMs: 20_000 };
    startTransport(first, members, { limits: slowBackoff });
    await waitFor(() => first.logs.some((line) => line.message.includes('peer connection failed')), 'a refused dial');
    await resumeListening(second);
    startTransport(second, members);
    // second dials first; first's own link to second would otherwise wait 20 s to retry.
    await connected([first, second], 1);
    transportOf(first).send([heartbeat(first.nodeId, second.nodeId, 1)]);
    await waitFor(() => second.received.length === 1, 'delivery over the redialled link');
  });

  test('the send queue stays bounded under a flood, whether the peer is down or up', async () => {
    const members = await Promise.all(['n1', 'n2', 'n3'].map((id) => listeningMember(id)));
    const [first, second, third] = members;
    if (first === undefined || second === undefined || third === undefined) throw new Error('three members');
    await stopListening(third);
    startTransport(first, members);
    startTransport(second, members);
    await connected([first], 1);

    const floodSize = 50_000;
    transportOf(first).send(Array.from({ length: floodSize }, (_unused, round) => heartbeat(first.nodeId, third.nodeId, round)));
    expect(transportOf(first).stats()).toMatchObject({ queuedMessages: 0, droppedMessages: floodSize });

    transportOf(first).send(Array.from({ length: floodSize }, (_unused, round) => heartbeat(first.nodeId, second.nodeId, round)));
    expect(transportOf(first).stats().queuedMessages).toBe(limits.maxQueuedMessagesPerPeer);
    expect(transportOf(first).stats().droppedMessages).toBe(2 * floodSize - limits.maxQueuedMessagesPerPeer);
    await waitFor(() => second.received.length === limits.maxQueuedMessagesPerPeer, 'the queued messages');
    await sleep(20);
    expect(second.received).toHaveLength(limits.maxQueuedMessagesPerPeer);
  });

  test('close() with an unreachable peer returns promptly and leaves no sockets or timers behind', async () => {
    const members = await Promise.all(['n1', 'n2'].map((id) => listeningMember(id)));
    const [first, second] = members;
    if (first === undefined || second === undefined) throw new Error('two members');
    await stopListening(second);
    const handlesBefore = process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap').length;
    const transport = startTransport(first, members);
    await sleep(40); // mid-backoff: a reconnect timer or a dial is pending
    const startedMs = performance.now();
    await transport.close();
    // Promptly: not held until a pending dial's handshake times out (5 s). close() itself takes a few
    // event-loop turns; the bound leaves room for a loaded machine, which 100 ms did not.
    expect(performance.now() - startedMs).toBeLessThan(1_000);
    transport.send([heartbeat(first.nodeId, second.nodeId, 1)]); // after close: dropped, not thrown
    await sleep(limits.reconnectBackoffMaxMs + 20);
    expect(process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap').length).toBeLessThanOrEqual(handlesBefore);
  });

  test('removing a peer from the address book closes its link and drops its messages', async () => {
    const members = await cluster(['n1', 'n2']);
    const [first, second] = members;
    if (first === undefined || second === undefined) throw new Error('two members');
    await connected(members, 1);
    transportOf(first).setPeers(new Map());
    await waitFor(() => transportOf(second).stats().connectedPeers === 0, 'n2 to lose its link to n1'); // n1 now refuses n2's redials
    transportOf(first).send([heartbeat(first.nodeId, second.nodeId, 1)]);
    expect(transportOf(first).stats()).toMatchObject({ connectedPeers: 0, droppedMessages: 1 });
    await waitFor(() => second.logs.some((line) => line.message.includes('peer connection failed')), 'n2 to be refused');
  });
});

describe('WsPeerTransport handshake', () => {
  test('a wrong or missing secret is refused with 401, delivers nothing and is never logged', async () => {
    const members = await Promise.all(['n1', 'n2'].map((id) => listeningMember(id)));
    const [first, second] = members;
    if (first === undefined || second === undefined) throw new Error('two members');
    startTransport(second, members);
    const wrongSecret = 'not-the-secret-at-all';
    startTransport(first, members, { peerSecret: wrongSecret });

    const wrong = await dialRaw(second, peerHandshakeHeaders({ nodeId: first.nodeId, clusterId, peerSecret: wrongSecret }));
    expect(wrong).toMatchObject({ kind: 'refused', status: 401 });
    const missing = await dialRaw(second, peerHandshakeHeaders({ nodeId: first.nodeId, clusterId, peerSecret: undefined }));
    expect(missing).toMatchObject({ kind: 'refused', status: 401 });

    for (let round = 0; round < 10; round += 1) {
      transportOf(first).send([heartbeat(first.nodeId, second.nodeId, round)]);
      await sleep(10);
    }
    await waitFor(() => first.logs.some((line) => line.message.includes('peer connection failed') && String(line.fields['error']).includes('401')), "n1's dial refused");
    expect(second.received).toHaveLength(0);
    expect(transportOf(first).stats().connectedPeers).toBe(0);
    expect(second.logs.some((line) => line.level === 'warn' && line.fields['status'] === 401)).toBe(true);
    expect(first.logs.some((line) => line.message.includes('peer connection failed') && String(line.fields['error']).includes('401'))).toBe(true);
    const everyLogLine = JSON.stringify([...first.logs, ...second.logs]);
    expect(everyLogLine).not.toContain(secret);
    expect(everyLogLine).not.toContain(wrongSecret);
  });

  test('an unknown node id, our own id or another cluster id is refused with 403', async () => {
    const members = await cluster(['n1', 'n2']);
    const [first] = members;
    if (first === undefined) throw new Error('a member');
    for (const [nodeId, claimedCluster] of [
      ['n9', clusterId],
      ['n1', clusterId],
      ['n2', 'other-cluster'],
    ] as const) {
      const result = await dialRaw(first, peerHandshakeHeaders({ nodeId: asNodeId(nodeId), clusterId: claimedCluster, peerSecret: secret }));
      expect(result).toMatchObject({ kind: 'refused', status: 403 });
    }
    const otherCluster = await listeningMember('n3');
    startTransport(otherCluster, [otherCluster, first], { clusterId: 'other-cluster' });
    transportOf(otherCluster).send([heartbeat(otherCluster.nodeId, first.nodeId, 1)]);
    await waitFor(() => otherCluster.logs.some((line) => String(line.fields['error']).includes('403')), 'the refusal');
    expect(first.received).toHaveLength(0);
  });

  test('an upgrade for another path is refused with 404', async () => {
    const [first] = await cluster(['n1']);
    if (first === undefined) throw new Error('a member');
    const result = await dialRaw(first, peerHandshakeHeaders({ nodeId: asNodeId('n2'), clusterId, peerSecret: secret }), '/v1/other');
    expect(result).toMatchObject({ kind: 'refused', status: 404 });
  });
});

describe('WsPeerTransport inbound validation', () => {
  async function twoUpOneDown(): Promise<Member[]> {
    const members = await Promise.all(['n1', 'n2', 'n3'].map((id) => listeningMember(id)));
    const [first, second, third] = members;
    if (first === undefined || second === undefined || third === undefined) throw new Error('three members');
    await stopListening(third); // n3 is in the address book but down: a raw client speaks as n3
    startTransport(first, members);
    startTransport(second, members);
    await connected([first, second], 1);
    return members;
  }

  test('a malformed frame closes that connection with 1007 while the member keeps serving others', async () => {
    const [first, second] = await twoUpOneDown();
    if (first === undefined || second === undefined) throw new Error('two members');
    const impostor = await dialRawOpen(second, 'n3');
    const closed = closeCode(impostor);
    impostor.send(Buffer.from([0xc1, 0xff, 0x00, 0x13])); // 0xc1 is never valid msgpack
    expect(await closed).toBe(1007);
    expect(transportOf(second).stats().invalidFrames).toBe(1);
    expect(second.logs.some((line) => line.level === 'warn' && line.message.includes('invalid peer frame'))).toBe(true);

    const wrongShape = await dialRawOpen(second, 'n3');
    const wrongShapeClosed = closeCode(wrongShape);
    wrongShape.send(encodePeerFrame([{ ...heartbeat(asNodeId('n3'), second.nodeId, 1), round: -1 } as Message]));
    expect(await wrongShapeClosed).toBe(1007);

    const text = await dialRawOpen(second, 'n3');
    const textClosed = closeCode(text);
    text.send('hello');
    expect(await textClosed).toBe(1003);

    expect(second.received).toHaveLength(0);
    transportOf(first).send([heartbeat(first.nodeId, second.nodeId, 1)]);
    await waitFor(() => second.received.length === 1, 'n1 still delivers to n2');
  });

  test('a frame over maxFrameBytes closes the connection with 1009', async () => {
    const [, second] = await twoUpOneDown();
    if (second === undefined) throw new Error('a member');
    const impostor = await dialRawOpen(second, 'n3');
    const closed = closeCode(impostor);
    impostor.send(Buffer.alloc(limits.maxFrameBytes + 1));
    expect(await closed).toBe(1009);
    expect(transportOf(second).stats().invalidFrames).toBe(1);
    expect(second.received).toHaveLength(0);
  });

  test('messages not addressed to us or not from the authenticated peer are dropped and counted', async () => {
    const [first, second] = await twoUpOneDown();
    if (first === undefined || second === undefined) throw new Error('two members');
    const impostor = await dialRawOpen(second, 'n3');
    const third = asNodeId('n3');
    impostor.send(encodePeerFrame([heartbeat(first.nodeId, second.nodeId, 1), heartbeat(third, first.nodeId, 2), heartbeat(third, second.nodeId, 3)]));
    await waitFor(() => second.received.length === 1, 'the one well-addressed message');
    expect(second.received[0]).toMatchObject({ from: 'n3', to: 'n2', round: 3 });
    expect(transportOf(second).stats()).toMatchObject({ droppedMessages: 2, invalidFrames: 0 });
    expect(impostor.readyState).toBe(WebSocket.OPEN);
  });
});
