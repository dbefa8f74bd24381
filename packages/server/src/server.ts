// startServer: builds one member from a validated ServerConfig — LMDB storage, the lock state
// machine, the Raft driver, the peer transport, the client API and the HTTP port — and returns a
// handle whose shutdown() is the SIGTERM path: hand off leadership, stop taking work, flush, close.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createHttpServer } from './api/http-server.js';
import { ClientApi } from './api/client-api.js';
import { ConfigError, clusterIdOf, type ServerConfig } from './config.js';
import { asNodeId, type NodeId } from './ids.js';
import { defaultLockLimits } from './lock/lock-commands.js';
import { LockStateMachine } from './lock/lock-state-machine.js';
import type { Logger } from './raft/ports.js';
import { defaultRaftLimits } from './raft/raft-node.js';
import { CryptoRandom } from './runtime/crypto-random.js';
import { Metrics } from './runtime/metrics.js';
import { RaftDriver } from './runtime/raft-driver.js';
import { SystemClock } from './runtime/system-clock.js';
import { LmdbStorage } from './storage/lmdb-storage.js';
import { WsPeerTransport } from './transport/ws-peer-transport.js';

export interface RunningServer {
  /** host:port the HTTP/WebSocket port is bound to. */
  readonly address: string;
  readonly driver: RaftDriver;
  /** SIGTERM: a leader hands leadership to the most up-to-date follower first, then everything closes. */
  shutdown(): Promise<void>;
}

const tickIntervalMs = 10;

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

export async function startServer(config: ServerConfig, options: { logger?: Logger } = {}): Promise<RunningServer> {
  const logger = options.logger ?? pinoLogger(config.logLevel, config.nodeId).logger;
  const nodeId = asNodeId(config.nodeId);
  if (!config.peers.has(config.nodeId)) throw new ConfigError(`--id ${config.nodeId} is not one of --peers (${[...config.peers.keys()].join(', ')})`);
  const clusterId = clusterIdOf(config.peers);
  const metrics = new Metrics(true);
  const clock = new SystemClock();

  const storage = LmdbStorage.open({
    dataDir: config.dataDir,
    identity: { clusterId, nodeId: config.nodeId },
    onPersist: (durationMs) => metrics.fsyncSeconds.observe(durationMs / 1000),
  });
  const voters: NodeId[] = [...config.peers.keys()].map(asNodeId);
  const addresses = new Map<NodeId, string>([...config.peers].map(([id, address]) => [asNodeId(id), address]));
  let fatal = false;
  const driver = new RaftDriver({
    nodeId,
    voters,
    addresses,
    storage,
    stateMachine: new LockStateMachine(defaultLockLimits),
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
  const peerAddresses = new Map<NodeId, string>([...addresses].filter(([id]) => id !== nodeId));
  const transport = new WsPeerTransport({
    nodeId,
    clusterId,
    peers: peerAddresses,
    peerSecret: config.peerSecret,
    tls: undefined,
    onMessage: (message) => driver.step(message),
    logger,
    limits: { maxQueuedMessagesPerPeer: 10_000, maxFrameBytes: 16 * 1024 * 1024, reconnectBackoffMinMs: 50, reconnectBackoffMaxMs: 1000 },
  });
  driver.attachTransport(transport);
  const clientApi = new ClientApi({ driver, clock, logger, metrics, nodeId: config.nodeId, address: config.advertise, maxWatchHistoryEvents: 100_000, clientTokens: config.clientTokens });
  const httpServer = createHttpServer({ clientApi, peerUpgrade: (request, socket, head) => transport.handleUpgrade(request, socket, head), driver, metrics, logger, nodeId: config.nodeId, address: config.advertise });

  try {
    httpServer.listen(config.listen.port, config.listen.host);
    await once(httpServer, 'listening');
  } catch (error) {
    await transport.close();
    await storage.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new ConfigError(`--listen: ${config.listen.host}:${config.listen.port} is already in use`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ConfigError(`--listen: ${config.listen.host} is not an address of this machine`);
    if (code === 'EACCES') throw new ConfigError(`--listen: not allowed to bind ${config.listen.host}:${config.listen.port}`);
    throw error;
  }
  const bound = httpServer.address() as AddressInfo;
  const address = bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  driver.start();
  logger.info({ address, dataDir: config.dataDir, clusterId, voters }, 'raftlockd member started');

  let shutdownPromise: Promise<void> | undefined;
  const shutdown = () => {
    shutdownPromise ??= (async () => {
      if (!fatal && driver.role().role === 'leader') {
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
