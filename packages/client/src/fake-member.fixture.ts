// FakeMember: a scripted stand-in for one raftlockd member on /v1/client, for the SDK's unit tests.
// It speaks the real frame codec; each test decides, per request, what to answer (or not to).
// cluster.status is answered "leader" unless the script says otherwise. Not part of the build.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { connect, type Client } from './client.js';
import { decodeFrame, encodeFrame, type ClientRequest, type ClusterStatus, type GoAwayNotice, type ServerPush, type WireError } from '@raftlock/protocol';

export interface ReceivedRequest {
  readonly request: ClientRequest;
  readonly socket: WebSocket;
  /** performance.now() at receipt (same process as the SDK under test). */
  readonly receivedAtMs: number;
}

export type Script = (received: ReceivedRequest, member: FakeMember) => void;

export class FakeMember {
  readonly received: ReceivedRequest[] = [];
  readonly sockets = new Set<WebSocket>();
  role: ClusterStatus['role'] = 'leader';
  leaderAddress: string | null = null;
  script: Script = () => undefined;
  /** When set, an upgrade without `authorization: Bearer <token>` is refused with HTTP 401. */
  requiredToken: string | undefined;
  readonly authorizations: (string | undefined)[] = [];

  private constructor(
    private readonly httpServer: Server,
    private readonly wsServer: WebSocketServer,
    readonly address: string,
  ) {
    wsServer.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('message', (data: Buffer) => {
        const request = decodeFrame(data) as ClientRequest;
        const received = { request, socket, receivedAtMs: performance.now() };
        if (request.op === 'cluster.status' && request.id.startsWith('probe-')) {
          this.reply(received, { ok: true, result: this.status() });
          return;
        }
        this.received.push(received);
        this.script(received, this);
      });
    });
  }

  static async start(): Promise<FakeMember> {
    const httpServer = createServer();
    const wsServer = new WebSocketServer({ noServer: true });
    const holder: { member?: FakeMember } = {};
    httpServer.on('upgrade', (request, socket, head) => {
      const member = holder.member as FakeMember;
      member.authorizations.push(request.headers.authorization);
      if (member.requiredToken !== undefined && request.headers.authorization !== `Bearer ${member.requiredToken}`) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
        return;
      }
      wsServer.handleUpgrade(request, socket, head, (webSocket) => wsServer.emit('connection', webSocket, request));
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    const port = (httpServer.address() as AddressInfo).port;
    holder.member = new FakeMember(httpServer, wsServer, `127.0.0.1:${port}`);
    return holder.member;
  }

  status(): ClusterStatus {
    return {
      nodeId: 'fake',
      address: this.address,
      role: this.role === 'leader' ? 'leader' : 'follower',
      leaderId: this.role === 'leader' ? 'fake' : this.leaderAddress === null ? null : 'other',
      leaderAddress: this.role === 'leader' ? this.address : this.leaderAddress,
      term: 1,
      commitIndex: 1,
      appliedIndex: 1,
      lastIndex: 1,
      members: [],
    };
  }

  reply(received: ReceivedRequest, outcome: { ok: true; result: unknown } | { ok: false; error: WireError }): void {
    received.socket.send(encodeFrame({ id: received.request.id, ...outcome }), { binary: true });
  }

  ok(received: ReceivedRequest, result: unknown): void {
    this.reply(received, { ok: true, result });
  }

  fail(received: ReceivedRequest, error: WireError): void {
    this.reply(received, { ok: false, error });
  }

  push(socket: WebSocket, push: ServerPush): void {
    socket.send(encodeFrame(push), { binary: true });
  }

  /** What a member shutting down sends before it closes the connection. */
  goAway(socket: WebSocket, notice: GoAwayNotice['goAway']): void {
    socket.send(encodeFrame({ goAway: notice }), { binary: true });
  }

  /** Requests received for op, in order. */
  requests(op: string): ReceivedRequest[] {
    return this.received.filter((received) => received.request.op === op);
  }

  /** Drop every client connection (as a crashed member would). */
  dropConnections(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  async stop(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.wsServer.close(() => resolve()));
    this.httpServer.closeAllConnections();
    await new Promise<void>((resolve) => this.httpServer.close(() => resolve()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** A script answering sessions and keepalives the way a healthy leader does. */
export function sessionScript(ttlMs: number, extra: Script = () => undefined): Script {
  return (received, member) => {
    switch (received.request.op) {
      case 'session.open':
        member.ok(received, { sessionId: 's1', ttlMs });
        return;
      case 'session.keepalive':
        member.ok(received, { ttlMs });
        return;
      case 'session.close':
        member.ok(received, { closed: true });
        return;
      default:
        extra(received, member);
    }
  };
}

export function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = () => {
      if (check()) resolve();
      else if (performance.now() > deadline) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

/**
 * For a test file: `member()` starts a FakeMember and `client()` connects; both, and anything given
 * to `defer()`, are closed after each test, newest first (register once, at the top of the file).
 */
export function closedAfterEachTest(): {
  member(): Promise<FakeMember>;
  client(options: Parameters<typeof connect>[0]): Promise<Client>;
  defer(cleanup: () => Promise<unknown>): void;
} {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return {
    async member() {
      const started = await FakeMember.start();
      cleanups.push(() => started.stop());
      return started;
    },
    async client(options) {
      const connected = await connect(options);
      cleanups.push(() => connected.close());
      return connected;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
}
