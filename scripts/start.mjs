// `pnpm start`. The real three-member cluster (raftlockd on 7071–7073) arrives with the raftlockd
// issue; until then this replays one seeded simulation of a three-member cluster, so a fresh clone
// shows the consensus core electing a leader and committing under faults.
import { spawnSync } from 'node:child_process';

console.log('raftlock: raftlockd (LMDB + WebSocket members) is not built yet.');
console.log('Showing the consensus core instead: one seeded simulation of a 3-member cluster with faults.\n');
const result = spawnSync(process.execPath, ['--conditions=@raftlock/source', '--import', 'tsx', 'test/simulation/cli.ts', '--seed', '7'], { stdio: 'inherit' });
process.exit(result.status ?? 1);
