// FaultProxy: a loopback TCP relay in front of ONE member, through which every other member and
// every SDK client reaches it. It is what the chaos suite uses instead of tc netem.
//
// Why one proxy per destination member: raftlockd derives its cluster id from the whole
// `id=address` list of --peers (config.ts clusterIdOf), so every member must be given the same
// list, and a member's own entry must equal its --advertise (main.ts). So each member is listed at
// its proxy's address and listens elsewhere; a member dials a peer at the address in --peers
// (outbound-peer-link.ts), which is that peer's proxy. The proxy learns who is calling from the
// upgrade request itself: Raft links carry `x-raftlock-node: <id>` (peer-handshake.ts), SDK clients
// carry `Authorization: Bearer <token>` and each chaos client has its own token. Anything else
// (HTTP probes) passes through untouched.
//
// Faults apply per directed link (LinkConditions): bytes from A to B on a connection are subject to
// link A>B; the replies on the same connection to link B>A. A cut link stalls its bytes until it
// heals, as a partition does to TCP, so the endpoints' own liveness checks (peer pings, SDK pings,
// handshake timeouts) decide when to give up. After the HTTP head, the stream is cut into whole
// WebSocket frames (WsFrameSplitter) so a frame can be dropped without corrupting the stream.
// Delays keep the stream's order.
//
// Invariants: bytes of one direction leave in the order they came; nothing is duplicated; a frame is
// either delivered whole or not at all; close() leaves no socket or timer behind.

import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { SeededRandom } from '@raftlock/server/testing';
import type { LinkConditions } from './link-conditions.js';
import { isControlOpcode, WsFrameSplitter, type WsFrame } from './ws-frame-splitter.js';

export interface ProxyCounters {
  connections: number;
  framesForwarded: number;
  /** Frames that arrived while their link was cut (held until it healed or the connection died). */
  framesHeldByCut: number;
  framesDroppedAtRandom: number;
  framesDelayed: number;
  connectionsReset: number;
}

export function emptyProxyCounters(): ProxyCounters {
  return { connections: 0, framesForwarded: 0, framesHeldByCut: 0, framesDroppedAtRandom: 0, framesDelayed: 0, connectionsReset: 0 };
}

export interface FaultProxyOptions {
  /** The member behind this proxy: the `to` of every link into it. */
  readonly memberId: string;
  /** The member's real listen address (host:port). */
  readonly target: string;
  readonly conditions: LinkConditions;
  /** Which chaos client a bearer token belongs to. */
  readonly clientIdOfToken: (token: string) => string | undefined;
  /** Drop and jitter decisions. */
  readonly random: SeededRandom;
  readonly counters: ProxyCounters;
}

type Caller = { readonly kind: 'peer' | 'client'; readonly id: string } | { readonly kind: 'other' };

/** An HTTP head longer than this is not one of ours: relay the connection untouched. */
const maxHeadBytes = 64 * 1024;
const headTerminator = Buffer.from('\r\n\r\n');

export class FaultProxy {
  private readonly connections = new Set<ProxiedConnection>();
  private readonly rawSockets = new Set<Socket>();
  private readonly detachConditions: () => void;

  private constructor(
    private readonly server: Server,
    readonly address: string,
    private readonly options: FaultProxyOptions,
  ) {
    this.detachConditions = options.conditions.onChange(() => {
      for (const connection of this.connections) connection.release();
    });
  }

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const holder: { proxy?: FaultProxy } = {};
    const server = createServer((socket) => holder.proxy?.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    holder.proxy = new FaultProxy(server, `127.0.0.1:${port}`, options);
    return holder.proxy;
  }

  get memberId(): string {
    return this.options.memberId;
  }

  /** Tear down (as a TCP reset would) every connection from a caller the predicate picks. */
  resetConnections(pick: (callerId: string) => boolean): number {
    let count = 0;
    for (const connection of [...this.connections]) {
      if (!pick(connection.callerId)) continue;
      connection.destroy();
      count++;
    }
    this.options.counters.connectionsReset += count;
    return count;
  }

  async close(): Promise<void> {
    this.detachConditions();
    for (const connection of [...this.connections]) connection.destroy();
    for (const socket of this.rawSockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private accept(downstream: Socket): void {
    downstream.setNoDelay(true);
    this.rawSockets.add(downstream);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const headEnd = head.indexOf(headTerminator);
      if (headEnd < 0 && head.length < maxHeadBytes) return;
      downstream.off('data', onData);
      downstream.off('close', onEarlyClose);
      downstream.pause();
      this.rawSockets.delete(downstream);
      this.route(downstream, head, headEnd < 0 ? { kind: 'other' } : this.callerOf(head.subarray(0, headEnd)));
    };
    const onEarlyClose = () => this.rawSockets.delete(downstream);
    downstream.on('data', onData);
    downstream.on('close', onEarlyClose);
    downstream.on('error', () => downstream.destroy());
  }

  private callerOf(head: Buffer): Caller {
    const lines = head.toString('latin1').split('\r\n');
    const path = (lines[0] ?? '').split(' ')[1]?.split('?')[0];
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    if (path === '/v1/raft') {
      const peerId = headers.get('x-raftlock-node');
      if (peerId !== undefined) return { kind: 'peer', id: peerId };
    }
    if (path === '/v1/client') {
      const authorization = headers.get('authorization') ?? '';
      const clientId = authorization.startsWith('Bearer ') ? this.options.clientIdOfToken(authorization.slice('Bearer '.length)) : undefined;
      if (clientId !== undefined) return { kind: 'client', id: clientId };
    }
    return { kind: 'other' };
  }

  private route(downstream: Socket, head: Buffer, caller: Caller): void {
    const [host, port] = splitAddress(this.options.target);
    const upstream = connect(port, host);
    upstream.setNoDelay(true);
    if (caller.kind === 'other') {
      // Health probes and the like: a plain relay, never faulted.
      this.rawSockets.add(downstream).add(upstream);
      upstream.write(head);
      downstream.pipe(upstream);
      upstream.pipe(downstream);
      const closeBoth = () => {
        downstream.destroy();
        upstream.destroy();
        this.rawSockets.delete(downstream);
        this.rawSockets.delete(upstream);
      };
      downstream.on('close', closeBoth).on('error', closeBoth);
      upstream.on('close', closeBoth).on('error', closeBoth);
      downstream.resume();
      return;
    }
    this.options.counters.connections += 1;
    const connection = new ProxiedConnection({ ...this.options, callerId: caller.id, downstream, upstream, onClosed: (closed) => this.connections.delete(closed) });
    this.connections.add(connection);
    connection.start(head);
  }
}

interface ProxiedConnectionOptions extends FaultProxyOptions {
  readonly callerId: string;
  readonly downstream: Socket;
  readonly upstream: Socket;
  readonly onClosed: (connection: ProxiedConnection) => void;
}

/** One caller's connection through the proxy: a framed flow each way. */
class ProxiedConnection {
  private readonly inbound: FrameFlow;
  private readonly outbound: FrameFlow;
  private destroyed = false;

  constructor(private readonly options: ProxiedConnectionOptions) {
    const { callerId, memberId, downstream, upstream } = options;
    const broken = () => this.destroy();
    this.inbound = new FrameFlow({ ...options, from: callerId, to: memberId, target: upstream, head: 'request', onBroken: broken });
    this.outbound = new FrameFlow({ ...options, from: memberId, to: callerId, target: downstream, head: 'response', onBroken: broken });
    downstream.on('data', (chunk: Buffer) => this.inbound.push(chunk));
    upstream.on('data', (chunk: Buffer) => this.outbound.push(chunk));
    // A FIN is passed on once everything before it has been delivered; a reset or error ends both.
    downstream.on('end', () => this.inbound.end());
    upstream.on('end', () => this.outbound.end());
    downstream.on('error', broken).on('close', () => this.onSocketClosed(this.inbound));
    upstream.on('error', broken).on('close', () => this.onSocketClosed(this.outbound));
  }

  get callerId(): string {
    return this.options.callerId;
  }

  start(head: Buffer): void {
    this.inbound.push(head);
    this.options.downstream.resume();
  }

  release(): void {
    this.inbound.release();
    this.outbound.release();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.inbound.stop();
    this.outbound.stop();
    this.options.downstream.destroy();
    this.options.upstream.destroy();
    this.options.onClosed(this);
  }

  /**
   * The socket feeding `flow` closed. Bytes it sent before closing are still delivered (after their
   * delay), then both sides close; bytes stalled by a cut die with the connection, as they would
   * when the sender's TCP gives up.
   */
  private onSocketClosed(flow: FrameFlow): void {
    if (this.destroyed) return;
    if (flow.isDrained || flow.isCut) this.destroy();
    else flow.whenDrained(() => this.destroy());
  }
}

interface FrameFlowOptions {
  readonly from: string;
  readonly to: string;
  readonly target: Socket;
  /** What the flow starts with: an HTTP request (then frames) or an HTTP response (101: frames). */
  readonly head: 'request' | 'response';
  readonly conditions: LinkConditions;
  readonly random: SeededRandom;
  readonly counters: ProxyCounters;
  readonly onBroken: () => void;
}

interface QueuedChunk {
  readonly bytes: Buffer;
  readonly releaseAtMs: number;
  readonly isFrame: boolean;
}

/** Bytes a cut may hold back on one connection before the proxy gives up on it (a reset). */
const maxHeldBytes = 16 * 1024 * 1024;

/**
 * One direction of a proxied connection, subject to link from>to. A cut STALLS the bytes, as a
 * partition does to TCP (which retransmits once it heals): a cut shorter than the endpoints'
 * liveness timeouts delays traffic, a longer one makes them give up on the connection. A random
 * drop discards a whole WebSocket data frame: message loss, which only the Raft links are given
 * (the nemesis never drops on SDK links, whose protocol rightly assumes a reliable stream).
 */
class FrameFlow {
  private phase: 'head' | 'frames' | 'raw' = 'head';
  private headBuffer = Buffer.alloc(0);
  private readonly splitter = new WsFrameSplitter();
  private readonly queue: QueuedChunk[] = [];
  private queuedByteCount = 0;
  private lastReleaseAtMs = 0;
  private timer: NodeJS.Timeout | undefined;
  private sourceEnded = false;
  private stopped = false;
  private drainedCallback: (() => void) | undefined;

  constructor(private readonly options: FrameFlowOptions) {}

  get isDrained(): boolean {
    return this.queue.length === 0;
  }

  /** True while the link this flow travels is cut. */
  get isCut(): boolean {
    return this.options.conditions.conditionOf(this.options.from, this.options.to).cut;
  }

  whenDrained(callback: () => void): void {
    this.drainedCallback = callback;
    this.release();
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.phase === 'raw') return this.enqueue(chunk, false);
    if (this.phase === 'head') {
      this.headBuffer = Buffer.concat([this.headBuffer, chunk]);
      const headEnd = this.headBuffer.indexOf(headTerminator);
      if (headEnd < 0) {
        if (this.headBuffer.length > maxHeadBytes) this.options.onBroken();
        return;
      }
      const head = this.headBuffer.subarray(0, headEnd + headTerminator.length);
      const rest = this.headBuffer.subarray(headEnd + headTerminator.length);
      this.headBuffer = Buffer.alloc(0);
      // A refused upgrade (401, 403) is followed by plain HTTP, not frames.
      const switching = this.options.head === 'request' || head.toString('latin1', 0, 12) === 'HTTP/1.1 101';
      this.phase = switching ? 'frames' : 'raw';
      this.enqueue(head, false);
      if (rest.length > 0) this.push(rest);
      return;
    }
    let frames: WsFrame[];
    try {
      frames = this.splitter.push(chunk);
    } catch {
      this.options.onBroken();
      return;
    }
    for (const frame of frames) this.onFrame(frame);
  }

  end(): void {
    this.sourceEnded = true;
    this.release();
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.queuedByteCount = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Deliver whatever is due, unless the link is cut; re-arm the timer for the rest. */
  release(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.isCut) return; // LinkConditions.onChange calls release() again when it heals
    const nowMs = performance.now();
    while (this.queue.length > 0) {
      const next = this.queue[0] as QueuedChunk;
      if (next.releaseAtMs > nowMs) {
        this.timer = setTimeout(() => this.release(), Math.ceil(next.releaseAtMs - nowMs));
        return;
      }
      this.queue.shift();
      this.queuedByteCount -= next.bytes.length;
      if (next.isFrame) this.options.counters.framesForwarded += 1;
      this.options.target.write(next.bytes);
    }
    if (this.sourceEnded) this.options.target.end();
    const callback = this.drainedCallback;
    this.drainedCallback = undefined;
    callback?.();
  }

  private onFrame(frame: WsFrame): void {
    const condition = this.options.conditions.conditionOf(this.options.from, this.options.to);
    if (!isControlOpcode(frame.opcode) && condition.dropRate > 0 && this.options.random.chance(condition.dropRate)) {
      if (frame.opcode === 0 || !frame.fin) {
        // Part of a fragmented message: dropping it would break the receiver's framing. (Members
        // and the SDK never fragment; this keeps the proxy honest if that changes.)
        this.options.onBroken();
        return;
      }
      this.options.counters.framesDroppedAtRandom += 1;
      return;
    }
    if (condition.cut) this.options.counters.framesHeldByCut += 1;
    this.enqueue(frame.bytes, true);
  }

  private enqueue(bytes: Buffer, isFrame: boolean): void {
    const condition = this.options.conditions.conditionOf(this.options.from, this.options.to);
    const nowMs = performance.now();
    const delayMs = condition.delayMs + (condition.jitterMs > 0 ? this.options.random.nextFloat() * condition.jitterMs : 0);
    if (delayMs > 0 && isFrame) this.options.counters.framesDelayed += 1;
    // A later chunk never overtakes an earlier one: TCP keeps order, whatever each chunk's delay.
    const releaseAtMs = Math.max(this.lastReleaseAtMs, nowMs + delayMs);
    this.lastReleaseAtMs = releaseAtMs;
    this.queue.push({ bytes, releaseAtMs, isFrame });
    this.queuedByteCount += bytes.length;
    if (this.queuedByteCount > maxHeldBytes) {
      this.options.onBroken();
      return;
    }
    if (this.queue.length === 1) this.release();
  }
}

function splitAddress(address: string): [string, number] {
  const colon = address.lastIndexOf(':');
  return [address.slice(0, colon), Number(address.slice(colon + 1))];
}
