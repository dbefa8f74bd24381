// Acceptance (issue 5): `raftlock lock run` holds the lock while its command runs.
//   1. Contenders started together never overlap — their commands append start/end lines with a
//      sleep in between to one shared file, and the lines never interleave — and each CLI exits with
//      its own command's exit code.
//   2. A holder whose CLI process is frozen (SIGSTOP) past its lease has its command stopped BEFORE
//      the next holder's command starts, and exits non-zero once it runs again; the next holder's
//      fencing token is greater.
//
// How (2) holds although the CLI is frozen: `lock run` leaves a detached lease watchdog beside the
// command (packages/cli/src/lease-watchdog.ts). It knows the SDK's lease deadline — send time of the
// last acknowledged keepalive + TTL, which comes before the cluster can expire the session (SPEC §3.6)
// — and stops the command's process group when it passes. What no process on the machine can cover
// is a pause of the whole machine; that is what RAFTLOCK_TOKEN (fencing) is for.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { LocalCluster } from '../e2e/local-cluster.js';
import { eventually, sleep } from '../sdk/sdk-test-helpers.js';
import { CliProcess, isAlive, liveProcessesInGroup, readLines } from './cli-process.js';

test('lock run: three contenders started together never overlap, and each exits with its command\'s code', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const endpoints = cluster.members.map((member) => member.address).join(',');
  const directory = await mkdtemp(join(tmpdir(), 'raftlock-cli-'));
  try {
    const shared = join(directory, 'shared.log');
    const contenders = ['a', 'b', 'c'].map((label, position) =>
      CliProcess.start(['--endpoints', endpoints, 'lock', 'run', 'job', '--', 'sh', '-c', `echo "start ${label} $RAFTLOCK_LOCK $RAFTLOCK_TOKEN" >> "$0"; sleep 0.3; echo "end ${label}" >> "$0"; exit ${3 + position}`, shared]),
    );
    try {
      const results = await Promise.all(contenders.map((contender) => contender.waitExit(30_000)));
      expect(results.map((result) => result.exitCode)).toEqual([3, 4, 5]);
      for (const result of results) expect(result.stderr).toBe(''); // nothing decorative when not a terminal
      const log = readLines(shared);
      expect(log).toHaveLength(6);
      const tokens: bigint[] = [];
      for (let turn = 0; turn < 3; turn++) {
        const start = /^start ([abc]) job (\d+)$/.exec(log[2 * turn] ?? '');
        expect(start, `line ${2 * turn}: ${log[2 * turn]}`).not.toBeNull();
        expect(log[2 * turn + 1]).toBe(`end ${start?.[1]}`); // the next start only after this end
        tokens.push(BigInt(start?.[2] ?? '0'));
      }
      expect(new Set(log.filter((line) => line.startsWith('start')).map((line) => line.split(' ')[1])).size).toBe(3);
      expect(tokens[1]).toBeGreaterThan(tokens[0] as bigint);
      expect(tokens[2]).toBeGreaterThan(tokens[1] as bigint);
    } finally {
      await Promise.all(contenders.map((contender) => contender.stop()));
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('lock run: a holder frozen past its lease has its command stopped before the next holder\'s command starts, and exits 1 once it runs again; the next token is greater', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const endpoints = cluster.members.map((member) => member.address).join(',');
  const directory = await mkdtemp(join(tmpdir(), 'raftlock-cli-'));
  try {
    const shared = join(directory, 'shared.log');
    // The command notes its own end ("stopped") when SIGTERM reaches it, so the log orders the events.
    const firstCommand = 'trap \'echo stopped >> "$0"; exit 143\' TERM; echo "start $$ $RAFTLOCK_TOKEN" >> "$0"; sleep 30 & wait; echo end >> "$0"';
    await using first = CliProcess.start(['--endpoints', endpoints, 'lock', 'run', '--ttl', '5s', 'job', '--', 'sh', '-c', firstCommand, shared]);
    const started = await eventually(() => readLines(shared).find((line) => line.startsWith('start ')), 15_000, 'the first command started');
    const [, shellPidText, firstTokenText] = started.split(' ');
    const shellPid = Number(shellPidText);
    expect(isAlive(shellPid)).toBe(true);
    // The command leads its own process group (stdin is not a terminal): sh and its sleep.
    await eventually(() => liveProcessesInGroup(shellPid).length === 2, 3_000, 'sh and its sleep in the command\'s process group');

    first.signal('SIGSTOP');
    const frozenAtMs = performance.now();
    await using second = CliProcess.start(['--endpoints', endpoints, 'lock', 'run', 'job', '--', 'sh', '-c', 'echo "second $RAFTLOCK_TOKEN" >> "$0"', shared]);
    const secondResult = await second.waitExit(30_000);
    const secondGrantedAfterMs = performance.now() - frozenAtMs;
    expect(secondResult.exitCode).toBe(0);
    const log = readLines(shared);
    const secondLine = log.find((line) => line.startsWith('second '));
    expect(secondLine).toBeDefined();
    // The frozen CLI could do nothing, yet its command was stopped before the next one started.
    expect(log.indexOf('stopped'), log.join(' | ')).toBeGreaterThan(-1);
    expect(log.indexOf('stopped')).toBeLessThan(log.indexOf(secondLine ?? ''));
    await eventually(() => !isAlive(shellPid) && liveProcessesInGroup(shellPid).length === 0, 3_000, 'the first command\'s process group to be gone');
    expect(first.isRunning).toBe(true); // still frozen

    await sleep(200);
    first.signal('SIGCONT');
    const thawedAtMs = performance.now();
    const firstResult = await first.waitExit(10_000);
    const exitedAfterMs = performance.now() - thawedAtMs;
    expect(firstResult.exitCode).toBe(1);
    // Whichever it notices first on waking — its lease timer, the cluster's expiry, or its command's
    // end past the deadline — it reports a possible loss in one line.
    expect(firstResult.stderr).toMatch(/^raftlock: lock "job" may have been lost \(.*lapsed.*\)[;,] .*\n$/);
    expect(readLines(shared).filter((line) => line === 'end')).toEqual([]);
    // Fencing: the second grant's token is greater, so the stale command's writes can be refused.
    const secondToken = BigInt(secondLine?.split(' ')[1] ?? '0');
    expect(secondToken).toBeGreaterThan(BigInt(firstTokenText ?? '0'));
    console.log(`lock run frozen holder: second holder granted ${secondGrantedAfterMs.toFixed(0)} ms after the freeze (ttl 5 s), after the watchdog stopped the first command; the frozen CLI exited ${exitedAfterMs.toFixed(0)} ms after SIGCONT; tokens ${firstTokenText} → ${secondToken}`);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('lock run: a holder whose CLI is SIGKILLed still has its command stopped by the lease watchdog, before the next holder starts', async () => {
  await using cluster = await LocalCluster.start({ size: 3 });
  const endpoints = cluster.members.map((member) => member.address).join(',');
  const directory = await mkdtemp(join(tmpdir(), 'raftlock-cli-'));
  try {
    const shared = join(directory, 'shared.log');
    const firstCommand = 'trap \'echo stopped >> "$0"; exit 143\' TERM; echo "start $$" >> "$0"; sleep 30 & wait; echo end >> "$0"';
    await using first = CliProcess.start(['--endpoints', endpoints, 'lock', 'run', '--ttl', '5s', 'job', '--', 'sh', '-c', firstCommand, shared]);
    const started = await eventually(() => readLines(shared).find((line) => line.startsWith('start ')), 15_000, 'the first command started');
    const shellPid = Number(started.split(' ')[1]);
    first.signal('SIGKILL');
    await using second = CliProcess.start(['--endpoints', endpoints, 'lock', 'run', 'job', '--', 'sh', '-c', 'echo second >> "$0"', shared]);
    expect((await second.waitExit(20_000)).exitCode).toBe(0);
    const log = readLines(shared);
    expect(log.indexOf('stopped'), log.join(' | ')).toBeGreaterThan(-1);
    expect(log.indexOf('stopped')).toBeLessThan(log.indexOf('second'));
    await eventually(() => !isAlive(shellPid) && liveProcessesInGroup(shellPid).length === 0, 3_000, 'the orphaned command\'s process group to be gone');
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
