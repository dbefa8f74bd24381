// ServerConfig: everything a member needs, validated when it is built (hashicorp/raft's
// ValidateConfig). Each problem is a ConfigError whose message is the one line raftlockd prints.

import { createHash } from 'node:crypto';
import { isPort, memberIdProblem, splitHostPort, type HostPort } from '@raftlock/protocol';
import type { ClientTokens } from './api/client-tokens.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type { HostPort };

export interface ServerTls {
  /** PEM: this member's certificate (and any intermediates after it). */
  readonly cert: Buffer;
  /** PEM: its private key. */
  readonly key: Buffer;
  /** PEM: the CA(s) peers' certificates must chain to; undefined: the system's CAs, no peer certificates asked for. */
  readonly ca: Buffer | undefined;
  /** Things that will not stop the member but that its operator should hear about. */
  readonly warnings: readonly string[];
}

export interface ServerConfig {
  readonly nodeId: string;
  readonly listen: HostPort;
  /** host:port other members and clients use to reach this member. */
  readonly advertise: string;
  /** Initial voters, id → host:port, this member included (used to bootstrap an empty data dir). */
  readonly peers: ReadonlyMap<string, string>;
  /**
   * Whether --peers was given. Without it a member restarts from the configuration in its data dir
   * (a fresh data dir bootstraps a one-member cluster); with it, the data dir must belong to the
   * cluster that list bootstrapped.
   */
  readonly peersGiven: boolean;
  /** --join: start empty, outside the configuration, and wait to be added. */
  readonly join: boolean;
  /** --restore: seed an empty data dir from this backup file first. */
  readonly restoreFile: string | undefined;
  /** Snapshot (and compact the log) every this many applied entries. */
  readonly snapshotEveryEntries: number;
  /** Entries kept behind a snapshot for followers that are only a little behind. */
  readonly snapshotTrailingEntries: number;
  readonly dataDir: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly peerSecret: string | undefined;
  /** Client bearer tokens and roles; undefined: clients need no token. */
  readonly clientTokens: ClientTokens | undefined;
  /** --tls-cert/--tls-key/--tls-ca: serve https:// and wss://, dial peers with wss://; undefined: plain. */
  readonly tls: ServerTls | undefined;
  readonly logLevel: string;
}

export function validateNodeId(id: string, where: string): string {
  if (memberIdProblem(id) !== undefined) throw new ConfigError(`${where}: member id "${id}" must match [a-z0-9-]{1,32}`);
  return id;
}

/** host:port by the rule members.add and the CLI use too (@raftlock/protocol's member-address). */
export function parseHostPort(value: string, where: string): HostPort {
  const split = splitHostPort(value.trim());
  if (split === undefined) throw new ConfigError(`${where}: "${value}" is not host:port`);
  if (!isPort(split.port)) throw new ConfigError(`${where}: port ${split.port} is outside 1–65535`);
  return split;
}

/** `n1=127.0.0.1:7071,n2=127.0.0.1:7072` → Map; rejects duplicates and malformed items. */
export function parsePeers(value: string): Map<string, string> {
  const peers = new Map<string, string>();
  const items = value.split(',').map((item) => item.trim()).filter((item) => item.length > 0);
  if (items.length === 0) throw new ConfigError('--peers: the list is empty');
  for (const item of items) {
    const separator = item.indexOf('=');
    if (separator <= 0) throw new ConfigError(`--peers: "${item}" is not id=host:port`);
    const id = validateNodeId(item.slice(0, separator).trim(), '--peers');
    const address = item.slice(separator + 1).trim();
    parseHostPort(address, `--peers ${id}`);
    if (peers.has(id)) throw new ConfigError(`--peers: member "${id}" is listed twice`);
    if ([...peers.values()].includes(address)) throw new ConfigError(`--peers: address ${address} is listed twice`);
    peers.set(id, address);
  }
  return peers;
}

/** The same initial member list gives the same id on every member; another list, another cluster. */
export function clusterIdOf(peers: ReadonlyMap<string, string>): string {
  const canonical = [...peers.entries()]
    // Plain code-unit order: the same on every machine, whatever its locale.
    .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0))
    .map(([id, address]) => `${id}=${address}`)
    .join(',');
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}

export function validateTiming(heartbeatIntervalMs: number, electionTimeoutMs: number): void {
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 10) throw new ConfigError(`--heartbeat-ms must be an integer ≥ 10, got ${heartbeatIntervalMs}`);
  if (!Number.isInteger(electionTimeoutMs) || electionTimeoutMs < 3 * heartbeatIntervalMs) {
    throw new ConfigError(`--election-timeout-ms (${electionTimeoutMs}) must be an integer at least 3× --heartbeat-ms (${heartbeatIntervalMs})`);
  }
}
