// The fault proxy on its own, with a plain WebSocket server standing in for a member: it tells
// callers apart by their upgrade headers, stalls a cut link and releases it in order on healing,
// drops whole data frames (never control frames), delays without reordering, and resets.

import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { SeededRandom } from '@raftlock/server/testing';
import { sleep } from '../e2e/local-cluster.js';
import { emptyProxyCounters, FaultProxy } from './fault-proxy.js';
import { LinkConditions } from './link-conditions.js';

interface Harness {
  readonly proxy: FaultProxy;
  readonly conditions: LinkConditions;
  readonly received: string[];
  readonly counters: ReturnType<typeof emptyProxyCounters>;
  connect(headers: Record<string, string>, path?: string): Promise<WebSocket>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startHarness(): Promise<Harness> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const received: string[] = [];
  server.on('connection', (socket) => socket.on('message', (data: Buffer) => received.push(data.toString())));
  const conditions = new LinkConditions();
  const counters = emptyProxyCounters();
  const proxy = await FaultProxy.start({
    memberId: 'n1',
    target: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    conditions,
    clientIdOfToken: (token) => (token === 'secret-c1' ? 'c1' : undefined),
    random: new SeededRandom(7),
    counters,
  });
  const sockets: WebSocket[] = [];
  cleanups.push(async () => {
    for (const socket of sockets) socket.terminate();
    await proxy.close();
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });
  return {
    proxy,
    conditions,
    received,
    counters,
    async connect(headers, path = '/v1/raft') {
      const socket = new WebSocket(`ws://${proxy.address}${path}`, { headers });
      sockets.push(socket);
      await once(socket, 'open');
      return socket;
    },
  };
}

async function eventually(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadlineMs = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadlineMs) throw new Error('condition not met in time');
    await sleep(10);
  }
}

test('a cut link stalls a peer\'s frames and releases them in order when it heals; other links keep flowing', async () => {
  const harness = await startHarness();
  const fromN2 = await harness.connect({ 'x-raftlock-node': 'n2' });
  const fromN3 = await harness.connect({ 'x-raftlock-node': 'n3' });
  const faultId = harness.conditions.add({ kind: 'cut', links: [{ from: 'n2', to: 'n1' }] });
  for (const message of ['a', 'b', 'c']) fromN2.send(`n2:${message}`);
  fromN3.send('n3:x');
  await eventually(() => harness.received.includes('n3:x'));
  await sleep(100);
  expect(harness.received).toEqual(['n3:x']);
  harness.conditions.remove(faultId);
  await eventually(() => harness.received.length === 4);
  expect(harness.received).toEqual(['n3:x', 'n2:a', 'n2:b', 'n2:c']);
  expect(harness.counters.framesHeldByCut).toBe(3);
});

test('a cut link holds back a new connection\'s upgrade until it heals', async () => {
  const harness = await startHarness();
  const faultId = harness.conditions.add({ kind: 'cut', links: [{ from: 'n2', to: 'n1' }] });
  const socket = new WebSocket(`ws://${harness.proxy.address}/v1/raft`, { headers: { 'x-raftlock-node': 'n2' } });
  cleanups.push(async () => socket.terminate());
  let opened = false;
  socket.once('open', () => (opened = true));
  await sleep(200);
  expect(opened).toBe(false);
  harness.conditions.remove(faultId);
  await eventually(() => opened);
});

test('random drops discard whole data frames of the faulted link only, and never its pings', async () => {
  const harness = await startHarness();
  const fromN2 = await harness.connect({ 'x-raftlock-node': 'n2' });
  const fromClient = await harness.connect({ authorization: 'Bearer secret-c1' }, '/v1/client');
  harness.conditions.add({ kind: 'drop', links: [{ from: 'n2', to: 'n1' }], dropRate: 1 });
  let pongs = 0;
  fromN2.on('pong', () => pongs++);
  for (let count = 0; count < 20; count++) fromN2.send(`n2:${count}`);
  fromN2.ping();
  fromClient.send('c1:hello');
  await eventually(() => pongs === 1 && harness.received.includes('c1:hello'));
  await sleep(100);
  expect(harness.received).toEqual(['c1:hello']);
  expect(harness.counters.framesDroppedAtRandom).toBe(20);
});

test('a delayed link delivers late but in order, and a client is told apart by its token', async () => {
  const harness = await startHarness();
  const fromClient = await harness.connect({ authorization: 'Bearer secret-c1' }, '/v1/client');
  harness.conditions.add({ kind: 'delay', links: [{ from: 'c1', to: 'n1' }], delayMs: 150, jitterMs: 100 });
  const sentAtMs = performance.now();
  for (let count = 0; count < 10; count++) fromClient.send(`c1:${count}`);
  await eventually(() => harness.received.length === 10);
  expect(performance.now() - sentAtMs).toBeGreaterThanOrEqual(140);
  expect(harness.received).toEqual(Array.from({ length: 10 }, (_, count) => `c1:${count}`));
});

test('a connection nobody is identified on (plain HTTP) passes untouched by a cut of every named link', async () => {
  const harness = await startHarness();
  harness.conditions.add({ kind: 'cut', links: [{ from: 'n2', to: 'n1' }, { from: 'c1', to: 'n1' }] });
  const socket = await harness.connect({}, '/anything');
  socket.send('anonymous');
  await eventually(() => harness.received.includes('anonymous'));
});

test('a reset tears down the picked callers\' connections', async () => {
  const harness = await startHarness();
  const fromN2 = await harness.connect({ 'x-raftlock-node': 'n2' });
  const fromN3 = await harness.connect({ 'x-raftlock-node': 'n3' });
  const closed = once(fromN2, 'close');
  expect(harness.proxy.resetConnections((caller) => caller === 'n2')).toBe(1);
  await closed;
  expect(fromN3.readyState).toBe(WebSocket.OPEN);
});

test('a caller that connects and goes away before sending a whole HTTP head leaves nothing behind', async () => {
  const harness = await startHarness();
  const [host, port] = harness.proxy.address.split(':') as [string, string];
  const socket = connect(Number(port), host);
  await once(socket, 'connect');
  socket.end('GET /v1/raft HTTP/1.1\r\n');
  await once(socket, 'close');
  expect(harness.counters.connections).toBe(0);
});
