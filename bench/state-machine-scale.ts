// The lock state machine and its snapshot codec at scale (issue 8: 1M held locks), without a
// cluster: how long applying N acquires takes, how fast acquire+release cycles run on top of N held
// locks (compare 1k with 1M), heap and RSS, one-shot and incremental snapshot encoding (the longest
// step while entries keep applying between steps), bytes, decode + restore, and closing every session
// of the restored state (a close releases all its session's locks in one entry, applied in one step).
//
//   node --expose-gc --import tsx bench/state-machine-scale.ts [--sizes 1000,10000,100000,1000000]
//        [--step-records 4096] [--json out.json]
//
// Each size runs in its own child process, so RSS belongs to that size alone. This is a standalone
// script, not a `pnpm bench` scenario: it measures the pure state machine and the codec, which no
// public entry exposes, so it imports them from the server's sources directly.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defaultLockLimits, type LockCommand } from '../packages/server/src/lock/lock-commands.js';
import { LockStateMachine } from '../packages/server/src/lock/lock-state-machine.js';
import { lockSnapshotCodec } from '../packages/server/src/runtime/lock-snapshot-codec.js';

interface SizeResult {
  readonly heldLocks: number;
  readonly applyMs: number;
  readonly applyMicrosPerLock: number;
  readonly cyclesPerSecond: number;
  readonly heapUsedMiB: number;
  readonly rssMiB: number;
  readonly encodeMs: number;
  readonly snapshotMiB: number;
  /** beginEncode(): the copies and views a walk starts from. */
  readonly beginMs: number;
  readonly incrementalMs: number;
  readonly incrementalSteps: number;
  readonly stepP50Ms: number;
  readonly stepP99Ms: number;
  readonly stepMaxMs: number;
  /** CPU time of the process (all threads, GC helpers included) during the costliest step. */
  readonly stepCpuMaxMs: number;
  readonly entriesAppliedDuringEncode: number;
  readonly preImagesBytesEqual: boolean;
  readonly rssMaxDuringEncodeMiB: number;
  readonly decodeRestoreMs: number;
  readonly decodeRestoreCpuMs: number;
  readonly rssAfterRestoreMiB: number;
  /** Closing every session of the restored machine, one CloseSession each: every held lock is released. */
  readonly closeAllMs: number;
  readonly closeMicrosPerLock: number;
  readonly closeSlowestMs: number;
}

const sessionCount = 64;
const warmUpCycles = 20_000;
/** Cycles are timed in rounds; the best round counts, as the machine is shared with other work. */
const cycleRounds = 5;
const cyclesPerRound = 20_000;
const mebibyte = 2 ** 20;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function rssMiB(): number {
  return process.memoryUsage().rss / mebibyte;
}

/** A request id shaped like the SDK's (nanoid, 21 characters). */
function requestId(sequence: number): string {
  return `r${String(sequence).padStart(20, '0')}`;
}

/** Applies commands at increasing indexes and checks they succeed. */
class Driver {
  index: number;
  readonly leaderTimeMs = 1_700_000_000_000;

  /** sequence: the last request id number already used; new ids follow it, past any the machine's dedupe table holds. */
  constructor(
    readonly machine: LockStateMachine,
    private sequence = 0,
  ) {
    this.index = machine.lastAppliedIndex();
  }

  apply(command: LockCommand): { ok: boolean; token: number } {
    this.index++;
    const { result } = this.machine.apply(this.index, command);
    if (result === undefined || !result.ok) throw new Error(`refused: ${JSON.stringify(result)}`);
    return { ok: true, token: 'token' in result.value ? result.value.token : 0 };
  }

  nextRequestId(): string {
    return requestId(++this.sequence);
  }

  get lastSequence(): number {
    return this.sequence;
  }

  acquire(sessionId: string, name: string): number {
    const command: LockCommand = { type: 'Acquire', requestId: this.nextRequestId(), sessionId, kind: 'lock', name, mode: 'try', metadata: '', value: '', leaderTimeMs: this.leaderTimeMs };
    return this.apply(command).token;
  }

  release(sessionId: string, name: string, token: number): void {
    this.apply({ type: 'Release', requestId: this.nextRequestId(), sessionId, kind: 'lock', name, token });
  }

  /** One acquire + release of a lock nobody holds. */
  cycle(sessionId: string, sequence: number): void {
    const name = `bench/cycle/${sequence % 1000}`;
    this.release(sessionId, name, this.acquire(sessionId, name));
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? 0;
}

type Measured = Omit<SizeResult, 'decodeRestoreMs' | 'decodeRestoreCpuMs' | 'rssAfterRestoreMiB' | 'closeAllMs' | 'closeMicrosPerLock' | 'closeSlowestMs'>;

/** Everything but the restore; the machine is garbage once this returns, as after a restart. */
function buildAndEncode(heldLocks: number, stepRecords: number): { bytes: Uint8Array; measured: Measured; sessions: string[]; lastSequence: number } {
  const limits = { ...defaultLockLimits, maxLocks: heldLocks + 10_000 };
  const machine = new LockStateMachine(limits);
  const driver = new Driver(machine);
  const sessions: string[] = [];
  for (let position = 0; position < sessionCount; position++) {
    driver.apply({ type: 'OpenSession', requestId: driver.nextRequestId(), ttlMs: 10_000, clientName: `worker-${position}`, leaderTimeMs: driver.leaderTimeMs });
    sessions.push(String(driver.index));
  }
  const session = (position: number): string => sessions[position % sessionCount] ?? '';

  const applyStarted = performance.now();
  for (let lock = 0; lock < heldLocks; lock++) driver.acquire(session(lock), `bench/scale/${lock}`);
  const applyMs = performance.now() - applyStarted;

  // Warm up first (the JIT, and the cycle names' first records), so sizes compare like for like.
  for (let cycle = 0; cycle < warmUpCycles; cycle++) driver.cycle(session(cycle), cycle);
  let cyclesPerSecond = 0;
  for (let round = 0; round < cycleRounds; round++) {
    const roundStarted = performance.now();
    for (let cycle = 0; cycle < cyclesPerRound; cycle++) driver.cycle(session(cycle), cycle);
    cyclesPerSecond = Math.max(cyclesPerSecond, cyclesPerRound / ((performance.now() - roundStarted) / 1000));
  }

  gc();
  const { heapUsed, rss } = process.memoryUsage();

  const encodeStarted = performance.now();
  const oneShot = lockSnapshotCodec.encode(machine);
  const encodeMs = performance.now() - encodeStarted;

  // Incremental: a few cycles applied between steps, as a busy leader would.
  const steps: number[] = [];
  let stepCpuMaxMs = 0;
  let rssMax = rssMiB();
  let appliedDuring = 0;
  const beginStarted = performance.now();
  const encoding = lockSnapshotCodec.beginEncode(machine);
  const beginMs = performance.now() - beginStarted;
  for (let done = false; !done; ) {
    const cpuBefore = process.cpuUsage();
    const stepStarted = performance.now();
    done = encoding.step(stepRecords);
    steps.push(performance.now() - stepStarted);
    const cpu = process.cpuUsage(cpuBefore);
    stepCpuMaxMs = Math.max(stepCpuMaxMs, (cpu.user + cpu.system) / 1000);
    for (let cycle = 0; cycle < 4; cycle++) driver.cycle(session(cycle), appliedDuring++);
    if (steps.length % 16 === 0) rssMax = Math.max(rssMax, rssMiB());
  }
  const incremental = encoding.result();
  rssMax = Math.max(rssMax, rssMiB());
  const bytesEqual = Buffer.from(incremental).equals(Buffer.from(oneShot));
  const sortedSteps = [...steps].sort((left, right) => left - right);

  const measured: Measured = {
    heldLocks,
    applyMs,
    applyMicrosPerLock: (applyMs * 1000) / heldLocks,
    cyclesPerSecond,
    heapUsedMiB: heapUsed / mebibyte,
    rssMiB: rss / mebibyte,
    encodeMs,
    snapshotMiB: incremental.byteLength / mebibyte,
    beginMs,
    incrementalMs: steps.reduce((sum, step) => sum + step, 0),
    incrementalSteps: steps.length,
    stepP50Ms: percentile(sortedSteps, 0.5),
    stepP99Ms: percentile(sortedSteps, 0.99),
    stepMaxMs: sortedSteps[sortedSteps.length - 1] ?? 0,
    stepCpuMaxMs,
    entriesAppliedDuringEncode: appliedDuring * 2,
    preImagesBytesEqual: bytesEqual,
    rssMaxDuringEncodeMiB: rssMax,
  };
  return { bytes: incremental, measured, sessions, lastSequence: driver.lastSequence };
}

/** Decodes with nothing else alive but the bytes, as a member restarting from its snapshot. */
function measureSize(heldLocks: number, stepRecords: number): SizeResult {
  const { bytes, measured, sessions, lastSequence } = buildAndEncode(heldLocks, stepRecords);
  gc();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const restored = lockSnapshotCodec.decode(bytes);
  const decodeRestoreMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  if (restored.stats().locksHeld !== measured.heldLocks) throw new Error('the restored machine lost locks');
  const rssAfterRestoreMiB = rssMiB();
  // A session's close releases everything it holds in one entry, which a member applies in one step.
  const closer = new Driver(restored, lastSequence);
  let closeSlowestMs = 0;
  const closeStarted = performance.now();
  for (const sessionId of sessions) {
    const started = performance.now();
    closer.apply({ type: 'CloseSession', requestId: closer.nextRequestId(), sessionId });
    closeSlowestMs = Math.max(closeSlowestMs, performance.now() - started);
  }
  const closeAllMs = performance.now() - closeStarted;
  if (restored.stats().locksHeld !== 0) throw new Error('closing every session left locks held');
  return {
    ...measured,
    decodeRestoreMs,
    decodeRestoreCpuMs: (cpu.user + cpu.system) / 1000,
    rssAfterRestoreMiB,
    closeAllMs,
    closeMicrosPerLock: (closeAllMs * 1000) / heldLocks,
    closeSlowestMs,
  };
}

function runChild(heldLocks: number, stepRecords: number): void {
  const result = measureSize(heldLocks, stepRecords);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runParent(sizes: readonly number[], stepRecords: number, jsonPath: string | undefined): void {
  const results: SizeResult[] = [];
  for (const size of sizes) {
    const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', String(size), '--step-records', String(stepRecords)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 16 * mebibyte,
    });
    if (child.status !== 0) throw new Error(`size ${size} failed with status ${String(child.status)}`);
    const line = child.stdout.trim().split('\n').pop() ?? '';
    results.push(JSON.parse(line) as SizeResult);
  }
  const baseline = results[0]?.cyclesPerSecond ?? 1;
  const fixed = (value: number, digits = 0) => value.toFixed(digits);
  const rows = results.map((result) => ({
    'held locks': result.heldLocks,
    'apply ms': fixed(result.applyMs),
    'µs/lock': fixed(result.applyMicrosPerLock, 2),
    'cycles/s': fixed(result.cyclesPerSecond),
    [`vs ${results[0]?.heldLocks ?? 0}`]: `${fixed((100 * result.cyclesPerSecond) / baseline)}%`,
    'heap MiB': fixed(result.heapUsedMiB),
    'RSS MiB': fixed(result.rssMiB),
    'encode ms': fixed(result.encodeMs),
    'snapshot MiB': fixed(result.snapshotMiB, 1),
    'begin ms': fixed(result.beginMs, 1),
    'stepped ms': fixed(result.incrementalMs),
    steps: result.incrementalSteps,
    'step p50/p99/max ms': `${fixed(result.stepP50Ms, 1)}/${fixed(result.stepP99Ms, 1)}/${fixed(result.stepMaxMs, 1)}`,
    'step cpu max': fixed(result.stepCpuMaxMs, 1),
    'same bytes': result.preImagesBytesEqual,
    'RSS max encoding': fixed(result.rssMaxDuringEncodeMiB),
    'decode+restore ms (cpu)': `${fixed(result.decodeRestoreMs)} (${fixed(result.decodeRestoreCpuMs)})`,
    'RSS restored': fixed(result.rssAfterRestoreMiB),
    'close all ms (µs/lock, slowest)': `${fixed(result.closeAllMs)} (${fixed(result.closeMicrosPerLock, 2)}, ${fixed(result.closeSlowestMs)})`,
  }));
  console.table(rows);
  console.log(
    `steps of ${stepRecords} records, 8 entries applied between steps (step times are wall clock; step cpu is the process's CPU time in the costliest step); ` +
      `cycles/s = try-acquire + release of a free lock on top of the held ones, best of ${cycleRounds} rounds of ${cyclesPerRound} after ${warmUpCycles} warm-up cycles; ` +
      `close all = one CloseSession for each of the ${sessionCount} sessions of the restored machine, releasing every held lock (slowest: one close)`,
  );
  if (jsonPath !== undefined) writeFileSync(jsonPath, `${JSON.stringify({ stepRecords, results }, null, 2)}\n`);
}

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000,1000000' },
    'step-records': { type: 'string', default: '4096' },
    json: { type: 'string' },
    child: { type: 'string' },
  },
});
const stepRecords = Number(values['step-records']);
if (values.child !== undefined) runChild(Number(values.child), stepRecords);
else runParent(values.sizes.split(',').map(Number), stepRecords, values.json);
