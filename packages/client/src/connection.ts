// Connection: the SDK's one WebSocket to the cluster (SPEC §5, §6). It owns
//   - leader discovery: each new socket is probed with cluster.status, and a follower that names a
//     leader is left for that leader before any request is sent;
//   - redirects: a NOT_LEADER reply, or a goAway notice from a member shutting down, moves the
//     socket to the leader it names at once, and every call is re-sent there without backoff;
//   - reconnects rotating through the endpoints, the member just left last: each endpoint is tried
//     once before a jittered exponential backoff, so one member going away costs no sleep;
//   - multiplexing: requests are matched to replies by id, pushes to watches by watch id;
//   - retries: a request is re-sent with the SAME id (the exactly-once key, SPEC §3.4) after a
//     retriable error or a lost connection, until its deadline, so a retry after a leader crash
//     returns the original result.
//
// Invariants:
//   - a call has at most one attempt outstanding, and only on the current socket: a reply is taken
//     only from the socket that carries the call's latest attempt, so `sentAtMs` of a result is the
//     send time of the attempt that was answered (the session lease depends on it);
//   - every call settles exactly once: by a reply, its deadline, its signal, or close().

import { performance } from 'node:perf_hooks';
import { nanoid } from 'nanoid';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import {
  corkForBurst,
  decodeFrame,
  encodeFrame,
  isRetriable,
  isServiceError,
  PermissionDeniedError,
  protocolLimits,
  serviceErrorFromWire,
  TimeoutError,
  UnauthenticatedError,
  UnavailableError,
  type ClientReply,
  type ClusterStatus,
  type ErrorCode,
  type GoAwayNotice,
  type OperationArgs,
  type OperationName,
  type OperationResult,
  type ServerMessage,
  type ServerPush,
  type ServiceError,
} from '@raftlock/protocol';
import { Backoff, type BackoffOptions } from './backoff.js';

/** TLS settings for `wss://` (passed to ws / node:tls). */
export interface TlsOptions {
  /** CA certificate(s) that signed the members' certificates (PEM). */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** Client certificate and key (PEM), when the members ask for one. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly passphrase?: string;
  /** Default true. Turn off only against a test cluster with self-signed certificates. */
  readonly rejectUnauthorized?: boolean;
  readonly servername?: string;
}

export interface ConnectionOptions {
  readonly endpoints: readonly string[];
  readonly token: string | undefined;
  /** Use wss:// with these settings; undefined means ws://. */
  readonly tls: TlsOptions | undefined;
  /** WebSocket handshake plus the cluster.status probe, per attempt. */
  readonly connectTimeoutMs: number;
  /** A ping this often; a socket that misses two pongs is dropped and replaced. */
  readonly pingIntervalMs: number;
  readonly reconnectBackoff: BackoffOptions;
  readonly retryBackoff: BackoffOptions;
}

export interface CallOptions<Op extends OperationName = OperationName> {
  /** The request id (exactly-once key); a fresh nanoid by default. */
  readonly id?: string;
  /** Monotonic time (performance.now()) after which the call gives up; undefined: never. */
  readonly deadlineMs?: number;
  /** Which error codes to retry with the same id; default isRetriable. */
  readonly retryOn?: (code: ErrorCode) => boolean;
  /** Aborting rejects the call with the signal's reason and stops retrying. */
  readonly signal?: AbortSignal;
  /**
   * Runs synchronously with the reply, before any later frame is handled. ws emits every frame of
   * one TCP read in the same tick, so a watch must claim its id here: the pushes that follow its
   * reply may be handled before a promise continuation would run.
   */
  readonly onResult?: (result: OperationResult<Op>) => void;
}

export interface CallOutcome<Op extends OperationName> {
  readonly result: OperationResult<Op>;
  /** performance.now() when the answered attempt was sent. */
  readonly sentAtMs: number;
  /** performance.now() when the first attempt was sent. */
  readonly firstSentAtMs: number;
}

interface PendingCall {
  readonly id: string;
  readonly op: OperationName;
  readonly args: unknown;
  readonly retryOn: (code: ErrorCode) => boolean;
  readonly backoff: Backoff;
  firstSentAtMs: number | undefined;
  lastSentAtMs: number | undefined;
  /** The socket carrying the unanswered attempt, if any. */
  outstandingOn: WebSocket | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  deadlineTimer: NodeJS.Timeout | undefined;
  lastError: ServiceError | undefined;
  detachSignal: (() => void) | undefined;
  readonly onResult: ((result: never) => void) | undefined;
  readonly resolve: (outcome: CallOutcome<OperationName>) => void;
  readonly reject: (error: unknown) => void;
}

type ProbeOutcome =
  | { readonly kind: 'ready'; readonly socket: WebSocket; readonly status: ClusterStatus }
  | { readonly kind: 'redirect'; readonly leader: string }
  | { readonly kind: 'failed'; readonly error: Error };

/** Consecutive UNAVAILABLE answers after which a socket is left for another member. */
const maxUnavailableRepliesPerSocket = 4;
/** Redirects followed back to back before backing off (a stale leader hint can bounce). */
const maxImmediateRedirects = 2;

export class Connection {
  private socket: WebSocket | undefined;
  private socketAddress: string | undefined;
  private socketUnavailableReplies = 0;
  private leaderHint: string | undefined;
  /** The member the last socket went to: tried last on the next reconnect (it just closed or failed us). */
  private leftAddress: string | undefined;
  private endpointCursor = 0;
  private connecting = false;
  private closed = false;
  private lastConnectError: Error | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private lastPongAtMs = 0;
  private reconnectTimer: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private readonly reconnectBackoff: Backoff;
  private readonly addresses: readonly string[];
  private readonly calls = new Map<string, PendingCall>();
  private readonly pushListeners = new Map<string, (push: ServerPush) => void>();
  private readonly readyListeners = new Set<() => void>();
  private readonly readyWaiters = new Set<() => void>();

  constructor(private readonly options: ConnectionOptions) {
    if (options.endpoints.length === 0) throw new RangeError('at least one endpoint is required');
    this.addresses = options.endpoints.map(addressOf);
    this.reconnectBackoff = new Backoff(options.reconnectBackoff);
  }

  /** Start connecting in the background. */
  start(): void {
    void this.connectLoop();
  }

  get isReady(): boolean {
    return this.socket !== undefined;
  }

  /** The member the socket is connected to (host:port), when connected. */
  get address(): string | undefined {
    return this.socketAddress;
  }

  /** The last reason a connection attempt failed, for error messages. */
  get lastError(): Error | undefined {
    return this.lastConnectError;
  }

  /** Resolves once a socket is ready; rejects after timeoutMs, or when closed. */
  waitReady(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(new UnavailableError('the client is closed'));
    if (this.socket) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        if (this.socket) resolve();
        else if (isCredentialError(this.lastConnectError)) reject(this.lastConnectError);
        else reject(new UnavailableError('the client is closed'));
      };
      const timer = setTimeout(() => {
        this.readyWaiters.delete(done);
        const cause = this.lastConnectError ? `: ${this.lastConnectError.message}` : '';
        reject(new UnavailableError(`no member of ${this.options.endpoints.join(', ')} reachable within ${timeoutMs} ms${cause}`));
      }, timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  /** Listen for every (re)connection; returns the unsubscribe function. */
  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  onPush(watchId: string, listener: (push: ServerPush) => void): () => void {
    this.pushListeners.set(watchId, listener);
    return () => {
      if (this.pushListeners.get(watchId) === listener) this.pushListeners.delete(watchId);
    };
  }

  /** Send a request, retrying it with the same id until it is answered definitively. */
  call<Op extends OperationName>(op: Op, args: OperationArgs<Op>, options: CallOptions<Op> = {}): Promise<CallOutcome<Op>> {
    if (this.closed) return Promise.reject(new UnavailableError('the client is closed'));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const id = options.id ?? nanoid();
    if (this.calls.has(id)) return Promise.reject(new RangeError(`request id ${id} is already in flight`));
    return new Promise<CallOutcome<Op>>((resolve, reject) => {
      const call: PendingCall = {
        id,
        op,
        args,
        retryOn: options.retryOn ?? isRetriable,
        backoff: new Backoff(this.options.retryBackoff),
        firstSentAtMs: undefined,
        lastSentAtMs: undefined,
        outstandingOn: undefined,
        retryTimer: undefined,
        deadlineTimer: undefined,
        lastError: undefined,
        detachSignal: undefined,
        onResult: options.onResult as ((result: never) => void) | undefined,
        resolve: resolve as (outcome: CallOutcome<OperationName>) => void,
        reject,
      };
      this.calls.set(id, call);
      if (options.deadlineMs !== undefined) {
        call.deadlineTimer = setTimeout(() => this.expire(call), Math.max(0, options.deadlineMs - performance.now()));
      }
      const signal = options.signal;
      if (signal) {
        const onAbort = () => this.settle(call, { ok: false, error: signal.reason });
        signal.addEventListener('abort', onAbort, { once: true });
        call.detachSignal = () => signal.removeEventListener('abort', onAbort);
      }
      this.send(call);
    });
  }

  /** Whether any attempt of the call with this id has been written to a socket. */
  wasSent(id: string): boolean {
    return this.calls.get(id)?.firstSentAtMs !== undefined;
  }

  /** Settle a call locally with an error, without waiting for the server (it may still apply it). */
  abandon(id: string, error: unknown): void {
    const call = this.calls.get(id);
    if (call) this.settle(call, { ok: false, error });
  }

  /** Leave the current member and find the leader again (e.g. it stopped answering). */
  reconnect(): void {
    this.dropSocket();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const error = new UnavailableError('the client is closed');
    for (const call of [...this.calls.values()]) this.settle(call, { ok: false, error });
    for (const waiter of [...this.readyWaiters]) waiter();
    this.readyListeners.clear();
    this.pushListeners.clear();
    this.reconnectTimer?.wake();
    const socket = this.socket;
    this.detachSocket();
    if (socket) closeQuietly(socket);
  }

  // ---- sending and replies --------------------------------------------------------------------

  private send(call: PendingCall): void {
    const socket = this.socket;
    if (!socket || call.outstandingOn === socket || call.retryTimer !== undefined) return;
    const nowMs = performance.now();
    call.firstSentAtMs ??= nowMs;
    call.lastSentAtMs = nowMs;
    call.outstandingOn = socket;
    corkForBurst(socket); // calls made in one burst leave in one write
    socket.send(encodeFrame({ id: call.id, op: call.op, args: call.args }), { binary: true }, (error) => {
      // A failed write means the socket is going away; its close handler re-sends the call.
      if (error && socket === this.socket) this.dropSocket();
    });
  }

  private onMessage(socket: WebSocket, data: RawData): void {
    if (socket !== this.socket) return;
    let message: ServerMessage;
    try {
      message = decodeFrame(toBytes(data)) as ServerMessage;
    } catch {
      this.dropSocket(); // a member never sends an undecodable frame: treat the socket as broken
      return;
    }
    if (typeof message !== 'object' || message === null) return;
    if ('watch' in message) {
      this.pushListeners.get(message.watch)?.(message);
      return;
    }
    if ('goAway' in message) {
      this.onGoAway(message.goAway);
      return;
    }
    this.onReply(socket, message);
  }

  /** The member is closing this socket on purpose (shutting down): leave now, for the leader it names. */
  private onGoAway(notice: GoAwayNotice['goAway'] | undefined): void {
    const leader = typeof notice === 'object' && notice !== null && typeof notice.leader === 'string' && notice.leader !== '' ? notice.leader : undefined;
    if (leader !== undefined && leader !== this.socketAddress) this.leaderHint = leader;
    this.dropSocket();
  }

  private onReply(socket: WebSocket, reply: ClientReply): void {
    const call = this.calls.get(reply.id);
    if (!call || call.outstandingOn !== socket) return; // an answer to an attempt we no longer wait for
    call.outstandingOn = undefined;
    if (reply.ok) {
      this.socketUnavailableReplies = 0;
      this.settle(call, { ok: true, result: reply.result });
      return;
    }
    const error = serviceErrorFromWire(reply.error);
    call.lastError = error;
    if (!call.retryOn(error.code)) {
      this.settle(call, { ok: false, error });
      return;
    }
    if (error.code === 'NOT_LEADER' && error.leader !== undefined && error.leader !== this.socketAddress) {
      // Follow the redirect: every call is re-sent on the leader's socket.
      this.leaderHint = error.leader;
      this.dropSocket();
      return;
    }
    if (error.code === 'UNAVAILABLE' || error.code === 'NOT_LEADER') {
      this.socketUnavailableReplies++;
      if (this.socketUnavailableReplies >= maxUnavailableRepliesPerSocket) {
        // This member has known no leader for a while (it may be cut off): try another one.
        this.dropSocket();
        return;
      }
    }
    this.scheduleRetry(call);
  }

  private scheduleRetry(call: PendingCall): void {
    const delayMs = call.backoff.next();
    call.retryTimer = setTimeout(() => {
      call.retryTimer = undefined;
      if (this.calls.get(call.id) === call) this.send(call);
    }, delayMs);
  }

  private expire(call: PendingCall): void {
    call.deadlineTimer = undefined;
    const error = call.lastError ?? (this.socket ? new TimeoutError(`${call.op}: no answer before the deadline`) : new UnavailableError(`${call.op}: no member reachable before the deadline${this.lastConnectError ? ` (${this.lastConnectError.message})` : ''}`));
    this.settle(call, { ok: false, error });
  }

  private settle(call: PendingCall, outcome: { ok: true; result: unknown } | { ok: false; error: unknown }): void {
    if (this.calls.get(call.id) !== call) return;
    this.calls.delete(call.id);
    clearTimeout(call.retryTimer);
    clearTimeout(call.deadlineTimer);
    call.detachSignal?.();
    if (outcome.ok) {
      call.onResult?.(outcome.result as never);
      const sentAtMs = call.lastSentAtMs ?? performance.now();
      call.resolve({ result: outcome.result as never, sentAtMs, firstSentAtMs: call.firstSentAtMs ?? sentAtMs });
    } else {
      call.reject(outcome.error);
    }
  }

  // ---- sockets ----------------------------------------------------------------------------------

  private async connectLoop(): Promise<void> {
    if (this.connecting || this.closed) return;
    this.connecting = true;
    let redirectsInRow = 0;
    // Endpoints tried since the last sleep; the member just left counts as tried, so it comes last.
    const tried = new Set<string>(this.leftAddress === undefined ? [] : [this.leftAddress]);
    this.leftAddress = undefined;
    try {
      while (!this.closed && !this.socket) {
        const address = this.nextAddress(tried);
        tried.add(address);
        const outcome = await this.probe(address);
        if (this.closed) {
          if (outcome.kind === 'ready') closeQuietly(outcome.socket);
          return;
        }
        if (outcome.kind === 'ready') {
          this.install(outcome.socket, address);
          return;
        }
        if (outcome.kind === 'redirect') {
          this.leaderHint = outcome.leader;
          redirectsInRow++;
          if (redirectsInRow <= maxImmediateRedirects) continue;
        } else {
          this.lastConnectError = outcome.error;
          // Wrong or missing credentials will not get better by retrying: tell connect() now.
          if (isCredentialError(outcome.error)) for (const waiter of [...this.readyWaiters]) waiter();
          // One member refusing (shutting down, crashed) says nothing of the others: back off only
          // once every endpoint has failed since the last sleep.
          else if (!this.addresses.every((endpoint) => tried.has(endpoint))) continue;
        }
        redirectsInRow = 0;
        tried.clear();
        await this.sleepBeforeReconnect(this.reconnectBackoff.next());
      }
    } finally {
      this.connecting = false;
    }
  }

  /** The leader hint if there is one, else the next endpoint in rotation not in `tried` (if any is left). */
  private nextAddress(tried: ReadonlySet<string>): string {
    const hint = this.leaderHint;
    this.leaderHint = undefined;
    if (hint !== undefined) return hint;
    for (let skipped = 0; skipped < this.addresses.length; skipped++) {
      const address = this.addresses[this.endpointCursor % this.addresses.length] as string;
      this.endpointCursor++;
      if (!tried.has(address)) return address;
    }
    return this.addresses[this.endpointCursor++ % this.addresses.length] as string;
  }

  private sleepBeforeReconnect(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.reconnectTimer = undefined;
        resolve();
      };
      const timer = setTimeout(wake, delayMs);
      this.reconnectTimer = { timer, wake };
    });
  }

  /** Open a socket to address and ask it who leads. */
  private async probe(address: string): Promise<ProbeOutcome> {
    const clientOptions: ClientOptions = {
      handshakeTimeout: this.options.connectTimeoutMs,
      maxPayload: protocolLimits.maxFrameBytes,
      perMessageDeflate: false,
      headers: this.options.token === undefined ? {} : { authorization: `Bearer ${this.options.token}` },
      ...(this.options.tls ? tlsClientOptions(this.options.tls) : {}),
    };
    let socket: WebSocket;
    try {
      socket = new WebSocket(`${this.options.tls ? 'wss' : 'ws'}://${address}/v1/client`, clientOptions);
    } catch (error) {
      return { kind: 'failed', error: asError(error, `cannot connect to ${address}`) };
    }
    socket.on('error', () => {}); // every failure also closes the socket, which is what we act on
    const opened = await new Promise<Error | undefined>((resolve) => {
      socket.once('open', () => resolve(undefined));
      socket.once('error', (error) => resolve(asError(error, `cannot connect to ${address}`)));
      socket.once('unexpected-response', (_request, response) => {
        const refused = `${address} refused the WebSocket upgrade with HTTP ${response.statusCode ?? '?'}`;
        if (response.statusCode === 401) resolve(new UnauthenticatedError(`${refused}: a valid token is required`));
        else if (response.statusCode === 403) resolve(new PermissionDeniedError(`${refused}: the token is not allowed here`));
        else resolve(new UnavailableError(refused));
      });
      socket.once('close', () => resolve(new UnavailableError(`${address} closed the connection`)));
    });
    if (opened) {
      socket.terminate();
      return { kind: 'failed', error: isServiceError(opened) ? opened : new UnavailableError(`${address}: ${opened.message}`) };
    }
    const probeId = `probe-${nanoid(10)}`;
    const answer = await new Promise<ClientReply | Error>((resolve) => {
      const timer = setTimeout(() => resolve(new UnavailableError(`${address} did not answer cluster.status within ${this.options.connectTimeoutMs} ms`)), this.options.connectTimeoutMs);
      const onMessage = (data: RawData) => {
        let message: unknown;
        try {
          message = decodeFrame(toBytes(data));
        } catch {
          return;
        }
        const reply = message as ClientReply;
        if (typeof reply !== 'object' || reply === null || reply.id !== probeId) return;
        clearTimeout(timer);
        socket.off('message', onMessage);
        resolve(reply);
      };
      socket.on('message', onMessage);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve(new UnavailableError(`${address} closed the connection`));
      });
      socket.send(encodeFrame({ id: probeId, op: 'cluster.status', args: {} }), { binary: true });
    });
    if (answer instanceof Error) {
      socket.terminate();
      return { kind: 'failed', error: answer };
    }
    if (!answer.ok) {
      socket.terminate();
      return { kind: 'failed', error: serviceErrorFromWire(answer.error) };
    }
    const status = answer.result as ClusterStatus;
    if (status.role !== 'leader' && typeof status.leaderAddress === 'string' && status.leaderAddress !== '' && status.leaderAddress !== address) {
      closeQuietly(socket);
      return { kind: 'redirect', leader: status.leaderAddress };
    }
    // A leader, or a member that knows none yet: requests will be answered UNAVAILABLE and retried.
    return { kind: 'ready', socket, status };
  }

  private install(socket: WebSocket, address: string): void {
    this.socket = socket;
    this.socketAddress = address;
    this.socketUnavailableReplies = 0;
    this.lastConnectError = undefined;
    this.reconnectBackoff.reset();
    this.lastPongAtMs = performance.now();
    socket.on('message', (data) => this.onMessage(socket, data));
    socket.on('close', () => this.onSocketClosed(socket));
    socket.on('pong', () => (this.lastPongAtMs = performance.now()));
    this.pingTimer = setInterval(() => this.ping(socket), this.options.pingIntervalMs);
    this.pingTimer.unref();
    for (const waiter of [...this.readyWaiters]) waiter();
    for (const listener of [...this.readyListeners]) listener();
    for (const call of [...this.calls.values()]) {
      // A retry waiting out its backoff was told "not now" by another member (or this one, a
      // reconnect ago, which reconnect backoff paces): this socket may answer it now.
      clearTimeout(call.retryTimer);
      call.retryTimer = undefined;
      this.send(call);
    }
  }

  private ping(socket: WebSocket): void {
    if (socket !== this.socket) return;
    if (performance.now() - this.lastPongAtMs > 2.5 * this.options.pingIntervalMs) {
      // Two pings unanswered: the member is frozen or the network is cut without a reset.
      this.dropSocket();
      return;
    }
    try {
      socket.ping();
    } catch {
      this.dropSocket();
    }
  }

  private onSocketClosed(socket: WebSocket): void {
    if (socket !== this.socket) return;
    this.leftAddress = this.socketAddress;
    this.detachSocket();
    if (!this.closed) void this.connectLoop();
  }

  /** Stop using the current socket; every call waiting on it is re-sent on the next one. */
  private dropSocket(): void {
    const socket = this.socket;
    if (!socket) return;
    this.leftAddress = this.socketAddress;
    this.detachSocket();
    socket.terminate();
    if (!this.closed) void this.connectLoop();
  }

  private detachSocket(): void {
    const socket = this.socket;
    this.socket = undefined;
    this.socketAddress = undefined;
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
    for (const call of this.calls.values()) if (call.outstandingOn === socket) call.outstandingOn = undefined;
  }
}

/** `host:port`, `ws://host:port[/…]` or `http(s)://host:port` → `host:port`. */
export function addressOf(endpoint: string): string {
  const trimmed = endpoint.trim();
  if (trimmed === '') throw new RangeError('an endpoint must not be empty');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) return new URL(trimmed).host;
  return trimmed;
}

function tlsClientOptions(tls: TlsOptions): ClientOptions {
  const options: Record<string, unknown> = {};
  if (tls.ca !== undefined) options.ca = tls.ca;
  if (tls.cert !== undefined) options.cert = tls.cert;
  if (tls.key !== undefined) options.key = tls.key;
  if (tls.passphrase !== undefined) options.passphrase = tls.passphrase;
  if (tls.rejectUnauthorized !== undefined) options.rejectUnauthorized = tls.rejectUnauthorized;
  if (tls.servername !== undefined) options.servername = tls.servername;
  return options as ClientOptions;
}

function closeQuietly(socket: WebSocket): void {
  try {
    socket.close(1000, 'client leaving');
  } catch {
    socket.terminate();
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

function isCredentialError(error: unknown): error is Error {
  return isServiceError(error) && (error.code === 'UNAUTHENTICATED' || error.code === 'PERMISSION_DENIED');
}

function asError(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(fallback);
}
