import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { superviseChild, type LeaseSource, type SuperviseOptions } from './child-supervisor.js';
import type { CommandGuard } from './lease-watchdog.js';
import { Output } from './output.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'raftlock-supervisor-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

class FakeLease extends EventEmitter implements LeaseSource {
  constructor(
    public leaseDeadlineMs: number,
    readonly ttlMs: number,
  ) {
    super();
  }
}

/** A watchdog whose arming the test decides. */
function manualGuard(): { guard: CommandGuard; arm: (armed: boolean) => void } {
  let arm: (armed: boolean) => void = () => undefined;
  const armed = new Promise<boolean>((resolve) => (arm = resolve));
  return { guard: { armed, renew: () => undefined, stop: () => undefined }, arm: (value) => arm(value) };
}

function options(command: readonly string[], extra: Partial<SuperviseOptions> = {}): SuperviseOptions {
  const sink = { write: () => true, isTTY: false };
  return {
    command,
    env: { RAFTLOCK_TOKEN: '42' },
    lossSignal: new AbortController().signal,
    graceMs: 1000,
    holdName: 'lock "job"',
    output: new Output({ stdout: sink, stderr: sink, env: {} }, { json: false }),
    lease: new FakeLease(performance.now() + 60_000, 60_000),
    ...extra,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the command does not start until its lease watchdog reports that it is armed', async () => {
  const marker = join(directory, 'started');
  const { guard, arm } = manualGuard();
  const exit = superviseChild(options(['sh', '-c', 'echo "$RAFTLOCK_TOKEN" > "$0"', marker], { startWatchdog: () => guard }));
  await sleep(300);
  expect(existsSync(marker)).toBe(false);
  arm(true);
  expect(await exit).toEqual({ kind: 'exited', exitCode: 0, lossReason: undefined });
  expect(existsSync(marker)).toBe(true);
});

test('a watchdog that cannot start means the command is never run', async () => {
  const marker = join(directory, 'started');
  const { guard, arm } = manualGuard();
  const exit = superviseChild(options(['sh', '-c', 'touch "$0"', marker], { startWatchdog: () => guard }));
  arm(false);
  const result = await exit;
  expect(result).toMatchObject({ kind: 'not-started', exitCode: 126 });
  expect(result.kind === 'not-started' && result.message).toMatch(/^cannot run sh: its lease watchdog could not be started/);
  await sleep(100);
  expect(existsSync(marker)).toBe(false);
});

test('a hold lost while the watchdog starts: the command is never run and the run reports the loss', async () => {
  const marker = join(directory, 'started');
  const { guard, arm } = manualGuard();
  const loss = new AbortController();
  const exit = superviseChild(options(['sh', '-c', 'touch "$0"', marker], { startWatchdog: () => guard, lossSignal: loss.signal }));
  loss.abort(new Error('session expired'));
  arm(true);
  const result = await exit;
  expect(result).toMatchObject({ kind: 'exited', lossReason: 'session expired' });
  await sleep(100);
  expect(existsSync(marker)).toBe(false);
});

test('with the real watchdog the command runs with the hold\'s environment and its own exit code, and sees no gate descriptor', async () => {
  const output = join(directory, 'out');
  // fd 3 must be closed before the command runs: it is the gate's, not the command's.
  const result = await superviseChild(options(['sh', '-c', 'echo "$RAFTLOCK_TOKEN" > "$0"; if (: >&3) 2>/dev/null; then echo open >> "$0"; fi; exit 7', output]));
  expect(result).toEqual({ kind: 'exited', exitCode: 7, lossReason: undefined });
  expect(await readFile(output, 'utf8')).toBe('42\n');
});

test('the real watchdog stops a command whose lease deadline passes without a renewal', async () => {
  // TTL 1 s: the watchdog acts 100 ms before the deadline, which nothing here moves on.
  const started = performance.now();
  const result = await superviseChild(options(['sleep', '30'], { lease: new FakeLease(performance.now() + 600, 1000), graceMs: 500 }));
  expect(result).toEqual({ kind: 'exited', exitCode: 143, lossReason: 'its lease may have lapsed' });
  expect(performance.now() - started).toBeLessThan(5000);
});

test('a missing command exits 127 and a file that is not executable exits 126, in the CLI\'s words', async () => {
  expect(await superviseChild(options(['raftlock-no-such-command-x']))).toEqual({ kind: 'not-started', exitCode: 127, message: 'cannot run raftlock-no-such-command-x: command not found' });
  const script = join(directory, 'script.sh');
  await writeFile(script, '#!/bin/sh\necho hi\n');
  await chmod(script, 0o644);
  expect(await superviseChild(options([script]))).toEqual({ kind: 'not-started', exitCode: 126, message: `cannot run ${script}: not an executable file` });
  expect(await superviseChild(options([join(directory, 'missing')]))).toMatchObject({ kind: 'not-started', exitCode: 127 });
});
