// Unit tests of LmdbStorage against real LMDB files in temp dirs: round trips through close and
// reopen, MemoryStorage's persist() semantics, data dir identity and refusal, group commit, the
// fsync configuration, and durability of acknowledged writes across SIGKILL of a writer process.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Lmdb from 'lmdb';
import { open } from 'lmdb';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { AssertionError } from '../assert.js';
import { asLogIndex, asNodeId, asTerm, noNode, type LogIndex } from '../ids.js';
import { entryOverheadBytes, type HardState, type LogEntry } from '../raft/log-entry.js';
import { MemoryStorage } from '../testing/memory-storage.js';
import { DataDirError, LmdbStorage, type LmdbStorageOptions, type StorageIdentity } from './lmdb-storage.js';
import { storageFormatVersion } from './meta-record.js';

// Wrap lmdb's open() (calling through to the real one) so a test can see how the env was opened.
vi.mock('lmdb', async (importOriginal) => {
  const actual = await importOriginal<typeof Lmdb>();
  return { ...actual, open: vi.fn(actual.open) };
});

const identity: StorageIdentity = { clusterId: 'c1', nodeId: 'n1' };
const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const serverPackageRoot = fileURLToPath(new URL('../../', import.meta.url));
const durabilityChildPath = fileURLToPath(new URL('./durability-child.fixture.ts', import.meta.url));

/**
 * A durability child that has not acknowledged its entries by then is stopped and the round fails.
 * Not a durability bound, only a guard against a hung child: on a CI machine loaded by the other
 * tests, starting tsx and up to ~125 group commits (each an fsync on the shared disk) can take
 * longer than the 5 s this used to be.
 */
const childDeadlineMs = 30_000;

const temporaryDirs: string[] = [];
const openStorages = new Set<LmdbStorage>();
const children = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  await Promise.all([...openStorages].map((storage) => storage.close()));
  openStorages.clear();
  await Promise.all(temporaryDirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'raftlock-storage-'));
  temporaryDirs.push(dir);
  return dir;
}

function openStorage(dataDir: string, options: Partial<LmdbStorageOptions> = {}): LmdbStorage {
  const storage = LmdbStorage.open({ dataDir, identity, ...options });
  openStorages.add(storage);
  return storage;
}

async function reopen(storage: LmdbStorage, dataDir: string): Promise<LmdbStorage> {
  await storage.close();
  openStorages.delete(storage);
  return openStorage(dataDir);
}

function command(index: number, term: number, data: Uint8Array = new Uint8Array([index & 0xff])): LogEntry {
  return { kind: 'command', index: asLogIndex(index), term: asTerm(term), data };
}

function noop(index: number, term: number): LogEntry {
  return { kind: 'noop', index: asLogIndex(index), term: asTerm(term) };
}

function hardState(term: number, votedFor: string, commitIndex: number): HardState {
  return { term: asTerm(term), votedFor: asNodeId(votedFor), commitIndex: asLogIndex(commitIndex) };
}

function allEntries(storage: { firstIndex(): LogIndex; lastIndex(): LogIndex; entries(low: LogIndex, high: LogIndex, maxBytes: number): LogEntry[] }): LogEntry[] {
  return storage.entries(storage.firstIndex(), asLogIndex(storage.lastIndex() + 1), Number.POSITIVE_INFINITY);
}

function expectSameView(actual: LmdbStorage, expected: MemoryStorage): void {
  expect(actual.initialHardState()).toEqual(expected.initialHardState());
  expect(actual.firstIndex()).toBe(expected.firstIndex());
  expect(actual.lastIndex()).toBe(expected.lastIndex());
  for (let index = 0; index <= expected.lastIndex() + 1; index++) {
    expect(actual.term(asLogIndex(index)), `term(${index})`).toBe(expected.term(asLogIndex(index)));
  }
  expect(allEntries(actual)).toEqual(allEntries(expected));
}

function fileDigest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('LmdbStorage: round trips', () => {
  test('a missing data dir is created and opens as an empty log with the initial hard state', async () => {
    const dataDir = join(await temporaryDir(), 'nested', 'n1.data');
    const storage = openStorage(dataDir);
    expect(storage.isEmpty()).toBe(true);
    expect(storage.identity).toEqual(identity);
    expect(storage.initialHardState()).toEqual({ term: 0, votedFor: noNode, commitIndex: 0 });
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(asLogIndex(0))]).toEqual([1, 0, 0]);
    // A dot in the name must not make lmdb treat the dir as a file (noSubdir).
    expect(readdirSync(dataDir).sort()).toEqual(['data.mdb', 'lock.mdb']);
    const reopened = await reopen(storage, dataDir);
    expect(reopened.isEmpty()).toBe(true);
  });

  test('entries and hard state survive close and reopen, with data bytes as plain Uint8Arrays and noops without data', async () => {
    const dataDir = await temporaryDir();
    const storage = openStorage(dataDir);
    const written = [noop(1, 1), command(2, 1, new Uint8Array([1, 2, 3])), command(3, 2, new Uint8Array(0)), command(4, 2, randomBytes(5000))];
    await storage.persist(hardState(2, 'n3', 3), written);
    expect(storage.isEmpty()).toBe(false);

    const reopened = await reopen(storage, dataDir);
    expect(reopened.initialHardState()).toEqual(hardState(2, 'n3', 3));
    expect([reopened.firstIndex(), reopened.lastIndex()]).toEqual([1, 4]);
    expect([1, 2, 3, 4, 5].map((index) => reopened.term(asLogIndex(index)))).toEqual([1, 1, 2, 2, undefined]);
    const read = allEntries(reopened);
    expect(read).toHaveLength(4);
    expect(read[0]).toEqual({ kind: 'noop', index: 1, term: 1 });
    expect(read[0]).not.toHaveProperty('data');
    for (const [position, entry] of read.slice(1).entries()) {
      const original = written[position + 1];
      expect(entry.kind === 'command' && original?.kind === 'command').toBe(true);
      if (entry.kind !== 'command' || original?.kind !== 'command') continue;
      // Exactly Uint8Array, owning its bytes: no Buffer, no view into a shared pool.
      expect(Object.getPrototypeOf(entry.data)).toBe(Uint8Array.prototype);
      expect(entry.data.byteOffset).toBe(0);
      expect(entry.data.buffer.byteLength).toBe(entry.data.byteLength);
      expect(Array.from(entry.data)).toEqual(Array.from(original.data));
    }
  });

  test('a member that only persisted a hard state (a vote) is no longer empty after reopen', async () => {
    const dataDir = await temporaryDir();
    const storage = openStorage(dataDir);
    await storage.persist(hardState(3, 'n2', 0), []);
    const reopened = await reopen(storage, dataDir);
    expect(reopened.isEmpty()).toBe(false);
    expect(reopened.initialHardState()).toEqual(hardState(3, 'n2', 0));
    expect(reopened.lastIndex()).toBe(0);
  });

  test('sizeBytes reports the data file size, and it grows as entries are written', async () => {
    const storage = openStorage(await temporaryDir());
    const before = storage.sizeBytes();
    expect(before).toBeGreaterThan(0);
    await storage.persist(undefined, Array.from({ length: 50 }, (_, position) => command(position + 1, 1, randomBytes(2000))));
    expect(storage.sizeBytes()).toBeGreaterThan(before + 50 * 2000);
  });

  test('close() is idempotent and lets a write in flight finish first', async () => {
    const dataDir = await temporaryDir();
    const storage = openStorage(dataDir);
    const durable = storage.persist(hardState(1, 'n1', 0), [command(1, 1)]);
    const closing = storage.close();
    expect(storage.close()).toBe(closing);
    await Promise.all([durable, closing]);
    openStorages.delete(storage);
    expect(() => storage.persist(undefined, [command(2, 1)])).toThrow(AssertionError);
    const reopened = openStorage(dataDir);
    expect(reopened.lastIndex()).toBe(1);
  });
});

describe('LmdbStorage: persist() keeps MemoryStorage semantics', () => {
  test('the view reflects a persist at once, before its promise resolves', async () => {
    const storage = openStorage(await temporaryDir());
    const durable = storage.persist(hardState(1, 'n1', 0), [noop(1, 1), command(2, 1)]);
    expect(storage.lastIndex()).toBe(2);
    expect(storage.term(asLogIndex(2))).toBe(1);
    expect(storage.initialHardState()).toEqual(hardState(1, 'n1', 0));
    expect(allEntries(storage)).toEqual([noop(1, 1), command(2, 1)]);
    await durable;
    expect(allEntries(storage)).toEqual([noop(1, 1), command(2, 1)]);
  });

  test('entries starting inside the log replace the tail, whether it is on disk or still unflushed, and the result survives reopen', async () => {
    const dataDir = await temporaryDir();
    let storage = openStorage(dataDir);
    const reference = new MemoryStorage();
    const both = (state: HardState | undefined, entries: LogEntry[]): Promise<void> => {
      reference.persist(state, entries);
      return storage.persist(state, entries);
    };

    await both(hardState(1, 'n1', 0), [1, 2, 3, 4, 5].map((index) => command(index, 1)));
    // Replaces durable entries 3-5 with a shorter tail: 4 and 5 must disappear from disk.
    await both(hardState(2, 'n2', 2), [command(3, 2, new Uint8Array([30]))]);
    expectSameView(storage, reference);
    // In one turn: append 4-6, then replace 5-6 before any of it reached the disk.
    const first = both(undefined, [command(4, 2), command(5, 2), command(6, 2)]);
    const second = both(hardState(3, 'n3', 3), [command(5, 3, new Uint8Array([50])), command(6, 3, new Uint8Array([60]))]);
    expectSameView(storage, reference);
    await Promise.all([first, second]);
    expectSameView(storage, reference);
    // A truncation that shortens the log, issued while the previous group may still be syncing.
    const third = both(undefined, [command(7, 3)]);
    await new Promise((resolve) => setImmediate(resolve));
    const fourth = both(undefined, [command(4, 3, new Uint8Array([40]))]);
    expectSameView(storage, reference);
    await Promise.all([third, fourth]);

    storage = await reopen(storage, dataDir);
    expectSameView(storage, reference);
    expect(storage.lastIndex()).toBe(4);
    expect(storage.term(asLogIndex(5))).toBeUndefined();
  });

  test('an entry replaced while the transaction that wrote it is in flight is read back as its replacement', async () => {
    const storage = openStorage(await temporaryDir());
    await storage.persist(undefined, [command(1, 1)]);
    let term = 1;
    // The replacement lands 0..29 turns after the first write, so some runs replace it after its
    // transaction started but before it was durable: the first write's completion must not then
    // drop the replacement from memory (the disk still holds the replaced entry until the second
    // transaction commits).
    for (let turnsBetween = 0; turnsBetween < 30; turnsBetween++) {
      const first = storage.persist(undefined, [command(2, ++term, new Uint8Array([1]))]);
      for (let turn = 0; turn < turnsBetween; turn++) await new Promise((resolve) => setImmediate(resolve));
      const replacement = command(2, ++term, new Uint8Array([2]));
      const second = storage.persist(undefined, [replacement]);
      await first;
      expect(storage.entries(asLogIndex(2), asLogIndex(3), 1000), `after ${turnsBetween} turns`).toEqual([replacement]);
      await second;
      expect(storage.entries(asLogIndex(2), asLogIndex(3), 1000), `after ${turnsBetween} turns`).toEqual([replacement]);
    }
  });

  test('entries(low, high, maxBytes) stops once maxBytes is reached but always returns at least one entry', async () => {
    const storage = openStorage(await temporaryDir());
    const reference = new MemoryStorage();
    const entries = Array.from({ length: 8 }, (_, position) => command(position + 1, 1, new Uint8Array(100)));
    reference.persist(undefined, entries);
    await storage.persist(undefined, entries.slice(0, 5));
    void storage.persist(undefined, entries.slice(5)); // 6-8 stay unflushed while we read
    const entryBytes = 100 + entryOverheadBytes;
    for (const maxBytes of [0, entryBytes - 1, entryBytes, 2 * entryBytes, 3 * entryBytes + 1, 100 * entryBytes]) {
      for (const low of [1, 4, 6]) {
        const expected = reference.entries(asLogIndex(low), asLogIndex(9), maxBytes);
        expect(storage.entries(asLogIndex(low), asLogIndex(9), maxBytes), `low ${low}, maxBytes ${maxBytes}`).toEqual(expected);
      }
    }
    expect(storage.entries(asLogIndex(2), asLogIndex(9), 0)).toHaveLength(1);
    expect(storage.entries(asLogIndex(2), asLogIndex(9), 2 * entryBytes)).toHaveLength(2);
    expect(storage.entries(asLogIndex(3), asLogIndex(3), 1000)).toEqual([]);
  });

  test('a persist that breaks the log rules is refused with an assertion and changes nothing, in memory or on disk', async () => {
    const dataDir = await temporaryDir();
    let storage = openStorage(dataDir);
    await storage.persist(hardState(2, 'n1', 1), [command(1, 1), command(2, 2)]);
    const refusals: Array<[string, HardState | undefined, LogEntry[]]> = [
      ['a gap after the last index', undefined, [command(4, 2)]],
      ['entries that are not contiguous', undefined, [command(3, 2), command(5, 2)]],
      ['a term lower than the entry before', undefined, [command(3, 1)]],
      ['a hard state whose term went down', hardState(1, 'n1', 2), [command(3, 2)]],
    ];
    for (const [reason, state, entries] of refusals) {
      expect(() => storage.persist(state, entries), reason).toThrow(AssertionError);
      expect(storage.lastIndex(), reason).toBe(2);
      expect(storage.initialHardState(), reason).toEqual(hardState(2, 'n1', 1));
    }
    storage = await reopen(storage, dataDir);
    expect(allEntries(storage)).toEqual([command(1, 1), command(2, 2)]);
    expect(storage.initialHardState()).toEqual(hardState(2, 'n1', 1));
  });
});

describe('LmdbStorage: a data dir belongs to one member of one cluster', () => {
  test('reopening with another node id or cluster id throws DataDirError naming both, and leaves the environment untouched', async () => {
    const dataDir = await temporaryDir();
    const storage = openStorage(dataDir);
    await storage.persist(hardState(1, 'n1', 1), [command(1, 1)]);
    await storage.close();
    openStorages.delete(storage);
    const digestBefore = fileDigest(join(dataDir, 'data.mdb'));

    const asN2 = (): LmdbStorage => LmdbStorage.open({ dataDir, identity: { clusterId: 'c1', nodeId: 'n2' } });
    expect(asN2).toThrow(DataDirError);
    expect(asN2).toThrow(`data dir ${dataDir} belongs to member n1 of cluster c1, not n2 of cluster c1`);
    const inOtherCluster = (): LmdbStorage => LmdbStorage.open({ dataDir, identity: { clusterId: 'c2', nodeId: 'n1' } });
    expect(inOtherCluster).toThrow(`data dir ${dataDir} belongs to member n1 of cluster c1, not n1 of cluster c2`);
    try {
      inOtherCluster();
    } catch (error) {
      expect(error).toMatchObject({ name: 'DataDirError', code: 'DATA_DIR' });
    }

    expect(fileDigest(join(dataDir, 'data.mdb'))).toBe(digestBefore);
    const reopened = openStorage(dataDir);
    expect(allEntries(reopened)).toEqual([command(1, 1)]);
  });

  test('a directory holding unrelated files is refused and left as it was', async () => {
    const dataDir = await temporaryDir();
    writeFileSync(join(dataDir, 'notes.txt'), 'not raftlock');
    expect(() => openStorage(dataDir)).toThrow(DataDirError);
    expect(() => openStorage(dataDir)).toThrow(`data dir ${dataDir} holds files that are not a raftlock environment (notes.txt)`);
    expect(readdirSync(dataDir)).toEqual(['notes.txt']);
  });

  test('a data.mdb that is not an LMDB file is refused before lmdb opens it', async () => {
    const dataDir = await temporaryDir();
    writeFileSync(join(dataDir, 'data.mdb'), 'x'.repeat(20_000));
    expect(() => openStorage(dataDir)).toThrow(`data dir ${dataDir} holds a data.mdb that is not an LMDB data file; refusing to use it`);
    expect(readFileSync(join(dataDir, 'data.mdb'), 'utf8')).toBe('x'.repeat(20_000));
  });

  test('a path that is a file, not a directory, is refused', async () => {
    const dataDir = join(await temporaryDir(), 'file');
    writeFileSync(dataDir, '');
    expect(() => openStorage(dataDir)).toThrow(`data dir ${dataDir} is not a directory`);
  });

  test('a data dir stamped by another storage format version is refused', async () => {
    const dataDir = await temporaryDir();
    const foreign = open({ path: dataDir, noSubdir: false, overlappingSync: false });
    const identityRecord = { formatVersion: 99, clusterId: identity.clusterId, nodeId: identity.nodeId };
    await foreign.openDB('meta', { encoding: 'binary' }).put('identity', new Packr({ useRecords: false }).pack(identityRecord));
    await foreign.close();
    expect(() => openStorage(dataDir)).toThrow(`data dir ${dataDir} has storage format 99; this raftlockd reads format ${storageFormatVersion}`);
  });

  test('a data dir another live process has open is refused, naming that process', async () => {
    const dataDir = await temporaryDir();
    await openStorage(dataDir).close();
    // A second process holding the environment open, as a second raftlockd with the same flags would.
    const holdOpen = "import { open } from 'lmdb'; open({ path: process.argv[1], noSubdir: false, overlappingSync: false }).get('x'); console.log('open'); setInterval(() => {}, 1000);";
    const child = spawn(process.execPath, ['--input-type=module', '-e', holdOpen, dataDir], { cwd: serverPackageRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    expect(() => LmdbStorage.open({ dataDir, identity })).toThrow(`data dir ${dataDir} is in use by another process (pid ${child.pid})`);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    // Once it is gone, lmdb clears its reader slot and the member may start.
    expect(openStorage(dataDir).isEmpty()).toBe(true);
  });

  test('an LMDB environment written by another program is refused untouched', async () => {
    const dataDir = await temporaryDir();
    const foreign = open({ path: dataDir, noSubdir: false, overlappingSync: false });
    await foreign.openDB('users', {}).put('alice', { admin: true });
    await foreign.close();
    const digestBefore = fileDigest(join(dataDir, 'data.mdb'));
    expect(() => openStorage(dataDir)).toThrow(`data dir ${dataDir} holds an LMDB environment raftlock did not write (database users)`);
    expect(fileDigest(join(dataDir, 'data.mdb'))).toBe(digestBefore);
  });
});

describe('LmdbStorage: group commit', () => {
  test('100 persists made in one event-loop turn share one transaction and one onPersist call', async () => {
    const onPersist = vi.fn<(durationMs: number, entryCount: number) => void>();
    const storage = openStorage(await temporaryDir(), { onPersist });
    const durable = Array.from({ length: 100 }, (_, position) =>
      storage.persist(hardState(1, 'n1', position), [command(position + 1, 1)]),
    );
    await Promise.all(durable);
    expect(storage.stats()).toEqual({ transactions: 1, persists: 100, entriesWritten: 100 });
    expect(onPersist).toHaveBeenCalledTimes(1);
    expect(onPersist.mock.calls[0]?.[1]).toBe(100);
    expect(onPersist.mock.calls[0]?.[0]).toBeGreaterThanOrEqual(0);
  });

  test('persists made in later turns form later transactions, and resolve in the order they were made', async () => {
    const storage = openStorage(await temporaryDir());
    const resolved: number[] = [];
    const durable: Promise<void>[] = [];
    for (let turn = 0; turn < 3; turn++) {
      for (let persist = 0; persist < 10; persist++) {
        const index = storage.lastIndex() + 1;
        durable.push(storage.persist(undefined, [command(index, 1)]).then(() => void resolved.push(index)));
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(durable);
    expect(resolved).toEqual(Array.from({ length: 30 }, (_, position) => position + 1));
    const { transactions, persists } = storage.stats();
    expect(persists).toBe(30);
    expect(transactions).toBeGreaterThanOrEqual(1);
    expect(transactions).toBeLessThanOrEqual(3);
  });

  test('a persist with nothing to write resolves once earlier writes are durable', async () => {
    const storage = openStorage(await temporaryDir());
    const order: string[] = [];
    const write = storage.persist(undefined, [command(1, 1)]).then(() => void order.push('write'));
    const empty = storage.persist(undefined, []).then(() => void order.push('empty'));
    await Promise.all([write, empty]);
    expect(order).toEqual(['write', 'empty']);
    expect(storage.stats().transactions).toBe(1);
  });

  test('a hard state that only moves the commit index costs no transaction of its own, and lands with the next write or on close', async () => {
    // etcd-io/raft MustSync: the commit index is re-learned from the leader, so it needs no fsync of its own
    const dataDir = await temporaryDir();
    let storage = openStorage(dataDir);
    await storage.persist(hardState(1, 'n1', 0), [command(1, 1), command(2, 1), command(3, 1)]);
    expect(storage.stats().transactions).toBe(1);
    await storage.persist(hardState(1, 'n1', 2), []);
    expect(storage.stats().transactions).toBe(1);
    expect(storage.initialHardState()).toEqual(hardState(1, 'n1', 2));
    // The next write carries it (one transaction for both)...
    await storage.persist(undefined, [command(4, 1)]);
    expect(storage.stats().transactions).toBe(2);
    // ...and close writes one that no write followed.
    await storage.persist(hardState(1, 'n1', 3), []);
    storage = await reopen(storage, dataDir);
    expect(storage.initialHardState()).toEqual(hardState(1, 'n1', 3));
    expect(storage.lastIndex()).toBe(4);
  });

  test('a change of term or vote is written and synced at once even without entries', async () => {
    // Raft paper §5.2: a vote is durable before the reply that grants it
    const storage = openStorage(await temporaryDir());
    await storage.persist(hardState(1, 'n1', 0), [command(1, 1)]);
    await storage.persist(hardState(2, 'n2', 0), []);
    expect(storage.stats().transactions).toBe(2);
  });
});

describe('LmdbStorage: durability', () => {
  // Why two tests: SIGKILL only kills the process. The kernel's page cache survives it, so the
  // SIGKILL test would still pass if persist() resolved before fsync (lmdb-js's Linux default,
  // overlappingSync: true, resolves on commit and syncs later). Only a power cut or kernel crash
  // tells those apart, which a unit test cannot cause; so the first test pins the configuration
  // under which lmdb's commit (and so persist's promise) includes the fsync.
  test('the environment is opened so that a commit resolves only after its fsync', async () => {
    const dataDir = await temporaryDir();
    const openMock = vi.mocked(open);
    openMock.mockClear();
    const storage = openStorage(dataDir);
    const call = openMock.mock.calls.find(([options]) => typeof options === 'object' && options.path === dataDir);
    expect(call).toBeDefined();
    const options = call?.[0] as Lmdb.RootDatabaseOptionsWithPath & Record<string, unknown>;
    expect(options).toMatchObject({ overlappingSync: false, noSync: false, noMetaSync: false, useWritemap: false, mapAsync: false });
    // What lmdb-js settled on after opening, which is what its commits actually do.
    const root = openMock.mock.results[openMock.mock.calls.indexOf(call!)]?.value as { overlappingSync?: unknown; noSync?: unknown };
    expect(root.overlappingSync).toBe(false);
    expect(root.noSync).toBeFalsy();
    await storage.persist(undefined, [command(1, 1)]);
    expect(storage.stats().transactions).toBe(1);
  });

  test('every entry acknowledged before a SIGKILL at a random moment is on disk after restart (5 kills)', async () => {
    const dataDir = join(await temporaryDir(), 'member');
    const childIdentity: StorageIdentity = { clusterId: 'durability', nodeId: 'n1' };
    const acknowledged = new Map<number, { term: number; data: string }>();
    for (let round = 0; round < 5; round++) {
      const acknowledgementsBeforeKill = 10 + Math.floor(Math.random() * 300);
      const killDelayMs = Math.random() * 10;
      const lines = await runChildUntilKilled(dataDir, childIdentity, acknowledgementsBeforeKill, killDelayMs);
      for (const line of lines) {
        const [index, term, data] = line.split(' ');
        acknowledged.set(Number(index), { term: Number(term), data: data ?? '' });
      }
      const context = `round ${round}: killed ${killDelayMs.toFixed(1)} ms after ${acknowledgementsBeforeKill} acknowledgements`;
      const storage = LmdbStorage.open({ dataDir, identity: childIdentity });
      try {
        const maxAcknowledged = Math.max(...acknowledged.keys());
        expect(storage.lastIndex(), context).toBeGreaterThanOrEqual(maxAcknowledged);
        expect(storage.initialHardState().commitIndex, context).toBeGreaterThanOrEqual(maxAcknowledged);
        const byIndex = new Map(allEntries(storage).map((entry) => [entry.index as number, entry]));
        for (const [index, expected] of acknowledged) {
          const entry = byIndex.get(index);
          expect(entry?.term, `${context}: term of ${index}`).toBe(expected.term);
          const data = entry?.kind === 'command' ? Buffer.from(entry.data).toString('hex') : entry?.kind;
          expect(data, `${context}: data of ${index}`).toBe(expected.data);
        }
      } finally {
        await storage.close();
      }
    }
    expect(acknowledged.size).toBeGreaterThan(50);
  }, 5 * childDeadlineMs);
});

/** Runs the durability child, SIGKILLs it after some acknowledgements, and returns every full line it wrote. */
async function runChildUntilKilled(dataDir: string, childIdentity: StorageIdentity, acknowledgementsBeforeKill: number, killDelayMs: number): Promise<string[]> {
  const child = spawn(
    process.execPath,
    ['--conditions=@raftlock/source', '--import', 'tsx', durabilityChildPath, dataDir, childIdentity.clusterId, childIdentity.nodeId],
    { cwd: repositoryRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  const lines: string[] = [];
  let partialLine = '';
  let stderr = '';
  let killScheduled = false;
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const deadline = setTimeout(() => child.kill('SIGKILL'), childDeadlineMs);
  try {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (partialLine + chunk).split('\n');
      partialLine = parts.pop() ?? '';
      lines.push(...parts);
      if (!killScheduled && lines.length >= acknowledgementsBeforeKill) {
        killScheduled = true;
        setTimeout(() => child.kill('SIGKILL'), killDelayMs);
      }
    });
    const { signal } = await closed;
    expect(signal, `the child was killed by the test, not by itself: ${stderr}`).toBe('SIGKILL');
    expect(killScheduled, `the child acknowledged ${acknowledgementsBeforeKill} entries within ${childDeadlineMs} ms: ${stderr}`).toBe(true);
    return lines; // a partial last line was never fully acknowledged, so it is ignored
  } finally {
    clearTimeout(deadline);
    child.kill('SIGKILL');
    children.delete(child);
  }
}

describe('LmdbStorage: snapshots and compaction', () => {
  const members = [{ id: asNodeId('n1'), address: '127.0.0.1:1', role: 'voter' as const }];
  const withLearner = { members: [...members, { id: asNodeId('n2'), address: '127.0.0.1:2', role: 'learner' as const }] };
  const configEntry = (index: number, term: number): LogEntry => ({ kind: 'config', index: asLogIndex(index), term: asTerm(term), config: withLearner });

  test('a compaction keeps the trailing window, survives a restart with its snapshot bytes, and the config entries after the log start', async () => {
    const dataDir = await temporaryDir();
    let storage = openStorage(dataDir, { bootstrapConfig: { members } });
    await storage.persist(hardState(1, '', 6), [command(1, 1), command(2, 1), configEntry(3, 1), command(4, 1), command(5, 1), command(6, 1)]);
    const bytes = randomBytes(3 * 1024 * 1024 + 17); // several chunks, the last one short
    await storage.compact({ index: asLogIndex(5), term: asTerm(1), config: withLearner }, bytes, asLogIndex(3));
    expect([storage.firstIndex(), storage.lastIndex(), storage.snapshotMetadata().index]).toEqual([3, 6, 5]);
    expect(storage.term(asLogIndex(2))).toBe(1); // the log start keeps its term
    expect(storage.term(asLogIndex(1))).toBeUndefined();
    storage = await reopen(storage, dataDir);
    expect([storage.firstIndex(), storage.lastIndex(), storage.snapshotMetadata().index]).toEqual([3, 6, 5]);
    expect(storage.configEntries().map((entry) => entry.index)).toEqual([3]);
    expect(Buffer.from(storage.readSnapshot().data).equals(bytes)).toBe(true);
    expect(storage.snapshotChunkCount()).toBe(4);
    expect(allEntries(storage).map((entry) => entry.index)).toEqual([3, 4, 5, 6]);
  });

  test('installing a leader snapshot replaces the log, raises the commit index, and a restart starts after it', async () => {
    const dataDir = await temporaryDir();
    let storage = openStorage(dataDir, { bootstrapConfig: { members } });
    await storage.persist(hardState(2, 'n1', 1), [command(1, 1), command(2, 2), configEntry(3, 2)]);
    await storage.installSnapshot({ index: asLogIndex(40), term: asTerm(3), config: { members } }, new Uint8Array([1, 2, 3]));
    expect([storage.firstIndex(), storage.lastIndex(), storage.initialHardState().commitIndex]).toEqual([41, 40, 40]);
    expect(storage.configEntries()).toEqual([]);
    await storage.persist(undefined, [command(41, 3)]);
    storage = await reopen(storage, dataDir);
    expect([storage.firstIndex(), storage.lastIndex(), storage.term(asLogIndex(40))]).toEqual([41, 41, 3]);
    expect([...storage.readSnapshot().data]).toEqual([1, 2, 3]);
  });
});
