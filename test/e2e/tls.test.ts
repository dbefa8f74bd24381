// TLS (SPEC §2 --tls-cert/--tls-key/--tls-ca): a three-member cluster of raftlockd processes serving
// https:// and wss:// on their one port, members talking to each other over wss:// with mutual TLS
// (each verifies the other's certificate against the CA). The SDK and the CLI (status, locks,
// lock run) work end to end over TLS; plain ws:// and http:// clients get nowhere; a connection to
// /v1/raft without a certificate, or with one the CA did not sign, is refused; and a member whose
// certificate the CA did not sign is kept out of the cluster while the others keep serving.
// Certificates are made at test time (test-certificates.ts).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, UnavailableError } from '@raftlock/client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { lines, runCli } from '../cli/cli-process.js';
import { eventually } from '../sdk/sdk-test-helpers.js';
import { httpsStatusCode, isReady, LocalCluster, sleep } from './local-cluster.js';
import { ProtocolClient } from './protocol-client.js';
import { makeAuthority, makeCertificate, peerUpgradeStatus, tlsFlags, type CertificateFiles, type TestAuthority } from './test-certificates.js';

let certificateDir: string;
let authority: TestAuthority;
let rogueAuthority: TestAuthority;
let rogue: CertificateFiles;
let cluster: LocalCluster;
const certificates = new Map<string, CertificateFiles>();

beforeAll(async () => {
  certificateDir = await mkdtemp(join(tmpdir(), 'raftlock-tls-'));
  authority = await makeAuthority(certificateDir, 'raftlock-test-ca');
  rogueAuthority = await makeAuthority(certificateDir, 'rogue-ca');
  rogue = await makeCertificate(certificateDir, rogueAuthority, 'rogue');
  for (const id of ['n1', 'n2', 'n3']) certificates.set(id, await makeCertificate(certificateDir, authority, id));
  cluster = await LocalCluster.start({
    size: 3,
    memberArgs: (member) => tlsFlags(certificates.get(member.id) as CertificateFiles, authority),
    tlsCa: authority.ca,
  });
});

afterAll(async () => {
  await cluster?.stop();
  await rm(certificateDir, { recursive: true, force: true });
});

const endpoints = () => cluster.members.map((member) => member.address);

/** Open a raw wss:// socket to /v1/raft and report the HTTP status of the refusal (or 101). */
function intruderUpgradeStatus(address: string, certificate: CertificateFiles | undefined): Promise<number | string> {
  return peerUpgradeStatus(address, { ca: authority.ca, certificate, headers: { 'x-raftlock-node': 'intruder', 'x-raftlock-cluster': 'whatever' } });
}

describe('a three-member TLS cluster', () => {
  test('the SDK connects with wss://, verifying the members against the CA, and takes a lock', async () => {
    await using client = await connect({ endpoints: endpoints(), tls: { ca: authority.ca } });
    const status = await client.status();
    expect(status.members).toHaveLength(3);
    const session = await client.session({ ttlMs: 10_000, name: 'tls-worker' });
    const lock = await session.lock('tls/orders');
    expect(lock.token).toBeGreaterThan(0n);
    // wss:// endpoints ask for TLS on their own; here with the CA given as a string.
    await using viaScheme = await connect({ endpoints: endpoints().map((address) => `wss://${address}`), tls: { ca: authority.ca.toString('utf8') } });
    expect((await viaScheme.lock('tls/orders'))?.holder?.token).toBe(lock.token);
    await lock.release();
    await session.close();
  });

  test('the CLI works over TLS: status, locks and lock run', async () => {
    await using client = await connect({ endpoints: endpoints(), tls: { ca: authority.ca } });
    const session = await client.session({ ttlMs: 10_000, name: 'tls-holder' });
    const held = await session.lock('tls/held');
    const list = endpoints().join(',');

    const status = await runCli(['--endpoints', list, '--tls-ca', authority.caFile, 'status', '--json']);
    expect(status.stderr).toBe('');
    expect(status.exitCode).toBe(0);
    const document = JSON.parse(status.stdout) as { leader: { id: string } | null; members: { id: string; health: string }[] };
    expect(document.leader).not.toBeNull();
    expect(document.members.map((member) => member.health)).toEqual(['ok', 'ok', 'ok']);

    const locks = await runCli(['--endpoints', list, 'locks', 'tls/', '--json'], 15_000, { env: { RAFTLOCK_TLS_CA: authority.caFile } });
    expect(locks.exitCode).toBe(0);
    expect(JSON.parse(locks.stdout).locks).toEqual([expect.objectContaining({ name: 'tls/held', holder: expect.objectContaining({ clientName: 'tls-holder', token: Number(held.token) }) })]);

    const wssEndpoints = endpoints().map((address) => `wss://${address}`).join(',');
    const ran = await runCli(['--endpoints', wssEndpoints, '--tls-ca', authority.caFile, 'lock', 'run', 'tls/job', '--', 'sh', '-c', 'echo "token $RAFTLOCK_TOKEN"; exit 7']);
    expect(ran.stderr).toBe('');
    expect(ran.exitCode).toBe(7);
    expect(lines(ran.stdout)).toEqual([expect.stringMatching(/^token \d+$/)]);
    expect(BigInt(lines(ran.stdout)[0]?.split(' ')[1] ?? '0')).toBeGreaterThan(held.token);

    // Without the CA the members' certificates are not trusted (they are not from a public CA).
    const untrusted = await runCli(['--endpoints', list, '--tls', '--timeout', '2s', 'locks']);
    expect(untrusted.exitCode).toBe(3);
    expect(lines(untrusted.stderr)).toEqual([expect.stringMatching(/^raftlock: cluster unavailable: .*certificate/)]);
    // And without TLS at all the CLI gets no answer from a TLS port.
    const plain = await runCli(['--endpoints', list, '--timeout', '2s', 'status']);
    expect(plain.exitCode).toBe(3);
    expect(lines(plain.stderr)).toHaveLength(1);
    await held.release();
    await session.close();
  });

  test('plain ws:// and http:// clients get nowhere, and an untrusted certificate is refused by the SDK', async () => {
    const address = endpoints()[0] as string;
    // Each of these keeps retrying until its deadline: run them side by side.
    const plain = connect({ endpoints: endpoints(), connectTimeoutMs: 1000, requestTimeoutMs: 1500 });
    const systemCas = connect({ endpoints: endpoints(), tls: true, connectTimeoutMs: 1000, requestTimeoutMs: 1500 });
    const wrongCa = connect({ endpoints: endpoints(), tls: { ca: rogueAuthority.ca }, connectTimeoutMs: 1000, requestTimeoutMs: 1500 });
    await Promise.all([
      expect(plain).rejects.toBeInstanceOf(UnavailableError),
      expect(systemCas).rejects.toBeInstanceOf(UnavailableError),
      expect(systemCas).rejects.toThrow(/certificate/),
      expect(wrongCa).rejects.toThrow(/certificate/),
      expect(ProtocolClient.connect(address)).rejects.toThrow(),
      expect(fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow(),
    ]);
    // The HTTP routes are served over https:// on the same port.
    expect(await httpsStatusCode(`https://${address}/healthz`, authority.ca)).toBe(200);
    expect(await httpsStatusCode(`https://${address}/metrics`, authority.ca)).toBe(200);
  });

  test('/v1/raft refuses a connection without a client certificate (401) or with one the CA did not sign (403)', async () => {
    const address = endpoints()[0] as string;
    expect(await intruderUpgradeStatus(address, undefined)).toBe(401);
    expect(await intruderUpgradeStatus(address, rogue)).toBe(403);
    // A certificate the CA signed gets past TLS, to the peer handshake, which refuses an unknown member.
    expect(await intruderUpgradeStatus(address, certificates.get('n2'))).toBe(403);
    await eventually(async () => cluster.members[0]?.output.includes('certificate not trusted') === true, 5_000, 'the refusal logged');
  });

  test('a member whose certificate the CA did not sign is kept out, and the others keep serving', async () => {
    await using client = await connect({ endpoints: endpoints(), tls: { ca: authority.ca } });
    const session = await client.session({ ttlMs: 10_000, name: 'tls-survivor' });
    const leader = await cluster.leader();
    const outsider = cluster.members.find((member) => member.id !== leader.id) as (typeof cluster.members)[number];
    await cluster.kill(outsider.id, 'SIGKILL');
    // It trusts the cluster's CA, but presents a certificate from another one.
    cluster.spawnMemberWith(outsider, ['--tls-cert', rogue.certFile, '--tls-key', rogue.keyFile, '--tls-ca', authority.caFile, '--log-level', 'warn']);
    await sleep(2500);
    const outsiderClient = await ProtocolClient.connect(outsider.address, { tls: { ca: rogueAuthority.ca } });
    const answer = await outsiderClient.request('cluster.status', {});
    outsiderClient.close();
    expect(answer.ok).toBe(true);
    const status = answer.ok ? answer.result : {};
    expect(status.leaderId ?? null).toBeNull();
    expect(status.role).not.toBe('leader');
    expect(outsider.output).toContain('is not signed by a CA in');
    const others = cluster.members.filter((member) => member.id !== outsider.id);
    // Refused when it dials them: waited for, as the outsider starts dialling only once it is up.
    await eventually(() => others.some((member) => member.output.includes('certificate not trusted')), 10_000, "the others' refusal of the outsider logged");
    const lock = await session.lock('tls/still-serving');
    expect(lock.token).toBeGreaterThan(0n);

    // Back with its own certificate it rejoins.
    await cluster.kill(outsider.id, 'SIGKILL');
    cluster.restart(outsider.id);
    await eventually(() => isReady(outsider.address, authority.ca), 15_000, 'the member back with its own certificate is ready');
    await lock.release();
    await session.close();
  });
});
