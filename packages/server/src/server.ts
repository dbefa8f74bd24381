// startServer: builds one member from a validated ServerConfig — LMDB storage, the lock state
// machine, the Raft driver, the peer transport, the client API and the HTTP port — and returns a
// handle whose shutdown() is the SIGTERM path: hand off leadership, stop taking work, flush, close.

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { decodeSnapshotFileHeader, SnapshotFileError } from '@raftlock/protocol';
import pino from 'pino';
import { createHttpServer } from './api/http-server.js';
import { ClientApi } from './api/client-api.js';
import { ConfigError, clusterIdOf, type ServerConfig } from './config.js';
import { asLogIndex, asNodeId, asTerm, noNode, type NodeId } from './ids.js';
import { defaultLockLimits } from './lock/lock-commands.js';
import { LockStateMachine } from './lock/lock-state-machine.js';
import { makeConfig, type ClusterConfig } from './raft/cluster-config.js';
import type { Logger } from './raft/ports.js';
import { defaultRaftLimits } from './raft/raft-node.js';
import { CryptoRandom } from './runtime/crypto-random.js';
import { Metrics } from './runtime/metrics.js';
import { lockSnapshotCodec } from './runtime/lock-snapshot-codec.js';
import { RaftDriver } from './runtime/raft-driver.js';
import { SystemClock } from './runtime/system-clock.js';
import { LmdbStorage } from './storage/lmdb-storage.js';
import { inspectDataDir } from './storage/inspect-data-dir.js';
import { joiningClusterId } from './storage/storage-identity.js';
import { WsPeerTransport } from './transport/ws-peer-transport.js';

export interface RunningServer {
  /** host:port the HTTP/WebSocket port is bound to. */
  readonly address: string;
  readonly driver: RaftDriver;
  /** SIGTERM: a leader hands leadership to the most up-to-date follower first, then everything closes. */
  shutdown(): Promise<void>;
}

const tickIntervalMs = 10;
/** Membership changes made through the API give up after this long (the change may still commit). */
export const membershipChangeTimeoutMs = 30_000;


/** A backup file (raftlock snapshot save) as a snapshot at its index, for --restore. */
function readBackup(path: string): { index: number; term: number; data: Uint8Array } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new ConfigError(`--restore: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    const { header, dataOffset, fileBytes } = decodeSnapshotFileHeader(bytes);
    if (bytes.byteLength !== fileBytes) throw new SnapshotFileError(`truncated or padded snapshot file: ${bytes.byteLength} bytes, ${fileBytes} expected`);
    const data = new Uint8Array(bytes.subarray(dataOffset));
    // Decoding it now refuses a damaged backup before anything is written to the data dir.
    const restored = lockSnapshotCodec.decode(data);
    if (restored.lastAppliedIndex() !== header.index) throw new SnapshotFileError(`damaged snapshot file: its data is at index ${restored.lastAppliedIndex()}, its header says ${header.index}`);
    return { index: header.index, term: header.term, data };
  } catch (error) {
    if (error instanceof SnapshotFileError) throw new ConfigError(`--restore: ${path}: ${error.message}`);
    throw new ConfigError(`--restore: ${path}: the snapshot data does not decode (${error instanceof Error ? error.message : String(error)})`);
  }
}

export function pinoLogger(level: string, nodeId: string): { logger: Logger; root: pino.Logger } {
  const options: pino.LoggerOptions = { level, base: { nodeId }, redact: { paths: ['peerSecret', 'token', 'authorization'], censor: '[redacted]' } };
  // SPEC §2: pretty output for a person at a terminal, JSON lines for everything else.
  const root = process.stdout.isTTY ? pino(options, pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l' } })) : pino(options);
  const logger: Logger = {
    debug: (fields, message) => root.debug(fields, message),
    info: (fields, message) => root.info(fields, message),
    warn: (fields, message) => root.warn(fields, message),
    error: (fields, message) => root.error(fields, message),
  };
  return { logger, root };
}

/** Binds server to --listen; a port that cannot be had is a ConfigError naming why. */
async function listenOn(server: NetServer, listen: ServerConfig['listen']): Promise<void> {
  try {
    server.listen(listen.port, listen.host);
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`--listen: ${listen.host}:${listen.port} is already in use`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`--listen: ${listen.host} is not an address of this machine`);
    if (code === 'EACCES') throw new ConfigError(`--listen: not allowed to bind ${listen.host}:${listen.port}`);
    throw error;
  }
}

/**
 * Fails on a --listen port that cannot be had before the data dir is touched: a fresh one is stamped
 * with the cluster's identity (from --peers) when it opens, so a start that then failed to bind would
 * leave a data dir that refuses the corrected --peers. A port taken in between is still refused by
 * the real bind, later.
 */
async function checkListenAddress(listen: ServerConfig['listen']): Promise<void> {
  const probe = createNetServer();
  try {
    await listenOn(probe, listen);
  } finally {
    if (probe.listening) await new Promise((resolve) => probe.close(resolve));
  }
}

export async function startServer(config: ServerConfig, options: { logger?: Logger } = {}): Promise<RunningServer> {
  const logger = options.logger ?? pinoLogger(config.logLevel, config.nodeId).logger;
  const nodeId = asNodeId(config.nodeId);
  if (!config.join && !config.peers.has(config.nodeId)) throw new ConfigError(`--id ${config.nodeId} is not one of --peers (${[...config.peers.keys()].join(', ')})`);
  const metrics = new Metrics(true);
  const clock = new SystemClock();
  const backup = config.restoreFile === undefined ? undefined : readBackup(config.restoreFile);
  await checkListenAddress(config.listen);

  // The configuration lives in the data dir (stamped at bootstrap, then replicated). --peers only
  // bootstraps an empty one; given on a restart, it must name the cluster the data dir belongs to.
  const bootstrapConfig: ClusterConfig = config.join
    ? makeConfig([])
    : makeConfig([...config.peers].map(([id, address]) => ({ id: asNodeId(id), address, role: 'voter' as const })));
  // Without --peers, a fresh data dir bootstraps the one-member default; an existing one is trusted.
  const freshDataDir = inspectDataDir(config.dataDir) !== 'environment';
  const expectedClusterId = config.join ? undefined : config.peersGiven || backup !== undefined || freshDataDir ? clusterIdOf(config.peers) : undefined;
  const storage = LmdbStorage.open({
    dataDir: config.dataDir,
    identity: { clusterId: expectedClusterId, nodeId: config.nodeId },
    bootstrapConfig,
    onPersist: (durationMs) => metrics.fsyncSeconds.observe(durationMs / 1000),
  });
  if (!config.join && !config.peersGiven && storage.isEmpty() && storage.identity.clusterId === joiningClusterId) {
    await storage.close();
    throw new ConfigError(`data dir ${config.dataDir} belongs to a member that joined a cluster; start it with --join again, not on its own`);
  }
  if (backup !== undefined) {
    if (!storage.isEmpty()) {
      await storage.close();
      throw new ConfigError(`--restore: data dir ${config.dataDir} is not empty; restore only seeds a new member`);
    }
    // Every member of the new cluster restores the same file: the same snapshot at the same index
    // and term, under the new cluster's configuration, so their logs agree from there on.
    await storage.installSnapshot({ index: asLogIndex(backup.index), term: asTerm(backup.term), config: bootstrapConfig }, backup.data);
    await storage.persist({ term: asTerm(backup.term), votedFor: noNode, commitIndex: asLogIndex(backup.index) }, []);
    logger.info({ file: config.restoreFile, index: backup.index, bytes: backup.data.byteLength }, 'data dir seeded from backup');
  }
  const clusterId = storage.identity.clusterId;
  const stored = storage.readSnapshot();
  const stateMachine = stored.metadata.index === 0 ? new LockStateMachine(defaultLockLimits) : lockSnapshotCodec.decode(stored.data);
  const voters: NodeId[] = [];
  const addresses = new Map<NodeId, string>();
  let fatal = false;
  const driver = new RaftDriver({
    nodeId,
    voters,
    addresses,
    storage,
    stateMachine,
    codec: lockSnapshotCodec,
    snapshotPolicy: { everyEntries: config.snapshotEveryEntries, everyBytes: 64 * 1024 * 1024, trailingEntries: config.snapshotTrailingEntries },
    clock,
    random: new CryptoRandom(),
    logger,
    timing: { tickIntervalMs, heartbeatIntervalMs: config.heartbeatIntervalMs, electionTimeoutMs: config.electionTimeoutMs },
    raftLimits: defaultRaftLimits,
    metrics,
    onFatal: (error) => {
      // Disk failure or a broken invariant: stop serving at once and let the cluster fail over.
      fatal = true;
      logger.error({ error: error instanceof Error ? error.stack : String(error) }, 'fatal error; exiting');
      process.exit(70);
    },
  });
  const transport = new WsPeerTransport({
    nodeId,
    clusterId: clusterId === joiningClusterId ? undefined : clusterId,
    advertise: config.advertise,
    // The driver publishes the configuration's addresses when it starts.
    peers: new Map(),
    acceptsUnknownPeers: () => !driver.configuration().members.some((member) => member.id === nodeId),
    onClusterIdLearned: (learned) => storage.adoptClusterId(learned),
    snapshots: {
      readChunk: (chunk) => storage.readSnapshotChunk(chunk),
      onSnapshot: (message, data) => driver.stepSnapshot(message, data),
      onSendFailed: (peerId) => driver.snapshotSendFailed(peerId),
      pin: () => driver.pinSnapshot(),
    },
    peerSecret: config.peerSecret,
    // Dial peers with wss://, presenting our certificate (mutual TLS when they verify with a CA).
    tls: config.tls === undefined ? undefined : { cert: config.tls.cert, key: config.tls.key, ...(config.tls.ca === undefined ? {} : { ca: config.tls.ca }) },
    onMessage: (message) => driver.step(message),
    onPeerDisconnected: (peerId) => driver.peerDisconnected(peerId),
    logger,
    limits: { maxQueuedMessagesPerPeer: 10_000, maxFrameBytes: 16 * 1024 * 1024, reconnectBackoffMinMs: 50, reconnectBackoffMaxMs: 1000 },
  });
  driver.attachTransport(transport);
  const clientApi = new ClientApi({ driver, clock, logger, metrics, nodeId: config.nodeId, address: config.advertise, maxWatchHistoryEvents: 100_000, clientTokens: config.clientTokens, leaderWaitMs: Math.min(5_000, 2 * config.electionTimeoutMs) });
  for (const warning of config.tls?.warnings ?? []) logger.warn({ warning }, 'TLS configuration');
  const httpServer = createHttpServer({
    clientApi,
    peerUpgrade: (request, socket, head) => transport.handleUpgrade(request, socket, head),
    driver,
    metrics,
    logger,
    nodeId: config.nodeId,
    address: config.advertise,
    tls: config.tls,
  });

  try {
    await listenOn(httpServer, config.listen);
  } catch (error) {
    await transport.close();
    await storage.close();
    throw error;
  }
  const bound = httpServer.address() as AddressInfo;
  const address = bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  driver.start();
  logger.info({ address, tls: config.tls !== undefined, peerCertificates: config.tls?.ca !== undefined, dataDir: config.dataDir, clusterId, members: driver.configuration().members, snapshotIndex: stored.metadata.index }, 'raftlockd member started');

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = () => {
    shutdownPromise ??= (async () => {
      if (!fatal && driver.role().role === 'leader') {
        // Clients asking meanwhile are redirected to the successor as soon as it is known, instead
        // of being told to retry later; the window outlasts the transfer's own timeout.
        clientApi.beginHandOff(2 * config.electionTimeoutMs);
        const handedOff = await driver.transferLeadership(undefined, config.electionTimeoutMs);
        logger.info({ handedOff }, 'leadership hand-off before shutdown');
      }
      // Clients first (no new work), then the driver and the peer links: the HTTP server only
      // finishes closing once the upgraded peer sockets it accepted are gone.
      await clientApi.close();
      await driver.stop();
      await transport.close();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await storage.close();
      logger.info({}, 'raftlockd member stopped');
    })();
    return shutdownPromise;
  };
  return { address, driver, shutdown };
}
