// Client: the SDK's entry point (SPEC §6). connect() validates the options, opens the one
// WebSocket (Connection) and resolves once a member — the leader, whenever one is known — answers.
// Sessions, watches and inspection reads all share that socket.

import { performance } from 'node:perf_hooks';
import {
  InvalidArgumentError,
  lockNameProblem,
  UnavailableError,
  type ClusterStatus,
  type OperationArgs,
  type OperationName,
  type SessionInfo,
} from '@raftlock/protocol';
import type { BackoffOptions } from './backoff.js';
import { Connection, type CallOptions, type CallOutcome, type TlsOptions } from './connection.js';
import { Members } from './members.js';
import { Session, type SessionOptions } from './session.js';
import { Snapshots } from './snapshots.js';
import { toLockHolder, toLockState, type ElectionLeader, type LockState, type WatchItem } from './views.js';
import { observeElection, openWatch, type ObserveOptions, type WatchOptions } from './watch-stream.js';

export interface ConnectOptions {
  /**
   * Members to reach the cluster through: `host:port`; any one will do. `wss://host:port` (or
   * `https://`) asks for TLS as `tls: true` does; `ws://` / `http://` for plain.
   */
  readonly endpoints: readonly string[] | string;
  /** Bearer token, sent as `Authorization: Bearer <token>` on the WebSocket upgrade. */
  readonly token?: string;
  /**
   * Connect with wss://, verifying each member's certificate (and its host name) against `ca`,
   * or the system's CAs with `true` or without `ca`. Default: off, unless the endpoints say wss://.
   */
  readonly tls?: TlsOptions | boolean;
  /** How long one request is retried before it fails (default 10 000 ms); connect() waits as long. */
  readonly requestTimeoutMs?: number;
  /** WebSocket handshake and first answer, per member (default 3 000 ms). */
  readonly connectTimeoutMs?: number;
  /** Liveness ping of the socket (default 1 000 ms); two missed pongs and the SDK reconnects. */
  readonly pingIntervalMs?: number;
  /** Jittered exponential backoff between reconnect attempts (default 25 ms doubling to 400 ms). */
  readonly reconnectBackoff?: BackoffOptions;
}

export interface ReadOptions {
  /** Answer from whichever member the client is connected to, without a ReadIndex round. */
  readonly stale?: boolean;
}

export interface ListLocksOptions extends ReadOptions {
  readonly prefix?: string;
  readonly limit?: number;
}

const defaults = {
  requestTimeoutMs: 10_000,
  connectTimeoutMs: 3_000,
  pingIntervalMs: 1_000,
  reconnectBackoff: { initialDelayMs: 25, maxDelayMs: 400 },
  retryBackoff: { initialDelayMs: 20, maxDelayMs: 500 },
} as const;

/** Connect to a raftlock cluster through any of its members. */
export async function connect(options: ConnectOptions): Promise<Client> {
  const endpoints = typeof options.endpoints === 'string' ? options.endpoints.split(',').map((endpoint) => endpoint.trim()).filter(Boolean) : [...options.endpoints];
  if (endpoints.length === 0) throw new InvalidArgumentError('connect: at least one endpoint is required');
  const requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? defaults.requestTimeoutMs);
  const connection = new Connection({
    endpoints,
    token: options.token,
    tls: tlsFor(endpoints, options.tls),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs ?? defaults.connectTimeoutMs),
    pingIntervalMs: positive('pingIntervalMs', options.pingIntervalMs ?? defaults.pingIntervalMs),
    reconnectBackoff: options.reconnectBackoff ?? defaults.reconnectBackoff,
    retryBackoff: defaults.retryBackoff,
  });
  connection.start();
  try {
    await connection.waitReady(requestTimeoutMs);
  } catch (error) {
    connection.close();
    throw error;
  }
  return new Client(connection, requestTimeoutMs);
}

const endpointScheme = /^([a-z][a-z0-9+.-]*):\/\//i;

/** The TLS settings for endpoints and the tls option; refuses the combinations that contradict. */
function tlsFor(endpoints: readonly string[], tls: TlsOptions | boolean | undefined): TlsOptions | undefined {
  const schemes = new Set(endpoints.map((endpoint) => endpointScheme.exec(endpoint.trim())?.[1]?.toLowerCase()).filter((scheme) => scheme !== undefined));
  for (const scheme of schemes) {
    if (!['ws', 'wss', 'http', 'https'].includes(scheme)) throw new InvalidArgumentError(`connect: endpoint scheme ${scheme}:// is not ws://, wss://, http:// or https://`);
  }
  const secure = schemes.has('wss') || schemes.has('https');
  const plain = schemes.has('ws') || schemes.has('http');
  if (secure && plain) throw new InvalidArgumentError('connect: the endpoints mix TLS (wss://, https://) and plain (ws://, http://) members');
  if (secure && tls === false) throw new InvalidArgumentError('connect: wss:// endpoints with tls: false');
  if (plain && tls !== undefined && tls !== false) throw new InvalidArgumentError('connect: ws:// endpoints cannot be reached with tls');
  if (tls === true || (tls === undefined && secure)) return {};
  return tls === false ? undefined : tls;
}

export class Client {
  /** The cluster's configuration: list, and (admin) add, remove, transferLeader. */
  readonly members: Members;
  /** Backups of the replicated state (admin): save(path), for `raftlockd --restore`. */
  readonly snapshot: Snapshots;
  private readonly sessionsOpen = new Set<Session>();
  private readonly streams = new Set<AsyncIterableIterator<unknown>>();
  private closing: Promise<void> | undefined;

  /** Use connect(). */
  constructor(
    private readonly connection: Connection,
    private readonly requestTimeoutMs: number,
  ) {
    const call = <Op extends OperationName>(op: Op, args: OperationArgs<Op>, options: CallOptions<Op>): Promise<CallOutcome<Op>> => {
      this.assertOpen();
      return this.connection.call(op, args, options);
    };
    this.members = new Members(call, requestTimeoutMs);
    this.snapshot = new Snapshots(call, requestTimeoutMs);
  }

  /** The member this client is connected to (host:port), if connected. */
  get connectedTo(): string | undefined {
    return this.connection.address;
  }

  /** Open a session (a lease kept alive in the background). */
  async session(options: SessionOptions = {}): Promise<Session> {
    this.assertOpen();
    const session = await Session.open(
      {
        connection: this.connection,
        requestTimeoutMs: this.requestTimeoutMs,
        observe: (name) => this.observe(name),
        electionLeader: (name) => this.leader(name),
        ended: (ended) => this.sessionsOpen.delete(ended),
      },
      options,
    );
    this.sessionsOpen.add(session);
    return session;
  }

  /** Every change of an election's leader or value, starting with the current one (null: no leader). */
  observe(name: string, options: ObserveOptions = {}): AsyncIterableIterator<ElectionLeader | null> {
    this.assertOpen();
    checkName(name);
    return this.track(observeElection(this.connection, name, options));
  }

  /** Every lock and election event under prefix, in log order; resumes across reconnects. */
  watch(prefix = '', options: WatchOptions = {}): AsyncIterableIterator<WatchItem> {
    this.assertOpen();
    return this.track(openWatch(this.connection, prefix, options));
  }

  /** Locks (not elections) under prefix, with holders, tokens and waiters. */
  async locks(options: ListLocksOptions = {}): Promise<LockState[]> {
    const args = { ...(options.prefix === undefined ? {} : { prefix: options.prefix }), ...(options.limit === undefined ? {} : { limit: options.limit }), ...staleArg(options) };
    const { result } = await this.call('lock.list', args);
    return result.locks.map(toLockState);
  }

  /** One lock, or null when nobody holds or waits for it. */
  async lock(name: string, options: ReadOptions = {}): Promise<LockState | null> {
    checkName(name);
    const { result } = await this.call('lock.get', { name, ...staleArg(options) });
    return result.lock === null ? null : toLockState(result.lock);
  }

  /** The current leader of an election, or null. */
  async leader(name: string, options: ReadOptions = {}): Promise<ElectionLeader | null> {
    checkName(name);
    const { result } = await this.call('election.leader', { name, ...staleArg(options) });
    if (result.leader === null) return null;
    const holder = toLockHolder(result.leader);
    return { name, sessionId: holder.sessionId, token: holder.token, value: holder.value, index: holder.sinceIndex };
  }

  async sessions(options: ReadOptions = {}): Promise<SessionInfo[]> {
    const { result } = await this.call('session.list', staleArg(options));
    return result.sessions;
  }

  /** The connected member's view: members, roles, leader, term, commit and applied indexes. */
  async status(): Promise<ClusterStatus> {
    const { result } = await this.call('cluster.status', {});
    return result;
  }

  /** Admin: release a lock whoever holds it (the holder's signal is NOT aborted: fencing protects). */
  async forceRelease(name: string): Promise<{ released: boolean; previousSessionId: string | null }> {
    checkName(name);
    const { result } = await this.call('lock.forceRelease', { name });
    return result;
  }

  /** Close every session (releasing their locks), end every stream, and close the socket. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const stream of this.streams) void stream.return?.();
      await Promise.allSettled([...this.sessionsOpen].map((session) => session.close()));
      this.connection.close();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private call<Op extends OperationName>(op: Op, args: OperationArgs<Op>): Promise<CallOutcome<Op>> {
    this.assertOpen();
    return this.connection.call(op, args, { deadlineMs: performance.now() + this.requestTimeoutMs });
  }

  private track<T>(stream: AsyncIterableIterator<T>): AsyncIterableIterator<T> {
    this.streams.add(stream as AsyncIterableIterator<unknown>);
    const originalReturn = stream.return?.bind(stream);
    stream.return = (value?: unknown) => {
      this.streams.delete(stream as AsyncIterableIterator<unknown>);
      return originalReturn ? originalReturn(value) : Promise.resolve({ value: undefined, done: true });
    };
    return stream;
  }

  private assertOpen(): void {
    if (this.closing) throw new UnavailableError('the client is closed');
  }
}

function checkName(name: string): void {
  const problem = lockNameProblem(name);
  if (problem !== undefined) throw new InvalidArgumentError(`lock name ${problem}`);
}

function staleArg(options: ReadOptions): { stale?: boolean } {
  return options.stale === undefined ? {} : { stale: options.stale };
}

function positive(field: string, value: number): number {
  if (!(Number.isFinite(value) && value > 0)) throw new InvalidArgumentError(`connect: ${field} must be a positive number of milliseconds`);
  return value;
}
