// `pnpm bench` refuses a bad flag with one line naming it and exit code 2, before it starts any
// cluster (so a typo costs no minutes of benchmarking and leaves no process behind).

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, test } from 'vitest';

const benchScript = join(import.meta.dirname, '..', '..', 'bench', 'run.ts');

function bench(args: string[]): { status: number | null; stdout: string; stderrLines: string[] } {
  const result = spawnSync(process.execPath, ['--conditions=@raftlock/source', '--import', 'tsx', benchScript, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderrLines: result.stderr.split('\n').filter((line) => line.trim().length > 0) };
}

test.each([
  [['--seconds', 'abc'], /--seconds must be a number ≥ 1, got abc/],
  [['--secs', '5'], /Unknown option '--secs'/],
  [['--scenarios', 'single,bogus'], /unknown scenario bogus/],
  [['--timing', '100'], /--timing must be HEARTBEAT\/ELECTION/],
  [['--timings', '100/1000,300/50'], /--timings must be HEARTBEAT\/ELECTION .* got 300\/50/],
  [['--scale', '1000,,5'], /--scale is a comma-separated list/],
  [['--failover-rounds', '2.5'], /--failover-rounds must be a whole number ≥ 1/],
  [['--repeat', '0'], /--repeat must be a whole number ≥ 1, got 0/],
])('bench %j exits 2 with one line naming the problem', (args, pattern) => {
  const { status, stdout, stderrLines } = bench(args);
  expect(status, stderrLines.join('\n')).toBe(2);
  expect(stderrLines, stderrLines.join('\n')).toHaveLength(1);
  expect(stderrLines[0]).toMatch(/^pnpm bench: /);
  expect(stderrLines[0]).toMatch(pattern);
  // Refused before anything ran: no scenario started, no table printed.
  expect(stdout).toBe('');
});
