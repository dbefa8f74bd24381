// Durability fixture, not a test: a member that appends to its log as fast as it can and reports
// every acknowledged entry, so lmdb-storage.test.ts can SIGKILL it at a random moment and check that
// nothing it acknowledged was lost. It behaves like a leader that restarts: each run takes the next
// term, appends a noop, then commands with random bytes, 1 to 4 persist() calls per event-loop turn
// (so kills also land inside group commits). Each persist carries a hard state committing its entry.
//
//   node --conditions=@raftlock/source --import tsx durability-child.fixture.ts <dataDir> <clusterId> <nodeId>
//
// stdout, one line per entry, written only after the persist() that wrote it resolved:
//   "<index> <term> noop"  or  "<index> <term> <data as hex>"

import { randomBytes, randomInt } from 'node:crypto';
import { asLogIndex, asNodeId, asTerm } from '../ids.js';
import type { LogEntry } from '../raft/log-entry.js';
import { LmdbStorage, type StorageIdentity } from './lmdb-storage.js';

/** Bounds the run if nobody kills it; the parent kills long before. */
const turnsMax = 200_000;
const dataBytesMax = 512;

async function main(dataDir: string, identity: StorageIdentity): Promise<void> {
  const storage = LmdbStorage.open({ dataDir, identity });
  const term = asTerm(storage.initialHardState().term + 1);
  const votedFor = asNodeId(identity.nodeId);
  for (let turn = 0; turn < turnsMax; turn++) {
    const persistsInTurn = turn === 0 ? 1 : 1 + (turn % 4);
    const durable: Promise<void>[] = [];
    const acknowledgements: string[] = [];
    for (let persist = 0; persist < persistsInTurn; persist++) {
      const index = asLogIndex(storage.lastIndex() + 1);
      const entry: LogEntry =
        turn === 0 ? { kind: 'noop', index, term } : { kind: 'command', index, term, data: randomBytes(randomInt(dataBytesMax)) };
      durable.push(storage.persist({ term, votedFor, commitIndex: index }, [entry]));
      acknowledgements.push(`${index} ${term} ${entry.kind === 'noop' ? 'noop' : Buffer.from(entry.data).toString('hex')}`);
    }
    await Promise.all(durable);
    // Only now are these entries durable, so only now may they be reported (a pipe write to a
    // parent on Linux is synchronous: once it returns, the parent can read the line).
    process.stdout.write(`${acknowledgements.join('\n')}\n`);
  }
  await storage.close();
}

const [dataDir, clusterId, nodeId] = process.argv.slice(2);
if (dataDir === undefined || clusterId === undefined || nodeId === undefined) {
  console.error('usage: durability-child.fixture.ts <dataDir> <clusterId> <nodeId>');
  process.exitCode = 2;
} else {
  await main(dataDir, { clusterId, nodeId });
}
