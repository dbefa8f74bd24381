// `pnpm start` (scripts/start.mjs) brings up a three-member cluster that answers /readyz on all three
// within 10 s, and Ctrl-C stops it cleanly.

import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { freePorts } from './free-ports.js';
import { isReady, sleep } from './local-cluster.js';

test('pnpm start runs a local three-member cluster that is ready on all three within 10 s and stops on Ctrl-C', async () => {
  const ports = await freePorts(3);
  const dataDir = await mkdtemp(join(tmpdir(), 'raftlock-start-'));
  const script = fileURLToPath(new URL('../../scripts/start.mjs', import.meta.url));
  const child = spawn(process.execPath, [script], { env: { ...process.env, RAFTLOCK_START_PORTS: ports.join(','), RAFTLOCK_START_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  try {
    const startedMs = Date.now();
    const ready = new Set<number>();
    while (ready.size < 3 && Date.now() - startedMs < 10_000) {
      for (const port of ports) if (!ready.has(port) && (await isReady(`127.0.0.1:${port}`))) ready.add(port);
      await sleep(50);
    }
    expect(ready.size, output).toBe(3);
    console.log(`pnpm start: all three members ready ${Date.now() - startedMs} ms after start`);
    for (const port of ports) expect(output).toContain(`127.0.0.1:${port}`);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    process.kill(child.pid as number, 'SIGINT');
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid as number, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  }
});
