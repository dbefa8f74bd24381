// Diagnostic: acquire+release latency through the bare protocol (no SDK), one request at a time.
import { LocalCluster } from '../test/e2e/local-cluster.js';
import { expectOk, ProtocolClient } from '../test/e2e/protocol-client.js';

await using cluster = await LocalCluster.start({ size: Number(process.argv[2] ?? 3), heartbeatMs: 100, electionTimeoutMs: 1000 });
const leader = await cluster.leader();
const client = await ProtocolClient.connect(leader.address);
const sessionId = String(expectOk(await client.request('session.open', { ttlMs: 30_000 })).sessionId);
const samples: number[] = [];
for (let round = 0; round < 300; round++) {
  const startedMs = performance.now();
  const grant = expectOk(await client.request('lock.acquire', { sessionId, name: 'raw', mode: 'try' }));
  samples.push(performance.now() - startedMs);
  expectOk(await client.request('lock.release', { sessionId, name: 'raw', token: Number(grant.token) }));
}
samples.sort((a, b) => a - b);
console.log(`members ${cluster.members.length}: acquire p50 ${samples[150]?.toFixed(2)} ms p90 ${samples[270]?.toFixed(2)} ms p99 ${samples[297]?.toFixed(2)} ms`);
client.close();
