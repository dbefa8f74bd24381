// WsPeerTransport: the PeerTransport over WebSocket. Owns this member's outbound links (one per
// peer, the only way its messages leave), the inbound /v1/raft connections (receive only, one per
// peer), the batching of one event-loop turn's messages into one frame per peer, and the liveness
// timer.
//
// Invariants: send() never blocks or throws for an unreachable peer; memory for undelivered messages
// is bounded per peer (OutboundPeerLink); an inbound message reaches onMessage only if it decoded and
// validated, is addressed to this member and comes from the peer the connection authenticated as;
// a bad frame closes only its own connection (1007) and never throws out of a handler (only our own
// assertion failures and exceptions from onMessage propagate: those are bugs, and crash); the peer
// secret never appears in a log line; after close() resolves no socket, timer or immediate remains.
//
// Snapshots (paper §7) travel beside the core's InstallSnapshot: the sender streams its stored
// snapshot in chunks, one frame each, pacing itself on the socket's buffer so memory stays bounded,
// then sends the InstallSnapshot naming exactly the snapshot it streamed (possibly newer than the one
// the core named: it only ever covers more). The receiver stages the chunks of one snapshot per peer,
// in order, and hands the InstallSnapshot and the bytes to the driver only when all have arrived.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { assert } from '../assert.js';
import type { NodeId } from '../ids.js';
import type { SnapshotMetadata } from '../raft/log-entry.js';
import type { InstallSnapshot, Message } from '../raft/messages.js';
import type { Logger } from '../raft/ports.js';
import { OutboundPeerLink } from './outbound-peer-link.js';
import { decodePeerFrame } from './peer-codec.js';
import { PeerFrameError } from './peer-frame-error.js';
import { checkPeerHandshake, nodeHeader, peerPath } from './peer-handshake.js';
import type { PeerTransport } from './ports.js';
import type { PeerWireMessage, SnapshotChunk } from './snapshot-chunk.js';
import { emptyTransportCounters, type TransportCounters } from './transport-counters.js';

/** How often outbound links ping; a link that misses one pong is reconnected (so 1–2 intervals to notice). */
export const livenessCheckIntervalMs = 3_000;
/** Claimed ids and reasons from refused handshakes are untrusted text: cut before logging. */
const maxLoggedHeaderLength = 64;
/** A snapshot stream waits while more than this is buffered in the socket. */
const snapshotStreamBufferedBytes = 2 * 1024 * 1024;
const snapshotStreamPollMs = 2;
/** A stream that cannot make progress for this long gives up (the core retries later). */
const snapshotStreamStallMs = 10_000;

export interface SnapshotPorts {
  /** Sender: one chunk of the snapshot this member has on disk now. */
  readChunk(chunk: number): { readonly metadata: SnapshotMetadata; readonly totalBytes: number; readonly chunkCount: number; readonly data: Uint8Array };
  /** Receiver: every byte of the snapshot an InstallSnapshot names has arrived. */
  onSnapshot(message: InstallSnapshot, data: Uint8Array): void;
  /** Sender: the snapshot could not be streamed to peerId. */
  onSendFailed(peerId: NodeId): void;
  /** Sender: keep the stored snapshot from being replaced while a stream runs; returns the release. */
  pin?(): () => void;
}

interface StagedSnapshot {
  readonly index: number;
  readonly term: number;
  readonly chunkCount: number;
  readonly totalBytes: number;
  readonly parts: Uint8Array[];
  receivedBytes: number;
}

export interface WsPeerTransportLimits {
  readonly maxQueuedMessagesPerPeer: number;
  readonly maxFrameBytes: number;
  readonly reconnectBackoffMinMs: number;
  readonly reconnectBackoffMaxMs: number;
}

export interface WsPeerTransportOptions {
  readonly nodeId: NodeId;
  /** undefined while joining: the first member that dials us (the leader adding us) tells us. */
  readonly clusterId: string | undefined;
  /** Our own host:port, sent to the members we dial. */
  readonly advertise?: string;
  /** A member waiting to be added accepts peers it does not know yet (and learns their addresses). */
  readonly acceptsUnknownPeers?: () => boolean;
  /** The cluster id, learned from the first accepted peer while joining (persist it). */
  readonly onClusterIdLearned?: (clusterId: string) => void;
  /** Absent: this transport neither sends nor accepts snapshots. */
  readonly snapshots?: SnapshotPorts;
  /** Other members' host:port (not including self). */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** When set, every connection must present it. */
  readonly peerSecret: string | undefined;
  /** When set, dial wss:// and verify peers with ca. */
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer } | undefined;
  /** Called for each decoded, validated inbound message whose `to` is this node. */
  onMessage(message: Message): void;
  /** A peer's connection to us closed and no newer one replaced it (its process most likely went away). */
  onPeerDisconnected?(peerId: NodeId): void;
  readonly logger: Logger;
  readonly limits: WsPeerTransportLimits;
}

export interface WsPeerTransportStats {
  readonly connectedPeers: number;
  readonly queuedMessages: number;
  readonly droppedMessages: number;
  readonly framesSent: number;
  readonly framesReceived: number;
  readonly invalidFrames: number;
}

const statusText: Readonly<Record<number, string>> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** Refuse an upgrade with a bare HTTP response, then drop the socket (as ws's own abortHandshake does). */
function refuseUpgrade(socket: Duplex, status: number): void {
  if (socket.writable) {
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${statusText[status] ?? 'Error'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  } else {
    socket.destroy();
  }
}

function requestPath(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://peer').pathname;
  } catch {
    return undefined; // an unparsable request line is simply not ours
  }
}

export class WsPeerTransport implements PeerTransport {
  private readonly counters: TransportCounters = emptyTransportCounters();
  private readonly links = new Map<NodeId, OutboundPeerLink>();
  private readonly inbound = new Map<NodeId, WebSocket>();
  /** Links being shut down after a membership change; close() waits for them too. */
  private readonly closingLinks = new Set<Promise<void>>();
  private readonly server: WebSocketServer;
  private readonly livenessTimer: NodeJS.Timeout;
  private flushImmediate: NodeJS.Immediate | undefined;
  private peerAddresses: ReadonlyMap<NodeId, string> = new Map();
  private closed = false;
  private clusterId: string | undefined;
  private readonly snapshotStreams = new Set<NodeId>();
  private readonly staged = new Map<NodeId, StagedSnapshot>();

  constructor(private readonly options: WsPeerTransportOptions) {
    const { limits } = options;
    assert(options.nodeId.length > 0, 'a transport has a node id');
    assert(limits.maxQueuedMessagesPerPeer >= 1, 'maxQueuedMessagesPerPeer is at least 1');
    assert(limits.maxFrameBytes >= 1024, 'maxFrameBytes leaves room for at least a small frame');
    assert(limits.reconnectBackoffMinMs >= 1, 'reconnectBackoffMinMs is at least 1');
    assert(limits.reconnectBackoffMaxMs >= limits.reconnectBackoffMinMs, 'backoff maximum is not below its minimum');
    // noServer: the shared HTTP server owns the port and routes /v1/raft upgrades here.
    this.server = new WebSocketServer({ noServer: true, maxPayload: limits.maxFrameBytes, perMessageDeflate: false });
    this.clusterId = options.clusterId;
    this.livenessTimer = setInterval(() => {
      for (const link of this.links.values()) link.checkLiveness();
    }, livenessCheckIntervalMs);
    this.setPeers(options.peers);
  }

  send(messages: readonly Message[]): void {
    let queuedAny = false;
    for (const message of messages) {
      assert(message.from === this.options.nodeId, 'a member only sends its own messages');
      assert(message.to !== this.options.nodeId, 'a member never messages itself');
      const link = this.closed ? undefined : this.links.get(message.to);
      if (link !== undefined && message.type === 'InstallSnapshot' && this.options.snapshots !== undefined) {
        this.streamSnapshot(link, message);
        continue;
      }
      if (link === undefined) {
        // Not (or no longer) in the address book: membership changes reach the core and the
        // transport at slightly different moments, and Raft tolerates a lost message.
        this.counters.droppedMessages += 1;
        continue;
      }
      if (link.enqueue(message)) queuedAny = true;
    }
    // One flush per event-loop turn: everything sent to a peer this turn leaves as one frame.
    if (queuedAny && this.flushImmediate === undefined) this.flushImmediate = setImmediate(() => this.flush());
  }

  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    assert(!peers.has(this.options.nodeId), 'the address book holds the other members, not this one');
    if (this.closed) return;
    this.peerAddresses = new Map(peers);
    for (const [peerId, link] of this.links) {
      if (peers.get(peerId) === link.address) continue;
      this.links.delete(peerId);
      this.retireLink(link);
    }
    for (const [peerId, socket] of this.inbound) {
      if (peers.has(peerId)) continue;
      this.inbound.delete(peerId);
      socket.close(1008, 'not a member');
    }
    for (const [peerId, address] of peers) {
      if (this.links.has(peerId)) continue;
      this.links.set(peerId, this.newLink(peerId, address));
    }
    assert(this.links.size === peers.size, 'one outbound link per peer');
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.closed) return refuseUpgrade(socket, 503);
    if (requestPath(request.url) !== peerPath) return refuseUpgrade(socket, 404);
    const verdict = checkPeerHandshake(request.headers, {
      nodeId: this.options.nodeId,
      clusterId: this.clusterId,
      peerSecret: this.options.peerSecret,
      isKnownPeer: (peerId) => this.peerAddresses.has(peerId as NodeId) || (this.options.acceptsUnknownPeers?.() ?? false),
    });
    if (!verdict.accepted) {
      const claimed = request.headers[nodeHeader];
      this.options.logger.warn(
        { status: verdict.status, reason: verdict.reason, claimedNodeId: typeof claimed === 'string' ? claimed.slice(0, maxLoggedHeaderLength) : undefined, remoteAddress: request.socket.remoteAddress },
        'refused peer connection',
      );
      return refuseUpgrade(socket, verdict.status);
    }
    if (this.clusterId === undefined) {
      this.clusterId = verdict.clusterId;
      this.options.logger.info({ clusterId: verdict.clusterId, peerId: verdict.peerId }, 'joined cluster');
      this.options.onClusterIdLearned?.(verdict.clusterId);
    }
    if (!this.peerAddresses.has(verdict.peerId)) {
      // A member we are not configured with yet (we are waiting to be added): answer it at the
      // address it gave until the replicated configuration reaches us.
      if (verdict.address === undefined) return refuseUpgrade(socket, 403);
      this.setPeers(new Map([...this.peerAddresses, [verdict.peerId, verdict.address]]));
    }
    this.server.handleUpgrade(request, socket, head, (webSocket) => this.acceptInbound(webSocket, verdict.peerId));
  }

  /** Stream the stored snapshot to the follower, then the InstallSnapshot (see header). */
  private streamSnapshot(link: OutboundPeerLink, message: InstallSnapshot): void {
    if (this.snapshotStreams.has(message.to)) return; // one at a time; the core resends when it times out
    this.snapshotStreams.add(message.to);
    this.runSnapshotStream(link, message)
      .catch((error: unknown) => {
        this.options.logger.warn({ peerId: message.to, error: error instanceof Error ? error.message : String(error) }, 'snapshot stream to peer failed');
        if (!this.closed) this.options.snapshots?.onSendFailed(message.to);
      })
      .finally(() => this.snapshotStreams.delete(message.to));
  }

  private async runSnapshotStream(link: OutboundPeerLink, message: InstallSnapshot): Promise<void> {
    const snapshots = this.options.snapshots;
    assert(snapshots !== undefined, 'snapshots are streamed only by a transport with snapshot ports');
    const unpin = snapshots.pin?.();
    try {
      await this.streamPinnedSnapshot(link, message, snapshots);
    } finally {
      unpin?.();
    }
  }

  private async streamPinnedSnapshot(link: OutboundPeerLink, message: InstallSnapshot, snapshots: SnapshotPorts): Promise<void> {
    const first = snapshots.readChunk(0);
    const { metadata, chunkCount, totalBytes } = first;
    const socket = await this.waitWritable(link);
    const startedMs = performance.now();
    for (let chunk = 0; chunk < Math.max(1, chunkCount); chunk++) {
      const piece = chunk === 0 ? first : snapshots.readChunk(chunk);
      if (piece.metadata.index !== metadata.index) throw new Error('the snapshot was replaced while streaming it');
      if ((await this.waitWritable(link)) !== socket) throw new Error('the connection changed while streaming');
      const frame: SnapshotChunk = {
        type: 'SnapshotChunk',
        from: this.options.nodeId,
        to: message.to,
        term: message.term,
        snapshotIndex: metadata.index,
        snapshotTerm: metadata.term,
        chunk,
        chunkCount,
        totalBytes,
        data: piece.data,
      };
      if (!link.sendNow(socket, [frame])) throw new Error('the connection closed while streaming');
    }
    if (!link.sendNow(socket, [{ ...message, snapshot: metadata }])) throw new Error('the connection closed before the snapshot was announced');
    this.options.logger.info({ peerId: message.to, index: metadata.index, totalBytes, ms: Math.round(performance.now() - startedMs) }, 'snapshot streamed to peer');
  }

  private async waitWritable(link: OutboundPeerLink): Promise<WebSocket> {
    const deadline = performance.now() + snapshotStreamStallMs;
    for (;;) {
      if (this.closed) throw new Error('transport closed');
      const socket = link.writableSocket(snapshotStreamBufferedBytes);
      if (socket !== undefined) return socket;
      if (performance.now() > deadline) throw new Error('no progress');
      await new Promise((resolve) => setTimeout(resolve, snapshotStreamPollMs));
    }
  }

  /** Receiver: stage one chunk; chunks of a snapshot arrive in order on the sender's one connection. */
  private receiveChunk(peerId: NodeId, chunk: SnapshotChunk): void {
    let staged = this.staged.get(peerId);
    if (chunk.chunk === 0) {
      staged = { index: chunk.snapshotIndex, term: chunk.snapshotTerm, chunkCount: chunk.chunkCount, totalBytes: chunk.totalBytes, parts: [], receivedBytes: 0 };
      this.staged.set(peerId, staged);
    }
    const fits =
      staged !== undefined &&
      staged.index === chunk.snapshotIndex &&
      staged.term === chunk.snapshotTerm &&
      staged.chunkCount === chunk.chunkCount &&
      staged.parts.length === chunk.chunk &&
      staged.receivedBytes + chunk.data.byteLength <= staged.totalBytes;
    if (!fits || staged === undefined) {
      this.staged.delete(peerId);
      this.counters.droppedMessages += 1;
      return;
    }
    staged.parts.push(chunk.data);
    staged.receivedBytes += chunk.data.byteLength;
  }

  private receiveInstallSnapshot(peerId: NodeId, message: InstallSnapshot): void {
    const staged = this.staged.get(peerId);
    this.staged.delete(peerId);
    const complete =
      staged !== undefined &&
      staged.index === message.snapshot.index &&
      staged.term === message.snapshot.term &&
      staged.parts.length === Math.max(1, staged.chunkCount) &&
      staged.receivedBytes === staged.totalBytes;
    if (!complete) {
      this.counters.droppedMessages += 1;
      this.options.logger.warn({ peerId, index: message.snapshot.index }, 'InstallSnapshot without all its chunks dropped');
      return;
    }
    const data = new Uint8Array(staged.totalBytes);
    let offset = 0;
    for (const part of staged.parts) {
      data.set(part, offset);
      offset += part.byteLength;
    }
    this.options.snapshots?.onSnapshot(message, data);
  }

  stats(): WsPeerTransportStats {
    let connectedPeers = 0;
    let queuedMessages = 0;
    for (const link of this.links.values()) {
      if (link.isConnected()) connectedPeers += 1;
      queuedMessages += link.queuedMessageCount();
    }
    return { connectedPeers, queuedMessages, ...this.counters };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.livenessTimer);
    if (this.flushImmediate !== undefined) clearImmediate(this.flushImmediate);
    this.flushImmediate = undefined;
    const pending: Promise<void>[] = [...this.closingLinks];
    for (const link of this.links.values()) pending.push(link.close());
    this.links.clear();
    for (const socket of this.inbound.values()) pending.push(WsPeerTransport.terminate(socket));
    this.inbound.clear();
    // In noServer mode this only stops accepting; the clients were terminated above.
    pending.push(new Promise<void>((resolve) => this.server.close(() => resolve())));
    await Promise.all(pending);
  }

  private static terminate(socket: WebSocket): Promise<void> {
    if (socket.readyState === socket.CLOSED) return Promise.resolve();
    const closedPromise = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.terminate();
    return closedPromise;
  }

  private newLink(peerId: NodeId, address: string): OutboundPeerLink {
    const { nodeId, peerSecret, tls, limits, logger, advertise } = this.options;
    // While joining we dial nobody until a member has dialled us, so the cluster id is known by then.
    const clusterId = this.clusterId ?? 'joining';
    return new OutboundPeerLink({ nodeId, clusterId, peerId, address, peerSecret, advertise, tls, limits, counters: this.counters, logger });
  }

  private retireLink(link: OutboundPeerLink): void {
    const closing = link.close().finally(() => this.closingLinks.delete(closing));
    this.closingLinks.add(closing);
  }

  flush(): void {
    if (this.flushImmediate !== undefined) clearImmediate(this.flushImmediate);
    this.flushImmediate = undefined;
    for (const link of this.links.values()) link.flush();
  }

  private acceptInbound(socket: WebSocket, peerId: NodeId): void {
    if (this.closed || !this.peerAddresses.has(peerId)) {
      socket.terminate();
      return;
    }
    // One inbound connection per peer: a new one means the peer redialled and the old one is dead.
    const previous = this.inbound.get(peerId);
    if (previous !== undefined) previous.terminate();
    this.inbound.set(peerId, socket);
    this.options.logger.info({ peerId }, 'peer connected');
    this.links.get(peerId)?.redialNow();
    let rejected = false;
    socket.on('message', (data, isBinary) => {
      if (rejected) return; // frames already in flight behind a bad one are not trusted either
      if (!this.receiveFrame(socket, peerId, data, isBinary)) rejected = true;
    });
    socket.on('error', (error) => {
      // ws closes the connection itself (1009 for an oversize frame, 1002 for a protocol error).
      this.counters.invalidFrames += 1;
      this.options.logger.warn({ peerId, error: error.message }, 'peer connection error');
    });
    socket.on('close', () => {
      if (this.inbound.get(peerId) !== socket) return; // replaced by a newer connection
      this.inbound.delete(peerId);
      if (!this.closed) this.options.onPeerDisconnected?.(peerId);
    });
  }

  /** Returns false when the frame was refused and the connection is being closed. */
  private receiveFrame(socket: WebSocket, peerId: NodeId, data: RawData, isBinary: boolean): boolean {
    this.counters.framesReceived += 1;
    if (!isBinary || !Buffer.isBuffer(data)) {
      this.counters.invalidFrames += 1;
      this.options.logger.warn({ peerId }, 'peer sent a non-binary frame; closing');
      socket.close(1003, 'peer frames are binary');
      return false;
    }
    let messages: PeerWireMessage[];
    try {
      messages = decodePeerFrame(data);
    } catch (error) {
      // Anything but PeerFrameError is our own bug (an assertion): let it crash the member.
      if (!(error instanceof PeerFrameError)) throw error;
      this.counters.invalidFrames += 1;
      this.options.logger.warn({ peerId, code: error.code, error: error.message }, 'invalid peer frame; closing connection');
      socket.close(1007, 'invalid frame');
      return false;
    }
    for (const message of messages) {
      if (message.to !== this.options.nodeId || message.from !== peerId) {
        this.counters.droppedMessages += 1;
        this.options.logger.debug({ peerId, from: message.from, to: message.to, type: message.type }, 'dropped misaddressed peer message');
        continue;
      }
      if (message.type === 'SnapshotChunk') this.receiveChunk(peerId, message);
      else if (message.type === 'InstallSnapshot') this.receiveInstallSnapshot(peerId, message);
      else this.options.onMessage(message);
    }
    return true;
  }
}
