// Acceptance (issue 5): wrong flags exit 2 with one line on stderr (and nothing on stdout); a cluster
// that cannot be reached — endpoints on free ports with nothing listening — exits 3 within --timeout,
// with one line, and `lock run` then never starts its command.

import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { freePorts } from '../e2e/free-ports.js';
import { lines, runCli } from './cli-process.js';

const usageErrors: readonly (readonly string[])[] = [
  ['status', '--bogus'],
  ['statsu'],
  [],
  ['lock'],
  ['lock', 'get'],
  ['lock', 'run', 'job'],
  ['lock', 'run', 'job', 'echo', 'hi'],
  ['lock', 'release', 'job'],
  ['--timeout', '5', 'status'],
  ['lock', 'run', '--ttl', '10', 'job', '--', 'true'],
  ['lock', 'run', '--ttl', '100ms', 'job', '--', 'true'],
  ['lock', 'get', ''],
];

test.each(usageErrors.map((args) => [args.join(' '), args] as const))('usage error exits 2 with one line: raftlock %s', async (_name, args) => {
  const result = await runCli(args);
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe('');
  expect(lines(result.stderr)).toHaveLength(1);
  expect(result.stderr).toMatch(/^raftlock: \S/);
});

test('an unreachable cluster exits 3 within --timeout, with one line, and lock run never starts its command', async () => {
  const endpoints = (await freePorts(3)).map((port) => `127.0.0.1:${port}`).join(',');
  const timeoutMs = 1_000;
  // --timeout counts from the CLI process's own start (performance.timeOrigin); allow for the exec
  // before that and the exit after it, on a busy machine.
  const startAllowanceMs = 1_000;
  const directory = await mkdtemp(join(tmpdir(), 'raftlock-cli-'));
  try {
    const marker = join(directory, 'ran');
    const report: string[] = [];
    for (const args of [['status'], ['locks'], ['lock', 'run', 'job', '--', 'touch', marker]]) {
      const result = await runCli(['--endpoints', endpoints, '--timeout', '1s', ...args]);
      expect(result.exitCode).toBe(3);
      expect(result.stdout).toBe('');
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(/^raftlock: cluster unavailable: /);
      expect(result.elapsedMs).toBeLessThan(timeoutMs + startAllowanceMs);
      report.push(`${args[0]} ${result.elapsedMs.toFixed(0)} ms`);
    }
    expect(existsSync(marker)).toBe(false);
    console.log(`unreachable cluster, --timeout 1s: exit 3 after ${report.join(', ')} (process start to exit)`);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('membership changes and snapshot save exit 3 against an unreachable cluster, and leave no backup file behind', async () => {
  const endpoints = (await freePorts(1)).map((port) => `127.0.0.1:${port}`).join(',');
  const directory = await mkdtemp(join(tmpdir(), 'raftlock-cli-'));
  try {
    const backup = join(directory, 'backup.raftlock');
    for (const args of [['members', 'add', 'n4', '127.0.0.1:7074'], ['members', 'remove', 'n3'], ['members', 'transfer-leader', 'n2'], ['snapshot', 'save', backup]]) {
      const result = await runCli(['--endpoints', endpoints, '--timeout', '500ms', ...args]);
      expect(result.exitCode).toBe(3);
      expect(result.stdout).toBe('');
      expect(lines(result.stderr)).toEqual([expect.stringMatching(/^raftlock: cluster unavailable: /)]);
    }
    expect(await readdir(directory)).toEqual([]);
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});

test('--help has examples on every command, and completion prints a script', async () => {
  for (const args of [[], ['status'], ['locks'], ['lock', 'get'], ['lock', 'run'], ['lock', 'release'], ['sessions'], ['watch'], ['election', 'leader'], ['election', 'observe'], ['election', 'run'], ['members', 'list'], ['members', 'add'], ['snapshot', 'save']]) {
    const result = await runCli([...args, '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('Examples:');
  }
  const completion = await runCli(['completion']);
  expect(completion.exitCode).toBe(0);
  expect(completion.stdout).toContain('raftlock');
  expect(completion.stdout).toContain('--get-yargs-completions');
});

test('lock run and election run refuse a command that is not found (127) or not executable (126) before reaching the cluster', async () => {
  const endpoints = (await freePorts(1)).map((port) => `127.0.0.1:${port}`).join(',');
  const directory = await mkdtemp(join(tmpdir(), 'raftlock-cli-'));
  try {
    const script = join(directory, 'job.sh');
    await writeFile(script, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    for (const [args, exitCode, message] of [
      [['lock', 'run', 'job', '--', 'raftlock-no-such-command-x'], 127, 'raftlock: cannot run raftlock-no-such-command-x: command not found'],
      [['election', 'run', 'primary', 'host-a', '--', 'raftlock-no-such-command-x'], 127, 'raftlock: cannot run raftlock-no-such-command-x: command not found'],
      [['lock', 'run', 'job', '--', script], 126, `raftlock: cannot run ${script}: not an executable file`],
    ] as const) {
      // The cluster is unreachable: were it asked first, the exit would be 3 after --timeout.
      const result = await runCli(['--endpoints', endpoints, '--timeout', '5s', ...args]);
      expect(result.exitCode).toBe(exitCode);
      expect(lines(result.stderr)).toEqual([message]);
      expect(result.elapsedMs).toBeLessThan(4_000);
    }
  } finally {
    await rm(directory, { recursive: true, force: true });
  }
});
