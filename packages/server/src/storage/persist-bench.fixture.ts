// Persist benchmark, not a test: how fast LmdbStorage makes entries durable on this machine's disk.
// Two shapes: one 1-entry persist at a time (each waits for its own fsync: the latency floor of an
// uncontended write), and 64 persists issued in one event-loop turn (a busy leader's Ready: group
// commit makes them one transaction and one fsync). Reports persists/s, p50/p99 latency and how many
// transactions were committed, in a fresh temp dir that is removed afterwards.
//
//   node --conditions=@raftlock/source --import tsx packages/server/src/storage/persist-bench.fixture.ts [entryBytes]

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { asLogIndex, asNodeId, asTerm } from '../ids.js';
import { LmdbStorage } from './lmdb-storage.js';

const singlePersistCount = 2_000;
const batchCount = 200;
const batchPersistCount = 64;
const warmupPersistCount = 100;

interface Result {
  readonly shape: string;
  readonly persistsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly transactions: number;
}

function percentile(sortedMs: readonly number[], fraction: number): number {
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(sortedMs.length * fraction))] ?? Number.NaN;
}

function persistNext(storage: LmdbStorage, data: Uint8Array): Promise<void> {
  const index = asLogIndex(storage.lastIndex() + 1);
  const term = asTerm(1);
  return storage.persist({ term, votedFor: asNodeId('n1'), commitIndex: index }, [{ kind: 'command', index, term, data }]);
}

async function measure(shape: string, storage: LmdbStorage, rounds: number, persistsPerRound: number, data: Uint8Array): Promise<Result> {
  const transactionsBefore = storage.stats().transactions;
  const latenciesMs: number[] = [];
  const startedMs = performance.now();
  for (let round = 0; round < rounds; round++) {
    const roundStartedMs = performance.now();
    const durable: Promise<void>[] = [];
    for (let persist = 0; persist < persistsPerRound; persist++) durable.push(persistNext(storage, data));
    await Promise.all(durable);
    latenciesMs.push(performance.now() - roundStartedMs);
  }
  const elapsedMs = performance.now() - startedMs;
  latenciesMs.sort((left, right) => left - right);
  return {
    shape,
    persistsPerSecond: Math.round((rounds * persistsPerRound * 1000) / elapsedMs),
    latencyP50Ms: Number(percentile(latenciesMs, 0.5).toFixed(3)),
    latencyP99Ms: Number(percentile(latenciesMs, 0.99).toFixed(3)),
    transactions: storage.stats().transactions - transactionsBefore,
  };
}

async function main(entryBytes: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'raftlock-persist-bench-'));
  const storage = LmdbStorage.open({ dataDir, identity: { clusterId: 'bench', nodeId: 'n1' } });
  try {
    const data = randomBytes(entryBytes);
    await measure('warmup', storage, warmupPersistCount, 1, data);
    const results = [
      await measure('1 entry per persist, awaited one at a time', storage, singlePersistCount, 1, data),
      await measure(`${batchPersistCount} persists in one turn (latency per batch)`, storage, batchCount, batchPersistCount, data),
    ];
    console.log(`entry data: ${entryBytes} bytes; data file after run: ${storage.sizeBytes()} bytes`);
    console.table(results);
  } finally {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main(Number(process.argv[2] ?? 100));
