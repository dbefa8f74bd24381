// `pnpm start`: a local three-member cluster in the foreground (SPEC §2), from the built packages.
// Ports 7071–7073 and ./raftlock-data by default (RAFTLOCK_START_PORTS and RAFTLOCK_START_DATA_DIR
// override them, for tests). Ctrl-C (or SIGTERM) stops every member cleanly.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const raftlockd = join(root, 'packages/server/dist/main.js');
const ports = (process.env.RAFTLOCK_START_PORTS ?? '7071,7072,7073').split(',').map((port) => Number(port.trim()));
const dataRoot = process.env.RAFTLOCK_START_DATA_DIR ?? join(root, 'raftlock-data');
const members = ports.map((port, position) => ({ id: `n${position + 1}`, address: `127.0.0.1:${port}` }));
const peers = members.map((member) => `${member.id}=${member.address}`).join(',');

let stopping = false;
const children = members.map((member) => {
  const child = spawn(process.execPath, [raftlockd, '--id', member.id, '--listen', member.address, '--peers', peers, '--data-dir', join(dataRoot, member.id), '--log-level', process.env.RAFTLOCK_LOG_LEVEL ?? 'warn'], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`raftlock: member ${member.id} exited unexpectedly (${signal ?? code}); stopping the cluster`);
    stop(1);
  });
  return child;
});

console.log('raftlock: local cluster of three members (Ctrl-C stops it)');
for (const member of members) console.log(`  ${member.id}  ws://${member.address}/v1/client   http://${member.address}/readyz`);
console.log(`  data under ${dataRoot}`);
console.log(`  try: RAFTLOCK_ENDPOINTS=${members.map((member) => member.address).join(',')}`);

function stop(exitCode) {
  if (stopping) return;
  stopping = true;
  let remaining = children.filter((child) => child.exitCode === null && child.signalCode === null).length;
  if (remaining === 0) process.exit(exitCode);
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.once('exit', () => {
      remaining -= 1;
      if (remaining === 0) process.exit(exitCode);
    });
    child.kill('SIGTERM');
  }
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
