// ClientApi: the /v1/client WebSocket endpoint (SPEC §5). One binary frame per message, msgpack.
// Every frame is untrusted: undecodable frames close the connection with 1007, oversize ones with
// 1009 (ws enforces maxPayload), anything decodable but wrong gets an error reply naming the problem.
// A connection is bounded in requests in flight, in watches and in the sessions it opens; nothing it
// sends can stall others.
// While this member hands leadership off (SIGTERM), "retry later" answers wait for the successor and
// then name it (leader-hand-off.ts); closing tells every client where to go (a goAway notice).

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { nanoid } from 'nanoid';
import {
  corkForBurst,
  decodeFrame,
  encodeFrame,
  FrameDecodeError,
  InternalError,
  isServiceError,
  protocolLimits,
  PermissionDeniedError,
  RateLimitedError,
  serviceErrorFromWire,
  SessionExpiredError,
  TooLargeError,
  UnavailableError,
  validateRequest,
  type ClientReply,
  type ClientRequest,
  type GoAwayNotice,
  type OperationArgs,
  type OperationResult,
  type ServerPush,
  type ServiceError,
  type WatchEvent,
  type WireError,
} from '@raftlock/protocol';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../raft/ports.js';
import type { Metrics } from '../runtime/metrics.js';
import type { LockEvent } from '../lock/lock-events.js';
import type { RaftDriver } from '../runtime/raft-driver.js';
import type { Clock } from '../runtime/system-clock.js';
import { rolePermits, type ClientRole, type ClientTokens } from './client-tokens.js';
import { LeaderHandOff } from './leader-hand-off.js';
import { Operations, toLockInfo, type ConnectionContext } from './operations.js';
import { WaitRegistry } from './wait-registry.js';
import { WatchHub } from './watch-hub.js';

export interface ClientApiOptions {
  readonly driver: RaftDriver;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly nodeId: string;
  readonly address: string;
  readonly maxWatchHistoryEvents: number;
  /** How long a member with no known leader holds "retry later" answers waiting for one to be elected. */
  readonly leaderWaitMs: number;
  /** When set, every connection must present a bearer token, and its role limits the ops it may use. */
  readonly clientTokens: ClientTokens | undefined;
}

const closeCodes = { invalidPayload: 1007, goingAway: 1001, tryAgainLater: 1013 } as const;
/** A connection whose replies and pushes pile up unread (slow or hostile client) is dropped. */
const maxBufferedBytesPerConnection = 8 * 1024 * 1024;
const maxConnections = 10_000;
/** ~1 KiB per event at most (4 KiB values are rare): 256 events stay well inside a 1 MiB frame. */
const maxEventsPerPush = 256;
/** Room in a frame for a reply's id, flags and a watch.start result's other fields around its snapshot. */
const maxReplyEnvelopeBytes = 256;
/** How long shutdown waits for clients to answer the close handshake before cutting them off. */
const closeGraceMs = 250;

export class ClientApi {
  private readonly server: WebSocketServer;
  private readonly operations: Operations;
  private readonly waits = new WaitRegistry();
  private readonly watches: WatchHub;
  private readonly connections = new Set<WebSocket>();
  private readonly handOff: LeaderHandOff;
  private readonly drainWaiters = new Set<() => void>();
  private accepting = true;

  constructor(private readonly options: ClientApiOptions) {
    this.server = new WebSocketServer({ noServer: true, maxPayload: protocolLimits.maxFrameBytes });
    this.server.on('connection', (socket: WebSocket, role: ClientRole) => this.onConnection(socket, role));
    this.watches = new WatchHub(options.maxWatchHistoryEvents, options.driver.lastAppliedIndex());
    this.handOff = new LeaderHandOff(options.driver, options.clock, options.logger);
    this.operations = new Operations({
      driver: options.driver,
      waits: this.waits,
      clock: options.clock,
      nodeId: options.nodeId,
      address: options.address,
      defaultSessionTtlMs: protocolLimits.defaultSessionTtlMs,
      defaultListLimit: protocolLimits.defaultListLimit,
      handOff: this.handOff,
    });
    options.driver.onApply((_index, _command, outcome) => {
      for (const event of outcome.events) {
        // A parked wait is answered with exactly what a retry of it would get: the dedupe table's
        // current result for its request id (granted, cancelled, or its session ended).
        if (event.requestId === undefined || event.type === 'queued') continue;
        this.completeWait(event.requestId, event);
      }
      if (outcome.events.length > 0) this.watches.publish(outcome.events.map(toWatchEvent));
    });
    // A snapshot from the leader skipped entries whose events no watch here has seen: end them all.
    options.driver.onSnapshotRestored((index) => {
      this.watches.restartAt(index, new UnavailableError('this member installed a snapshot; resume the watch').toWire());
    });
    // A deposed leader may never hear of the grant a successor makes: its parked waits are told to
    // retry (same request id, so the retry re-parks or gets the grant).
    options.driver.onRoleChange((softState) => {
      if (softState.role !== 'leader') this.waits.failAll(options.driver.notLeaderError());
    });
  }

  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!this.accepting || this.connections.size >= maxConnections) {
      socket.end(`HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n`);
      return;
    }
    let role: ClientRole = 'admin';
    if (this.options.clientTokens) {
      const presented = this.options.clientTokens.roleOf(request.headers.authorization);
      if (presented === undefined) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nWWW-Authenticate: Bearer\r\n\r\n');
        return;
      }
      role = presented;
    }
    this.server.handleUpgrade(request, socket, head, (webSocket) => this.server.emit('connection', webSocket, role));
  }

  /**
   * This member is handing leadership off: for at most windowMs, until the successor is known,
   * answers that would say "retry later" wait and then redirect to it (NOT_LEADER with its address).
   */
  beginHandOff(windowMs: number): void {
    this.handOff.begin(windowMs);
  }

  /** Stop taking connections and close the open ones (SIGTERM), telling each client where the leader is. */
  async close(): Promise<void> {
    this.accepting = false;
    // During a hand-off the successor is known a moment after this member stepped down (its first
    // append); waiting for it lets every goAway name it, so no client has to search the endpoints.
    const leader = await this.handOff.successor();
    this.handOff.end();
    const goAway: GoAwayNotice = { goAway: leader === undefined ? { reason: 'member shutting down' } : { reason: 'member shutting down', leader } };
    const frame = encodeFrame(goAway);
    for (const socket of this.connections) {
      if (socket.readyState === socket.OPEN) socket.send(frame, { binary: true });
      socket.close(closeCodes.goingAway, 'member shutting down');
    }
    // A client that never answers the close handshake must not hold up SIGTERM.
    await this.drained(closeGraceMs);
    for (const socket of this.connections) socket.terminate();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves once every connection has closed, or after timeoutMs. */
  private async drained(timeoutMs: number): Promise<void> {
    if (this.connections.size === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.drainWaiters.add(() => {
        if (this.connections.size > 0) return;
        clearTimeout(timer);
        resolve();
      });
    });
    this.drainWaiters.clear();
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private onConnection(socket: WebSocket, role: ClientRole): void {
    this.connections.add(socket);
    this.options.metrics.clientConnections.set(this.connections.size);
    const cleanups = new Set<() => void>();
    const watchIds = new Set<string>();
    const sessions = new ConnectionSessions(this.options.driver);
    let inflight = 0;

    const send = (message: ClientReply | ServerPush) => {
      if (socket.readyState !== socket.OPEN) return;
      if (socket.bufferedAmount > maxBufferedBytesPerConnection) {
        // It does not read what we send: drop it rather than buffer without bound.
        socket.terminate();
        return;
      }
      let frame = encodeFrame(message);
      if (frame.byteLength > protocolLimits.maxFrameBytes && 'id' in message) {
        frame = encodeFrame({ id: message.id, ok: false, error: new TooLargeError('the result exceeds the 1 MiB frame limit; ask for fewer items (limit) or a narrower prefix').toWire() });
      }
      corkForBurst(socket);
      socket.send(frame, { binary: true });
    };

    socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        handleFrame(data, isBinary);
      } catch (error) {
        // Nothing a client sends may take the member down: drop that connection, keep serving.
        this.options.logger.warn({ error: error instanceof Error ? error.message : String(error) }, 'client frame handler failed; closing the connection');
        socket.terminate();
      }
    });

    const handleFrame = (data: RawData, isBinary: boolean) => {
      const receivedAtMs = this.options.clock.monotonicMs();
      if (!isBinary) {
        socket.close(closeCodes.invalidPayload, 'frames must be binary msgpack');
        return;
      }
      let frame: unknown;
      try {
        frame = decodeFrame(toBytes(data));
      } catch (error) {
        if (!(error instanceof FrameDecodeError)) throw error;
        // A fixed reason: decoder messages can echo client bytes, and close reasons are ≤ 123 bytes.
        socket.close(closeCodes.invalidPayload, 'malformed msgpack frame');
        return;
      }
      const validated = validateRequest(frame);
      if (!validated.ok) {
        this.options.metrics.clientRequests.inc({ op: 'invalid', code: validated.error.code });
        send({ id: validated.id ?? '', ok: false, error: validated.error.toWire() });
        return;
      }
      const request = validated.request;
      if (!rolePermits(role, request.op)) {
        this.options.metrics.clientRequests.inc({ op: request.op, code: 'PERMISSION_DENIED' });
        send({ id: request.id, ok: false, error: new PermissionDeniedError(`a ${role} token may not use ${request.op}`).toWire() });
        return;
      }
      if (inflight >= protocolLimits.maxInflightRequestsPerConnection || socket.bufferedAmount > maxBufferedBytesPerConnection) {
        send({ id: request.id, ok: false, error: new RateLimitedError('too many requests in flight on this connection').toWire() });
        return;
      }
      if (request.op === 'session.open' && !sessions.mayOpen()) {
        send({ id: request.id, ok: false, error: new RateLimitedError(`at most ${protocolLimits.maxSessionsPerConnection} sessions open per connection; close some first`).toWire() });
        return;
      }
      inflight++;
      const settleSessions = sessions.track(request);
      const context: ConnectionContext = {
        receivedAtMs,
        onClose: (cleanup) => {
          cleanups.add(cleanup);
          return () => cleanups.delete(cleanup);
        },
        startWatch: (args) => this.startWatch(args, watchIds, send),
        cancelWatch: (watchId) => watchIds.delete(watchId) && this.watches.unsubscribe(watchId),
      };
      const reply = (serviceError: ServiceError) => {
        inflight--;
        settleSessions(undefined);
        this.options.metrics.clientRequests.inc({ op: request.op, code: serviceError.code });
        send({ id: request.id, ok: false, error: serviceError.toWire() });
      };
      const execute = (mayRunAgain: boolean) => {
        this.operations.run(request, context).then(
          (result) => {
            inflight--;
            settleSessions(result);
            this.options.metrics.clientRequests.inc({ op: request.op, code: 'OK' });
            send({ id: request.id, ok: true, result });
          },
          (error: unknown) => {
            const serviceError = this.asServiceError(error, request.op);
            // A member that knows no leader (its leader just died, an election is under way) holds
            // "retry later" for up to leaderWaitMs and then names the new leader: the client moves to
            // it the moment it is elected instead of backing off through the endpoints.
            if (serviceError.code === 'UNAVAILABLE' && this.options.driver.role().leaderId === '' && !this.handOff.active) this.handOff.begin(this.options.leaderWaitMs);
            const answer = this.handOff.answer(serviceError);
            if (!(answer instanceof Promise)) {
              reply(answer);
              return;
            }
            void answer.then((released) => {
              // Released unchanged because this member was elected itself: run the request here
              // once more, as the client's retry (same request id, so exactly once) would, without
              // the client's backoff. UNAVAILABLE promised only that it was not done yet.
              if (mayRunAgain && released === serviceError && this.options.driver.role().role === 'leader') execute(false);
              else reply(released);
            });
          },
        );
      };
      execute(true);
    };

    socket.on('close', () => {
      this.connections.delete(socket);
      this.options.metrics.clientConnections.set(this.connections.size);
      for (const cleanup of cleanups) cleanup();
      for (const watchId of watchIds) this.watches.unsubscribe(watchId);
      for (const waiter of [...this.drainWaiters]) waiter();
    });
    socket.on('error', (error) => this.options.logger.debug({ error: error.message }, 'client connection error'));
  }

  private startWatch(args: OperationArgs<'watch.start'>, watchIds: Set<string>, send: (message: ServerPush) => void): OperationResult<'watch.start'> {
    if (watchIds.size >= protocolLimits.maxWatchesPerConnection) throw new RateLimitedError(`at most ${protocolLimits.maxWatchesPerConnection} watches per connection`);
    const watchId = nanoid(12);
    const index = this.options.driver.lastAppliedIndex();
    // The snapshot is built before subscribing, so a failure leaves no watch behind.
    const machine = this.options.driver.stateMachine;
    const kinds = args.kind === undefined ? (['lock', 'election'] as const) : [args.kind];
    const snapshot = kinds.flatMap((kind) => machine.listLocks(kind, args.prefix, protocolLimits.maxListLimit).map(toLockInfo));
    const deliver = (events: readonly WatchEvent[]) => {
      // Keep every push inside the frame limit.
      for (let start = 0; start < events.length; start += maxEventsPerPush) send({ watch: watchId, events: events.slice(start, start + maxEventsPerPush) });
    };
    const end = (reason: WireError) => {
      watchIds.delete(watchId);
      send({ watch: watchId, events: [], ended: reason });
    };
    const outcome = this.watches.subscribe({ watchId, kind: args.kind, prefix: args.prefix, deliver, end }, args.fromIndex);
    if (outcome !== 'resumed' && encodeFrame(snapshot).byteLength > protocolLimits.maxFrameBytes - maxReplyEnvelopeBytes) {
      // Refused here, not by send(): a reply swapped for TOO_LARGE there would leave this watch
      // subscribed, pushing to a client that was told it failed and holding one of its 256 places.
      this.watches.unsubscribe(watchId);
      throw new TooLargeError(`the snapshot of prefix ${JSON.stringify(args.prefix.slice(0, 64))} exceeds the 1 MiB frame limit; watch a narrower prefix`);
    }
    watchIds.add(watchId);
    return outcome === 'resumed' ? { watchId, index, snapshot: null } : { watchId, index, snapshot };
  }

  private completeWait(requestId: string, event: { type: string; name: string; sessionId: string; token?: number }): void {
    const current = this.options.driver.stateMachine.dedupeLookup(requestId);
    if (current === undefined) {
      // Evicted from the bounded table: fall back on the event itself.
      if (event.type === 'acquired') this.waits.granted(requestId, { name: event.name, sessionId: event.sessionId, token: event.token ?? 0 });
      else this.waits.failed(requestId, new SessionExpiredError('the wait ended'));
      return;
    }
    if (!current.ok) {
      this.waits.failed(requestId, serviceErrorFromWire({ code: current.code, message: current.message }));
      return;
    }
    const value = current.value as unknown as Record<string, unknown>;
    if (value.state === 'acquired') this.waits.granted(requestId, { name: String(value.name), sessionId: String(value.sessionId), token: Number(value.token) });
  }

  private asServiceError(error: unknown, op: string): ServiceError {
    if (isServiceError(error)) return error;
    this.options.logger.error({ op, error: error instanceof Error ? error.stack : String(error) }, 'request failed with an unexpected error');
    return new InternalError(`internal error while handling ${op}`);
  }
}

/**
 * The sessions a connection opened and has not closed (protocolLimits.maxSessionsPerConnection),
 * opens in flight included, so that a burst cannot slip past the limit before the first one commits.
 * An expired session stops counting when the limit is next reached (pruned against the state machine).
 */
class ConnectionSessions {
  private readonly open = new Set<string>();
  private opening = 0;

  constructor(private readonly driver: Pick<RaftDriver, 'stateMachine'>) {}

  mayOpen(): boolean {
    if (this.open.size + this.opening < protocolLimits.maxSessionsPerConnection) return true;
    for (const sessionId of this.open) if (this.driver.stateMachine.getSession(sessionId) === undefined) this.open.delete(sessionId);
    return this.open.size + this.opening < protocolLimits.maxSessionsPerConnection;
  }

  /** Call for every request admitted; the returned function with its result (undefined: it failed). */
  track(request: ClientRequest): (result: unknown) => void {
    if (request.op === 'session.open') {
      this.opening++;
      return (result) => {
        this.opening--;
        const sessionId = (result as { sessionId?: unknown } | undefined)?.sessionId;
        if (typeof sessionId === 'string') this.open.add(sessionId);
      };
    }
    if (request.op === 'session.close') return (result) => result !== undefined && this.open.delete((request.args as { sessionId: string }).sessionId);
    return () => {};
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

/**
 * What a watcher sees of a state machine event: everything but the waiter's request id (another
 * client's). Most events carry none (every release), and those are passed on as they are: ending a
 * session with a million locks publishes a million events, and copying each would cost a second.
 */
function toWatchEvent(event: LockEvent): WatchEvent {
  if (event.requestId === undefined) return event;
  return {
    index: event.index,
    type: event.type,
    kind: event.kind,
    name: event.name,
    sessionId: event.sessionId,
    ...(event.token !== undefined ? { token: event.token } : {}),
    ...(event.value !== undefined ? { value: event.value } : {}),
    ...(event.metadata !== undefined ? { metadata: event.metadata } : {}),
  };
}
