import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { decodeSnapshotFileHeader, InternalError, UnavailableError, type MemberInfo } from '@raftlock/protocol';
import { closedAfterEachTest, type FakeMember, type ReceivedRequest } from './fake-member.fixture.js';

const { member, client, defer } = closedAfterEachTest();

async function directory(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'raftlock-snapshot-'));
  defer(() => rm(path, { recursive: true, force: true }));
  return path;
}

const members: MemberInfo[] = [
  { id: 'n1', address: '127.0.0.1:7071', role: 'voter' },
  { id: 'n2', address: '127.0.0.1:7072', role: 'voter' },
  { id: 'n3', address: '127.0.0.1:7073', role: 'voter' },
];

/** A leader's snapshot, served in chunks of chunkBytes. */
class FakeSnapshot {
  constructor(
    readonly index: number,
    readonly term: number,
    readonly data: Uint8Array,
    readonly chunkBytes: number,
    readonly withMembers = false,
  ) {}

  get chunkCount(): number {
    return Math.max(1, Math.ceil(this.data.byteLength / this.chunkBytes));
  }

  answer(received: ReceivedRequest, fake: FakeMember): void {
    const { chunk, index } = received.request.args as { chunk: number; index?: number };
    if (index !== undefined && index !== this.index) {
      fake.fail(received, { code: 'UNAVAILABLE', message: 'the snapshot changed; start again from chunk 0' });
      return;
    }
    const data = this.data.subarray(chunk * this.chunkBytes, (chunk + 1) * this.chunkBytes);
    fake.ok(received, { index: this.index, term: this.term, chunk, chunkCount: this.chunkCount, totalBytes: this.data.byteLength, data, ...(this.withMembers && chunk === 0 ? { members } : {}) });
  }
}

function bytes(length: number, seed: number): Uint8Array {
  const data = new Uint8Array(length);
  for (let position = 0; position < length; position++) data[position] = (position * 31 + seed) & 0xff;
  return data;
}

function leaderServing(fake: FakeMember, current: () => FakeSnapshot, configIndex = 3, before: (received: ReceivedRequest) => boolean = () => false): void {
  fake.script = (received, member) => {
    if (before(received)) return;
    if (received.request.op === 'members.list') member.ok(received, { members, leaderId: 'n1', configIndex });
    else if (received.request.op === 'snapshot.read') current().answer(received, member);
  };
}

async function readBackup(path: string): Promise<{ header: ReturnType<typeof decodeSnapshotFileHeader>['header']; data: Uint8Array; fileBytes: number }> {
  const file = new Uint8Array(await readFile(path));
  const decoded = decodeSnapshotFileHeader(file);
  expect(decoded.fileBytes).toBe(file.byteLength);
  return { header: decoded.header, data: file.subarray(decoded.dataOffset), fileBytes: file.byteLength };
}

test('save writes the header and every chunk in order, and leaves only the finished file', async () => {
  const leader = await member();
  const snapshot = new FakeSnapshot(41, 3, bytes(1_200_000, 7), 512 * 1024);
  leaderServing(leader, () => snapshot);
  const sdk = await client({ endpoints: [leader.address] });
  const folder = await directory();
  const path = join(folder, 'backup.raftlock');
  const progress: number[] = [];
  const saved = await sdk.snapshot.save(path, { onProgress: (step) => progress.push(step.writtenBytes) });
  const backup = await readBackup(path);
  expect(backup.header).toMatchObject({ index: 41, term: 3, members, totalBytes: 1_200_000 });
  expect(Buffer.from(backup.data).equals(Buffer.from(snapshot.data))).toBe(true);
  expect(saved).toMatchObject({ path, index: 41, term: 3, members, totalBytes: 1_200_000, fileBytes: backup.fileBytes, restarts: 0, createdAt: backup.header.createdAt });
  expect(progress).toEqual([524_288, 1_048_576, 1_200_000]);
  expect(await readdir(folder)).toEqual(['backup.raftlock']);
  expect((await stat(path)).mode & 0o777).toBe(0o600);
  expect(leader.requests('snapshot.read').map((received) => received.request.args)).toEqual([{ chunk: 0 }, { chunk: 1, index: 41 }, { chunk: 2, index: 41 }]);
});

test('an empty snapshot is one empty chunk', async () => {
  const leader = await member();
  leaderServing(leader, () => new FakeSnapshot(1, 1, new Uint8Array(), 1024), 1);
  const sdk = await client({ endpoints: [leader.address] });
  const path = join(await directory(), 'empty.raftlock');
  await sdk.snapshot.save(path);
  const backup = await readBackup(path);
  expect(backup.header.totalBytes).toBe(0);
  expect(backup.data.byteLength).toBe(0);
});

test('when the snapshot changes between chunks the save starts again from chunk 0 and writes only the new one', async () => {
  const leader = await member();
  let snapshot = new FakeSnapshot(41, 3, bytes(3_000, 1), 1_000);
  let reads = 0;
  leaderServing(leader, () => snapshot, 3, (received) => {
    // The leader takes a newer snapshot while the client is at chunk 2.
    if (received.request.op === 'snapshot.read' && ++reads === 3) snapshot = new FakeSnapshot(57, 4, bytes(2_500, 2), 1_000);
    return false;
  });
  const sdk = await client({ endpoints: [leader.address] });
  const path = join(await directory(), 'backup.raftlock');
  const saved = await sdk.snapshot.save(path);
  expect(saved).toMatchObject({ index: 57, term: 4, totalBytes: 2_500, restarts: 1 });
  const backup = await readBackup(path);
  expect(Buffer.from(backup.data).equals(Buffer.from(snapshot.data))).toBe(true);
  expect(leader.requests('snapshot.read').map((received) => received.request.args)).toEqual([
    { chunk: 0 },
    { chunk: 1, index: 41 },
    { chunk: 2, index: 41 },
    { chunk: 0 },
    { chunk: 1, index: 57 },
    { chunk: 2, index: 57 },
  ]);
});

test('a snapshot that keeps changing fails with UNAVAILABLE and leaves the old file as it was', async () => {
  const leader = await member();
  let next = 10;
  let snapshot = new FakeSnapshot(next, 1, bytes(2_000, 0), 1_000);
  leaderServing(leader, () => snapshot, 3, (received) => {
    if (received.request.op === 'snapshot.read' && (received.request.args as { chunk: number }).chunk === 0) snapshot = new FakeSnapshot(++next, 1, bytes(2_000, next), 1_000);
    if (received.request.op === 'snapshot.read' && (received.request.args as { chunk: number }).chunk === 1) snapshot = new FakeSnapshot(++next, 1, bytes(2_000, next), 1_000);
    return false;
  });
  const sdk = await client({ endpoints: [leader.address] });
  const folder = await directory();
  const path = join(folder, 'backup.raftlock');
  await writeFile(path, 'the previous backup');
  const error = await sdk.snapshot.save(path).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(UnavailableError);
  expect((error as Error).message).toMatch(/changed 4 times/);
  expect(await readFile(path, 'utf8')).toBe('the previous backup');
  expect(await readdir(folder)).toEqual(['backup.raftlock']);
});

test('the configuration comes with chunk 0 when the member sends it, else from a members.list no newer than the snapshot', async () => {
  const leader = await member();
  leaderServing(leader, () => new FakeSnapshot(41, 3, bytes(10, 0), 1_000, true), 99);
  const sdk = await client({ endpoints: [leader.address] });
  const path = join(await directory(), 'backup.raftlock');
  expect((await sdk.snapshot.save(path)).members).toEqual(members);
  expect(leader.requests('members.list')).toEqual([]);

  // Without it, a configuration applied after the snapshot's index means: take a newer snapshot.
  let index = 41;
  leaderServing(leader, () => new FakeSnapshot(index++, 3, bytes(10, 0), 1_000), 42);
  const saved = await sdk.snapshot.save(path);
  expect(saved).toMatchObject({ index: 42, restarts: 1 });
});

test('a chunk that contradicts chunk 0 fails the save as a bug, without a file', async () => {
  const leader = await member();
  leader.script = (received, fake) => {
    if (received.request.op === 'members.list') fake.ok(received, { members, leaderId: 'n1', configIndex: 1 });
    const { chunk } = received.request.args as { chunk: number };
    if (received.request.op === 'snapshot.read') fake.ok(received, { index: 41, term: 3, chunk, chunkCount: 2, totalBytes: 4, data: new Uint8Array(chunk === 0 ? [1, 2] : [3, 4, 5]) });
  };
  const sdk = await client({ endpoints: [leader.address] });
  const folder = await directory();
  const error = await sdk.snapshot.save(join(folder, 'backup.raftlock')).catch((caught: unknown) => caught);
  expect(error).toBeInstanceOf(InternalError);
  expect((error as Error).message).toMatch(/chunk 1 goes past the snapshot's 4 bytes/);
  expect(await readdir(folder)).toEqual([]);
});

test('aborting stops the save and removes the partial file', async () => {
  const leader = await member();
  const controller = new AbortController();
  const snapshot = new FakeSnapshot(41, 3, bytes(3_000, 0), 1_000);
  leaderServing(leader, () => snapshot, 3, (received) => {
    if (received.request.op === 'snapshot.read' && (received.request.args as { chunk: number }).chunk === 2) {
      controller.abort(new Error('stop'));
      return true; // never answered
    }
    return false;
  });
  const sdk = await client({ endpoints: [leader.address] });
  const folder = await directory();
  await expect(sdk.snapshot.save(join(folder, 'backup.raftlock'), { signal: controller.signal })).rejects.toThrow('stop');
  expect(await readdir(folder)).toEqual([]);
});
