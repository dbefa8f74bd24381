import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { superviseChild, type LeaseSource, type SuperviseOptions } from './child-supervisor.js';
import type { CommandGuard } from './lease-watchdog.js';
import { Output } from './output.js';
import { checkRunnable } from './runnable-command.js';

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
function manualGuard(): { guard: CommandGuard; arm: (armed: boolean) => void; end: () => void } {
  let arm: (armed: boolean) => void = () => undefined;
  let end: () => void = () => undefined;
  const armed = new Promise<boolean>((resolve) => (arm = resolve));
  const ended = new Promise<void>((resolve) => (end = resolve));
  return { guard: { armed, ended, renew: () => undefined, stop: () => undefined }, arm: (value) => arm(value), end: () => end() };
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
  await sleep(100);
  loss.abort(new Error('session expired'));
  arm(true);
  const result = await exit;
  expect(result).toMatchObject({ kind: 'exited', lossReason: 'session expired' });
  await sleep(100);
  expect(existsSync(marker)).toBe(false);
});

test('a lease that ran out before the watchdog armed: the command is never run and the run reports the lapse', async () => {
  const marker = join(directory, 'started');
  const { guard, arm } = manualGuard();
  const lease = new FakeLease(performance.now() + 300, 1000); // acts at deadline - 100 ms
  const exit = superviseChild(options(['sh', '-c', 'touch "$0"', marker], { startWatchdog: () => guard, lease }));
  await sleep(400);
  arm(true);
  expect(await exit).toEqual({ kind: 'exited', exitCode: 125, lossReason: 'its lease may have lapsed' });
  expect(existsSync(marker)).toBe(false);
});

test('a watchdog that ends while the command runs is replaced by another', async () => {
  const marker = join(directory, 'released');
  const first = manualGuard();
  const second = manualGuard();
  const guards = [first, second];
  let started = 0;
  const exit = superviseChild(
    options(['sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.02; done', marker], {
      startWatchdog: () => {
        const next = guards[started++];
        if (next === undefined) throw new Error('a third watchdog was not expected');
        return next.guard;
      },
    }),
  );
  first.arm(true);
  await sleep(100);
  expect(started).toBe(1);
  first.end();
  await sleep(100);
  expect(started).toBe(2);
  await writeFile(marker, '');
  expect(await exit).toEqual({ kind: 'exited', exitCode: 0, lossReason: undefined });
});

test('when no watchdog can be started for the command, it is never run', async () => {
  const marker = join(directory, 'started');
  const result = await superviseChild(
    options(['sh', '-c', 'touch "$0"', marker], {
      startWatchdog: () => {
        throw new Error('spawn EAGAIN');
      },
    }),
  );
  expect(result).toMatchObject({ kind: 'not-started', exitCode: 126 });
  expect(existsSync(marker)).toBe(false);
});

test('the command gets its arguments exactly as given: spaces, empty strings, leading dashes', async () => {
  const output = join(directory, 'argv');
  const result = await superviseChild(options(['sh', '-c', 'for a in "$@"; do printf "[%s]" "$a"; done > "$0"', output, 'a b', '', '-n', '--', '$HOME', '*']));
  expect(result).toEqual({ kind: 'exited', exitCode: 0, lossReason: undefined });
  expect(await readFile(output, 'utf8')).toBe('[a b][][-n][--][$HOME][*]');
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

test('a missing command is refused with 127 and a file that is not executable with 126, in the CLI\'s words', async () => {
  expect(await checkRunnable('raftlock-no-such-command-x')).toEqual({ exitCode: 127, message: 'cannot run raftlock-no-such-command-x: command not found' });
  const script = join(directory, 'script.sh');
  await writeFile(script, '#!/bin/sh\necho hi\n');
  await chmod(script, 0o644);
  expect(await checkRunnable(script)).toEqual({ exitCode: 126, message: `cannot run ${script}: not an executable file` });
  expect(await checkRunnable(join(directory, 'missing'))).toMatchObject({ exitCode: 127 });
  expect(await checkRunnable('sh')).toBeUndefined();
  await chmod(script, 0o755);
  expect(await checkRunnable(script)).toBeUndefined();
});

test('a CLI killed while its command waits at the gate leaves nothing running: the gate sees end-of-file and exits unrun', async () => {
  const marker = join(directory, 'started');
  const supervisor = fileURLToPath(new URL('./child-supervisor.ts', import.meta.url));
  // A stand-in CLI whose watchdog never arms: the gate waits, and then the CLI is SIGKILLed.
  const script = `
    import { superviseChild } from ${JSON.stringify(supervisor)};
    const sink = { write: () => true, isTTY: false };
    const lease = { leaseDeadlineMs: performance.now() + 60_000, ttlMs: 60_000, on() {}, off() {} };
    const guard = { armed: new Promise(() => {}), ended: new Promise(() => {}), renew() {}, stop() {} };
    const output = { warn() {}, progress() {} };
    void superviseChild({ command: ['sh', '-c', 'touch "$0"', ${JSON.stringify(marker)}], env: {}, lossSignal: new AbortController().signal, graceMs: 1000, holdName: 'lock "job"', output, lease, startWatchdog: () => guard });
    setInterval(() => {}, 1000);
  `;
  const cli = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repositoryRoot, stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    const gatePid = await eventuallyValue(() => gateChildOf(cli.pid as number), 10_000);
    cli.kill('SIGKILL');
    await eventuallyValue(() => (isRunning(gatePid) ? undefined : true), 5_000);
    expect(existsSync(marker)).toBe(false);
  } finally {
    cli.kill('SIGKILL');
  }
});

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** The gate shell among pid's children (tsx has an esbuild child too). */
function gateChildOf(pid: number): number | undefined {
  const gate = readdirSync('/proc')
    .filter((entry) => /^[0-9]+$/.test(entry))
    .find((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return parent === pid && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('raftlock-gate');
      } catch {
        return false;
      }
    });
  return gate === undefined ? undefined : Number(gate);
}

function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function eventuallyValue<T>(check: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(20);
  }
}
