// OutboundPeerLink: this member's one outbound WebSocket to one peer, with its send queue and its
// reconnect loop. Every message for that peer leaves through here and nowhere else; inbound
// connections only ever receive, so no two sockets race to carry the same peer's traffic.
//
// Invariants: messages are queued only while the socket is open, and never more than
// maxQueuedMessagesPerPeer of them or while ws has more than maxBufferedBytesPerPeer unsent: beyond
// that they are dropped and counted, because Raft resends on its own timers and memory must not grow
// with a slow or absent peer. A frame never exceeds maxFrameBytes (batches are split; a single message
// too large is dropped). After close() no timer or socket of this link remains.

import { WebSocket } from 'ws';
import { assert } from '../assert.js';
import type { NodeId } from '../ids.js';
import type { Message } from '../raft/messages.js';
import type { PeerWireMessage } from './snapshot-chunk.js';
import type { Logger } from '../raft/ports.js';
import { encodePeerFrame } from './peer-codec.js';
import { peerFrameLimits } from './peer-frame-limits.js';
import { peerHandshakeHeaders, peerPath } from './peer-handshake.js';
import { reconnectDelayMs } from './reconnect-backoff.js';
import type { TransportCounters } from './transport-counters.js';

/** Above this many bytes waiting in the socket, new messages are dropped instead of queued. */
export const maxBufferedBytesPerPeer = 4 * 1024 * 1024;
/** A dial that has not completed its upgrade by then is abandoned and retried with backoff. */
export const handshakeTimeoutMs = 5_000;

export interface OutboundPeerLinkLimits {
  readonly maxQueuedMessagesPerPeer: number;
  readonly maxFrameBytes: number;
  readonly reconnectBackoffMinMs: number;
  readonly reconnectBackoffMaxMs: number;
}

export interface OutboundPeerLinkOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly peerId: NodeId;
  readonly address: string;
  readonly peerSecret: string | undefined;
  /** Our own address, sent in the handshake so a member that is joining can answer us. */
  readonly advertise: string | undefined;
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer } | undefined;
  readonly limits: OutboundPeerLinkLimits;
  readonly counters: TransportCounters;
  readonly logger: Logger;
}

export class OutboundPeerLink {
  private socket: WebSocket | undefined;
  private queue: Message[] = [];
  private failedAttempts = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Cleared when a ping goes out, set when its pong comes back (checkLiveness). */
  private answeredPing = true;
  /** Log the first failure of a streak at warn, the retries at debug, so a dead peer is not log spam. */
  private failureLogged = false;

  constructor(private readonly options: OutboundPeerLinkOptions) {
    assert(options.peerId !== options.nodeId, 'a member never dials itself');
    assert(options.limits.maxQueuedMessagesPerPeer >= 1, 'a peer queue holds at least one message');
    this.dial();
  }

  get peerId(): NodeId {
    return this.options.peerId;
  }

  get address(): string {
    return this.options.address;
  }

  isConnected(): boolean {
    return this.socket !== undefined && this.socket.readyState === WebSocket.OPEN;
  }

  queuedMessageCount(): number {
    return this.queue.length;
  }

  /** Queue one message for the next flush; false (and counted) when it had to be dropped. */
  enqueue(message: Message): boolean {
    assert(message.to === this.options.peerId, 'a link only carries messages for its peer');
    const socket = this.socket;
    const accepting =
      !this.closed &&
      socket !== undefined &&
      socket.readyState === WebSocket.OPEN &&
      this.queue.length < this.options.limits.maxQueuedMessagesPerPeer &&
      socket.bufferedAmount <= maxBufferedBytesPerPeer;
    if (!accepting) {
      this.options.counters.droppedMessages += 1;
      return false;
    }
    this.queue.push(message);
    assert(this.queue.length <= this.options.limits.maxQueuedMessagesPerPeer, 'the peer queue stays bounded');
    return true;
  }

  /** The open socket with room in its buffer, for a snapshot stream that paces itself; else undefined. */
  writableSocket(maxBufferedBytes: number): WebSocket | undefined {
    const socket = this.socket;
    if (this.closed || socket === undefined || socket.readyState !== WebSocket.OPEN) return undefined;
    return socket.bufferedAmount <= maxBufferedBytes ? socket : undefined;
  }

  /** True while `socket` is still this link's open socket (a snapshot stream must not span two). */
  isCurrentSocket(socket: WebSocket): boolean {
    return !this.closed && this.socket === socket && socket.readyState === WebSocket.OPEN;
  }

  /** Send one frame now on `socket`, bypassing the queue (snapshot streams). */
  sendNow(socket: WebSocket, messages: readonly PeerWireMessage[]): boolean {
    if (!this.isCurrentSocket(socket)) return false;
    const frame = encodePeerFrame(messages);
    if (frame.byteLength > this.options.limits.maxFrameBytes) return false;
    socket.send(frame, { binary: true });
    this.options.counters.framesSent += 1;
    return true;
  }

  /** Send everything queued, as few frames as the limits allow (one, normally). */
  flush(): void {
    const messages = this.queue;
    this.queue = [];
    if (messages.length === 0) return;
    const socket = this.socket;
    if (this.closed || socket === undefined || socket.readyState !== WebSocket.OPEN) {
      this.options.counters.droppedMessages += messages.length;
      return;
    }
    for (let start = 0; start < messages.length; start += peerFrameLimits.maxMessagesPerFrame) {
      this.sendBatch(socket, messages.slice(start, start + peerFrameLimits.maxMessagesPerFrame));
    }
  }

  /** Encode a batch; when the frame would be too large, split it in halves (depth ≤ log2 of the batch). */
  private sendBatch(socket: WebSocket, messages: readonly Message[]): void {
    assert(messages.length >= 1, 'a batch holds at least one message');
    const frame = encodePeerFrame(messages);
    if (frame.byteLength <= this.options.limits.maxFrameBytes) {
      socket.send(frame, { binary: true });
      this.options.counters.framesSent += 1;
      return;
    }
    if (messages.length === 1) {
      const message = messages[0];
      this.options.counters.droppedMessages += 1;
      this.options.logger.error(
        { peerId: this.options.peerId, type: message?.type, frameBytes: frame.byteLength, maxFrameBytes: this.options.limits.maxFrameBytes },
        'peer message larger than maxFrameBytes dropped; lower maxBytesPerAppend below it',
      );
      return;
    }
    const middle = Math.ceil(messages.length / 2);
    this.sendBatch(socket, messages.slice(0, middle));
    this.sendBatch(socket, messages.slice(middle));
  }

  /**
   * Called on a fixed interval by the transport. A socket whose previous ping went unanswered is
   * half-open (peer host gone, partition): terminate it so the reconnect loop takes over, instead of
   * filling its buffer until the OS gives up minutes later.
   */
  checkLiveness(): void {
    const socket = this.socket;
    if (this.closed || socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    if (!this.answeredPing) {
      this.options.logger.warn({ peerId: this.options.peerId }, 'peer did not answer ping; reconnecting');
      socket.terminate();
      return;
    }
    this.answeredPing = false;
    socket.ping();
  }

  /** Stop dialling, drop the queue, terminate the socket; resolves once the socket is fully closed. */
  close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.options.counters.droppedMessages += this.queue.length;
    this.queue = [];
    const socket = this.socket;
    if (socket === undefined || socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closedPromise = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.terminate();
    return closedPromise;
  }

  /**
   * The peer just connected to us, so it is up: a link waiting out its reconnect backoff dials now.
   * Without this, two followers whose links broke while one of them restarted may not hear each
   * other until the backoff ends — unnoticed while a leader talks to both, but an election after
   * that leader dies would lose its vote requests (measured: an 0.8 s failover at 50/300 ms).
   */
  redialNow(): void {
    if (this.closed || this.socket !== undefined || this.reconnectTimer === undefined) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.failedAttempts = 0;
    this.dial();
  }

  private dial(): void {
    assert(!this.closed, 'a closed link never dials');
    assert(this.socket === undefined, 'one outbound socket per peer at a time');
    const { tls } = this.options;
    const url = `${tls === undefined ? 'ws' : 'wss'}://${this.options.address}${peerPath}`;
    let socket: WebSocket;
    try {
      socket = new WebSocket(url, {
        headers: peerHandshakeHeaders(this.options),
        maxPayload: this.options.limits.maxFrameBytes,
        handshakeTimeout: handshakeTimeoutMs,
        perMessageDeflate: false,
        followRedirects: false,
        // RFC 6455 masking protects browsers' intermediaries from forged requests; between members it
        // only costs a copy and an XOR of every append. An all-zero key is valid and ws skips the work.
        generateMask: zeroMask,
        ...(tls?.ca !== undefined && { ca: tls.ca }),
        ...(tls?.cert !== undefined && { cert: tls.cert }),
        ...(tls?.key !== undefined && { key: tls.key }),
      });
    } catch (error) {
      // A malformed address never becomes valid by waiting: report it once and stay down (messages
      // to this peer are dropped) until setPeers gives a new address.
      this.options.logger.error({ peerId: this.options.peerId, address: this.options.address, error: String(error) }, 'invalid peer address');
      return;
    }
    this.socket = socket;
    socket.on('open', () => this.onOpen(socket));
    socket.on('pong', () => {
      this.answeredPing = true;
    });
    socket.on('message', () => {
      // Peers send to us over their own outbound connection; traffic on ours means a broken peer.
      this.options.counters.invalidFrames += 1;
      socket.close(1008, 'outbound peer connections carry no inbound traffic');
    });
    socket.on('error', (error) => this.onError(error));
    socket.on('close', (code) => this.onClose(socket, code));
  }

  private onOpen(socket: WebSocket): void {
    if (this.closed) return;
    assert(this.socket === socket, 'open is reported for the current socket');
    this.failedAttempts = 0;
    this.failureLogged = false;
    this.answeredPing = true;
    this.options.logger.info({ peerId: this.options.peerId, address: this.options.address }, 'connected to peer');
  }

  private onError(error: Error): void {
    if (this.closed) return;
    // ws reports handshake refusals here as "Unexpected server response: 401"; headers never appear.
    const fields = { peerId: this.options.peerId, address: this.options.address, error: error.message, failedAttempts: this.failedAttempts };
    if (this.failureLogged) this.options.logger.debug(fields, 'peer connection failed');
    else this.options.logger.warn(fields, 'peer connection failed; retrying with backoff');
    this.failureLogged = true;
  }

  private onClose(socket: WebSocket, code: number): void {
    assert(this.socket === socket, 'close is reported for the current socket');
    this.socket = undefined;
    this.options.counters.droppedMessages += this.queue.length;
    this.queue = [];
    if (this.closed) return;
    this.options.logger.debug({ peerId: this.options.peerId, code }, 'peer connection closed');
    const delayMs = reconnectDelayMs(this.failedAttempts, this.options.limits, Math.random());
    this.failedAttempts += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) this.dial();
    }, delayMs);
  }
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
