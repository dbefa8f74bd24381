// openEnvironment: turns a --data-dir into an open LMDB environment that is provably this member's,
// with the two named databases the storage uses (`log`: index → entry, `meta`: identity, hard state,
// snapshot boundary). It owns the durability settings and the refusal rules.
// Invariants:
//   - a commit resolves only after its fsync: overlappingSync is off and nothing weakens syncing
//     (lmdb-js turns overlappingSync ON by default on Linux, and then a write's promise resolves
//     when the commit is visible, BEFORE it is flushed; a SIGKILL would not notice, because the page
//     cache outlives the process, but a power cut or kernel crash would lose acknowledged entries);
//   - a new or empty environment is stamped with the identity, in one synchronous, synced commit,
//     before anything else is written;
//   - an environment whose identity differs, or which holds databases or keys we did not write, is
//     refused with a DataDirError, and nothing in it is written (the checks only read);
//   - an environment another live process has open is refused: LMDB allows many writer processes,
//     and two copies of one member appending to one log would corrupt it. The check reads LMDB's
//     reader table (every process that has read the env holds a slot until it closes it; lmdb-js
//     clears slots of dead processes on open). Two members starting in the same instant can both
//     pass it; it guards against the operator mistake, it is not a lock.

import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { open, type Database, type RootDatabase, type RootDatabaseOptions } from 'lmdb';
import { assert } from '../assert.js';
import { DataDirError } from './data-dir-error.js';
import { inspectDataDir } from './inspect-data-dir.js';
import type { ClusterConfig } from '../raft/cluster-config.js';
import { decodeIdentity, encodeIdentity, encodeSnapshotRecord, initialSnapshotRecord, metaKeys, storageFormatVersion } from './meta-record.js';
import { assertValidIdentity, describeIdentity, joiningClusterId, sameIdentity, type ExpectedIdentity, type StorageIdentity } from './storage-identity.js';

export interface Environment {
  readonly root: RootDatabase;
  /** Log entries under their index (ordered-binary number keys sort numerically). */
  readonly log: Database<Uint8Array, number>;
  readonly meta: Database<Uint8Array, string>;
  /** The snapshot's state machine bytes, as chunks under 0, 1, 2, ... */
  readonly snapshot: Database<Uint8Array, number>;
  /** The identity the environment is stamped with. */
  readonly identity: StorageIdentity;
}

const databaseNames = { log: 'log', meta: 'meta', snapshot: 'snapshot' } as const;
const ownDatabaseNames: readonly unknown[] = Object.values(databaseNames);

/** Every durability-relevant lmdb option, spelled out even where it is the default (STYLE §11). */
const durableEnvironmentOptions = {
  // The data dir IS the environment directory, even when its name has a dot in it (lmdb-js would
  // otherwise treat "./data/n1.old" as a file name).
  noSubdir: false,
  // A commit's promise resolves after mdb_txn_commit, which fsyncs before returning (see header).
  overlappingSync: false,
  noSync: false,
  noMetaSync: false,
  // Writes go through write(2) into a private copy-on-write tree, never through a writable map that
  // a stray pointer could corrupt; mapAsync would let the OS flush the map whenever it likes.
  useWritemap: false,
  mapAsync: false,
  // Group commit: every write issued in one event-loop turn lands in one transaction, with no timer.
  eventTurnBatching: true,
  commitDelay: 0,
  maxDbs: 4,
  // Map the file in chunks that are unmapped once no read holds them, instead of one map of the
  // whole file. Reads go through the map, and every page a read touched (log compaction walks every
  // log page it drops; a backup reads every snapshot chunk) would otherwise stay in the process's
  // RSS until the kernel needed the memory: 0.22–0.29 GiB at a million held locks, 0.08–0.13 GiB
  // with this. Writes never go through the map (useWritemap off), so durability is unchanged.
  remapChunks: true,
} as const satisfies RootDatabaseOptions & { mapAsync: boolean; remapChunks: boolean };

/** bootstrapConfig: stamped into a fresh environment as the configuration at index 0. */
export function openEnvironment(dataDir: string, identity: ExpectedIdentity, bootstrapConfig: ClusterConfig): Environment {
  assertValidIdentity(identity);
  const state = inspectDataDir(dataDir);
  if (state === 'missing') createDirectory(dataDir);
  const root = openRoot(dataDir);
  try {
    assert(overlappingSyncOf(root) === false, 'the environment commits with fsync (overlappingSync off)');
    refuseIfInUse(dataDir, root);
    if (state === 'environment') refuseForeignDatabases(dataDir, root);
    const log = root.openDB<Uint8Array, number>(databaseNames.log, { encoding: 'binary' });
    const meta = root.openDB<Uint8Array, string>(databaseNames.meta, { encoding: 'binary' });
    const snapshot = root.openDB<Uint8Array, number>(databaseNames.snapshot, { encoding: 'binary' });
    const stamped = checkOrStampIdentity(dataDir, { root, log, meta }, identity, bootstrapConfig);
    return { root, log, meta, snapshot, identity: stamped };
  } catch (error) {
    // Best effort: the refusal is what the caller needs to see, not a failure to close after it.
    root.close().catch(() => undefined);
    throw error;
  }
}

/** The overlappingSync lmdb-js actually settled on (it can differ from what was asked for). */
function overlappingSyncOf(root: RootDatabase): unknown {
  return (root as unknown as { overlappingSync?: unknown }).overlappingSync;
}

/**
 * Creates dataDir and any missing parents, one level at a time: Node 20's recursive mkdirSync never
 * returns for a path under /proc (it retries the parent for ever), and a member must fail with a
 * line, not hang.
 */
function createDirectory(dataDir: string): void {
  const missing: string[] = [];
  for (let path = resolve(dataDir); !existsSync(path); path = dirname(path)) {
    missing.push(path);
    if (dirname(path) === path) break; // the root itself is missing: mkdir says why
  }
  try {
    for (const path of missing.reverse()) mkdirIfAbsent(path);
  } catch (error) {
    throw new DataDirError(`data dir ${dataDir} cannot be created (${describeCause(error)})`, { cause: error });
  }
}

function mkdirIfAbsent(path: string): void {
  try {
    mkdirSync(path);
  } catch (error) {
    // Created meanwhile by someone else: fine, as with mkdir -p.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

function openRoot(dataDir: string): RootDatabase {
  try {
    return open({ path: dataDir, ...durableEnvironmentOptions });
  } catch (error) {
    throw new DataDirError(`data dir ${dataDir} is not a readable LMDB environment (${describeCause(error)})`, { cause: error });
  }
}

function refuseIfInUse(dataDir: string, root: RootDatabase): void {
  const otherProcessIds = readerProcessIds(root.readerList()).filter((processId) => processId !== process.pid);
  if (otherProcessIds.length > 0) {
    throw new DataDirError(`data dir ${dataDir} is in use by another process (pid ${otherProcessIds.join(', ')})`);
  }
}

/** Process ids in LMDB's reader table, as mdb_reader_list prints it ("pid thread txnid" rows). */
function readerProcessIds(readerList: string): number[] {
  const processIds = new Set<number>();
  for (const line of readerList.split('\n')) {
    const match = /^\s*(\d+)\s+[0-9a-f]+\s/.exec(line);
    if (match?.[1] !== undefined) processIds.add(Number(match[1]));
  }
  return [...processIds];
}

/**
 * Named databases are keys of the root database. Anything besides ours means somebody else's
 * environment; opening ours there would create databases in it, which is writing to it.
 */
function refuseForeignDatabases(dataDir: string, root: RootDatabase): void {
  let keys: unknown[];
  try {
    keys = [...root.getKeys()];
  } catch (error) {
    throw new DataDirError(`data dir ${dataDir} holds an LMDB environment raftlock cannot read (${describeCause(error)})`, { cause: error });
  }
  const foreignKey = keys.find((key) => !ownDatabaseNames.includes(key));
  if (foreignKey !== undefined) {
    throw new DataDirError(`data dir ${dataDir} holds an LMDB environment raftlock did not write (database ${String(foreignKey)})`);
  }
}

function checkOrStampIdentity(
  dataDir: string,
  environment: Pick<Environment, 'root' | 'log' | 'meta'>,
  expected: ExpectedIdentity,
  bootstrapConfig: ClusterConfig,
): StorageIdentity {
  const { root, log, meta } = environment;
  const identityBytes = meta.get(metaKeys.identity);
  if (identityBytes === undefined) {
    // Fresh, or a first start that died before its stamp committed: both leave no data at all.
    // An environment with data but no identity is not one we wrote, so it is refused untouched.
    if (log.getKeysCount() > 0 || meta.getKeysCount() > 0) {
      throw new DataDirError(`data dir ${dataDir} holds an LMDB environment with no raftlock identity; refusing to use it`);
    }
    // A member that joins learns its cluster's id from the first member that dials it.
    const identity: StorageIdentity = { clusterId: expected.clusterId ?? joiningClusterId, nodeId: expected.nodeId };
    root.transactionSync(() => {
      void meta.put(metaKeys.identity, encodeIdentity(identity));
      void meta.put(metaKeys.snapshot, encodeSnapshotRecord(initialSnapshotRecord(bootstrapConfig)));
    });
    return identity;
  }
  const stored = decodeIdentity(identityBytes);
  if (stored === undefined) {
    throw new DataDirError(`data dir ${dataDir} holds an LMDB environment whose identity raftlock cannot read`);
  }
  const identity: StorageIdentity = { clusterId: expected.clusterId ?? stored.clusterId, nodeId: expected.nodeId };
  if (!sameIdentity(stored, identity)) {
    throw new DataDirError(`data dir ${dataDir} belongs to ${describeIdentity(stored)}, not ${identity.nodeId} of cluster ${identity.clusterId}`);
  }
  if (stored.formatVersion !== storageFormatVersion) {
    throw new DataDirError(`data dir ${dataDir} has storage format ${stored.formatVersion}; this raftlockd reads format ${storageFormatVersion}`);
  }
  return identity;
}

function describeCause(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] ?? error.name : String(error);
}
