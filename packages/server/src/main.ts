#!/usr/bin/env node
// raftlockd: flags (yargs) → ServerConfig → startServer(). Every bad configuration exits non-zero
// with one line naming the problem (SPEC §2); SIGTERM and SIGINT shut down cleanly and exit 0.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ClientTokens, TokenFileError } from './api/client-tokens.js';
import { ConfigError, parseHostPort, parsePeers, validateNodeId, validateTiming, type ServerConfig } from './config.js';
import { loadServerTls } from './server-tls.js';

const exitCodes = { usage: 2, config: 1 } as const;
const shutdownDeadlineMs = 15_000;

function fail(message: string, exitCode: number): never {
  process.stderr.write(`raftlockd: ${message}\n`);
  process.exit(exitCode);
}

/** yargs reports some problems over several lines; the contract is one line. */
function oneLine(message: string): string {
  return message.split('\n').map((line) => line.trim()).filter((line) => line.length > 0).join(' ');
}

/** yargs' message as the one line raftlockd prints, naming a flag given without its value as such. */
function usageProblem(message: string): string {
  const missingValue = /^Not enough arguments following: (\S+)$/.exec(message.trim());
  return missingValue ? `--${missingValue[1]} needs a value` : oneLine(message);
}

function readSecretFile(path: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const secret = text.trim();
  if (secret.length < 16) throw new ConfigError(`${flag}: the secret in ${path} must be at least 16 characters`);
  return secret;
}

function readTokenFile(path: string): ClientTokens {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--token-file: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return ClientTokens.parse(text, `--token-file ${path}`);
  } catch (error) {
    if (error instanceof TokenFileError) throw new ConfigError(error.message);
    throw error;
  }
}

/** A path flag given as `--flag=` (or `--flag ""`): refused, not read as the current directory or "". */
function nonEmpty(value: unknown, flag: string): string {
  const text = String(value);
  if (text.trim() === '') throw new ConfigError(`${flag} needs a value`);
  return text;
}

function buildConfig(argv: Record<string, unknown>): ServerConfig {
  const nodeId = validateNodeId(String(argv.id), '--id');
  const listenText = String(argv.listen);
  const listen = parseHostPort(listenText, '--listen');
  const advertise = argv.advertise === undefined ? listenText : String(argv.advertise);
  parseHostPort(advertise, '--advertise');
  const peers = argv.peers === undefined ? new Map([[nodeId, advertise]]) : parsePeers(String(argv.peers));
  if (!peers.has(nodeId)) throw new ConfigError(`--id ${nodeId} is missing from --peers (${[...peers.keys()].join(', ')})`);
  if (peers.get(nodeId) !== advertise) throw new ConfigError(`--peers lists ${nodeId} at ${peers.get(nodeId)}, but this member advertises ${advertise} (set --advertise or fix --peers)`);
  const heartbeatIntervalMs = Number(argv['heartbeat-ms']);
  const electionTimeoutMs = Number(argv['election-timeout-ms']);
  validateTiming(heartbeatIntervalMs, electionTimeoutMs);
  const joining = argv.join === true;
  if (joining && argv.peers !== undefined) throw new ConfigError('--join and --peers exclude each other: a joining member learns the members from the cluster');
  if (joining && argv.restore !== undefined) throw new ConfigError('--join and --restore exclude each other: a joining member gets its state from the cluster');
  const snapshotEveryEntries = Number(argv['snapshot-entries']);
  const snapshotTrailingEntries = Number(argv['snapshot-trailing']);
  if (!Number.isSafeInteger(snapshotEveryEntries) || snapshotEveryEntries < 100) throw new ConfigError(`--snapshot-entries must be an integer ≥ 100, got ${String(argv['snapshot-entries'])}`);
  if (!Number.isSafeInteger(snapshotTrailingEntries) || snapshotTrailingEntries < 0) throw new ConfigError(`--snapshot-trailing must be an integer ≥ 0, got ${String(argv['snapshot-trailing'])}`);
  // A path flag given empty (say --tls-cert="$CERT" with CERT unset) is refused, not read as unset:
  // a member meant to serve TLS must not start in plain text without a word. (An empty environment
  // variable counts as unset, as for every flag: environmentDefaults.)
  const pathOf = (flag: string) => (argv[flag] === undefined ? undefined : nonEmpty(argv[flag], `--${flag}`));
  const peerSecretFile = pathOf('peer-secret-file');
  const peerSecret = peerSecretFile === undefined ? undefined : readSecretFile(peerSecretFile, '--peer-secret-file');
  const tokenFile = pathOf('token-file');
  const clientTokens = tokenFile === undefined ? undefined : readTokenFile(tokenFile);
  const tls = loadServerTls({ certPath: pathOf('tls-cert'), keyPath: pathOf('tls-key'), caPath: pathOf('tls-ca'), advertise, nowMs: Date.now() });
  return {
    nodeId,
    listen,
    advertise,
    peers,
    peersGiven: argv.peers !== undefined,
    join: joining,
    restoreFile: pathOf('restore'),
    snapshotEveryEntries,
    snapshotTrailingEntries,
    dataDir: pathOf('data-dir') ?? join('raftlock-data', nodeId),
    heartbeatIntervalMs,
    electionTimeoutMs,
    peerSecret,
    clientTokens,
    tls,
    logLevel: String(argv['log-level']),
  };
}

/**
 * SPEC §2's environment variables, mapped one by one: yargs' env prefix would also read unrelated
 * RAFTLOCK_* variables (RAFTLOCK_ENDPOINTS is the CLI's) and refuse them as unknown flags.
 */
const environmentFlags = {
  RAFTLOCK_ID: 'id',
  RAFTLOCK_LISTEN: 'listen',
  RAFTLOCK_ADVERTISE: 'advertise',
  RAFTLOCK_PEERS: 'peers',
  RAFTLOCK_JOIN: 'join',
  RAFTLOCK_DATA_DIR: 'data-dir',
  RAFTLOCK_TOKEN_FILE: 'token-file',
  RAFTLOCK_PEER_SECRET_FILE: 'peer-secret-file',
  RAFTLOCK_TLS_CERT: 'tls-cert',
  RAFTLOCK_TLS_KEY: 'tls-key',
  RAFTLOCK_TLS_CA: 'tls-ca',
  RAFTLOCK_LOG_LEVEL: 'log-level',
} as const;

function environmentDefaults(): Record<string, string | boolean> {
  const defaults: Record<string, string | boolean> = {};
  for (const [variable, flag] of Object.entries(environmentFlags)) {
    const value = process.env[variable];
    if (value === undefined || value === '') continue;
    if (flag !== 'join') defaults[flag] = value;
    else if (value === 'true' || value === '1') defaults[flag] = true;
    else if (value === 'false' || value === '0') defaults[flag] = false;
    else fail(`${variable} must be true, false, 1 or 0, got ${JSON.stringify(value.slice(0, 32))}`, exitCodes.usage);
  }
  return defaults;
}

async function main(): Promise<void> {
  const argv = await yargs(hideBin(process.argv))
    .config(environmentDefaults())
    .scriptName('raftlockd')
    .usage('$0 [options]\n\nA raftlock cluster member. With no options: a one-member cluster on 127.0.0.1:7070.')
    .example('$0 --id n1 --listen 127.0.0.1:7071 --data-dir ./data/n1 --peers n1=127.0.0.1:7071,n2=127.0.0.1:7072,n3=127.0.0.1:7073', 'one member of a three-member cluster')
    .options({
      id: { type: 'string', requiresArg: true, default: 'n1', describe: "this member's id ([a-z0-9-]{1,32})" },
      listen: { type: 'string', requiresArg: true, default: '127.0.0.1:7070', describe: 'host:port for peers, clients and HTTP' },
      advertise: { type: 'string', requiresArg: true, describe: 'address others use to reach this member (default: --listen)' },
      peers: { type: 'string', requiresArg: true, describe: 'initial voting members id=host:port,... (bootstraps an empty data dir)' },
      join: { type: 'boolean', describe: 'start empty as a non-voter and wait to be added' },
      'data-dir': { type: 'string', requiresArg: true, describe: 'LMDB environment and snapshots (default ./raftlock-data/<id>)' },
      'heartbeat-ms': { type: 'number', requiresArg: true, default: 100, describe: 'leader heartbeat interval' },
      'election-timeout-ms': { type: 'number', requiresArg: true, default: 1000, describe: 'base election timeout; each wait is randomised in [T, 2T)' },
      'token-file': { type: 'string', requiresArg: true, describe: 'client bearer tokens, one "token role" per line' },
      'peer-secret-file': { type: 'string', requiresArg: true, describe: 'shared secret every member must present' },
      'tls-cert': { type: 'string', requiresArg: true, describe: 'PEM certificate: serve https:// and wss:// (clients and peers), dial peers with wss://' },
      'tls-key': { type: 'string', requiresArg: true, describe: 'PEM private key of --tls-cert' },
      'tls-ca': { type: 'string', requiresArg: true, describe: 'PEM CA: peers must present a certificate it signed, and members it dials must too' },
      'log-level': { type: 'string', requiresArg: true, default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], describe: 'pino log level' },
      restore: { type: 'string', requiresArg: true, describe: 'seed an empty data dir from a snapshot file, then start' },
      'snapshot-entries': { type: 'number', requiresArg: true, default: 10_000, describe: 'snapshot the state and compact the log every N applied entries' },
      'snapshot-trailing': { type: 'number', requiresArg: true, default: 5_000, describe: 'log entries kept behind a snapshot for slightly lagging followers' },
    })
    .strict()
    // A repeated flag takes its last value, as with most CLIs (never an array).
    .parserConfiguration({ 'duplicate-arguments-array': false })
    .version(false)
    .help()
    .fail((message, error) => fail(usageProblem(error?.message ?? message ?? 'bad arguments'), exitCodes.usage))
    .parse();

  let config: ServerConfig;
  try {
    config = buildConfig(argv);
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, exitCodes.usage);
    throw error;
  }
  // Loaded only now: --help and flag errors answer without loading LMDB, ws, pino and prom-client.
  const [{ startServer }, { DataDirError }] = await Promise.all([import('./server.js'), import('./storage/data-dir-error.js')]);
  let server;
  try {
    server = await startServer(config);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof DataDirError) fail(error.message, exitCodes.config);
    throw error;
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      // A second signal: the operator wants out now.
      process.stderr.write(`raftlockd: ${signal} again, exiting without finishing shutdown\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`raftlockd: ${signal}, shutting down\n`);
    // Hand-off plus flush normally takes well under a second; never hang an orchestrator.
    setTimeout(() => fail(`shutdown did not finish within ${shutdownDeadlineMs} ms; exiting`, 1), shutdownDeadlineMs).unref();
    server.shutdown().then(
      () => process.exit(0),
      (error: unknown) => fail(`shutdown failed: ${String(error)}`, 1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error), 1));
