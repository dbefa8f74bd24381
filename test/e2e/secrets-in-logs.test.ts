// Security acceptance (issue 7, SPEC §2): on a cluster with client tokens, a peer secret and mutual
// TLS, every member logging at debug level, unauthenticated clients and peers are refused, a `read`
// token cannot acquire and a `client` token cannot force-release, and through all of it, and through a
// member started with the wrong peer secret, no secret appears in any output: not the tokens, not the
// tokens clients tried, not the peer secrets, not a line of any TLS private key.

import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, PermissionDeniedError, UnauthenticatedError } from '@raftlock/client';
import { expect, test } from 'vitest';
import { runCli } from '../cli/cli-process.js';
import { eventually } from '../sdk/sdk-test-helpers.js';
import { LocalCluster, sleep } from './local-cluster.js';
import { ProtocolClient } from './protocol-client.js';
import { makeAuthority, makeCertificate, peerUpgradeStatus, tlsFlags, type CertificateFiles } from './test-certificates.js';

const tokens = { admin: 'admin-token-6f1d2c3b4a59', client: 'client-token-0e9d8c7b6a51', read: 'read-token-5a4b3c2d1e0f' };
const attempted = ['client-token-0e9d8c7b6a52', 'guessed-token-abcdef012345'];
const peerSecret = 'peer-secret-2b7e151628aed2a6';
const wrongPeerSecret = 'wrong-secret-3243f6a8885a308d';

test('refusals for clients and peers, and no secret in any member output at debug level', async () => {
  const certificateDir = await mkdtemp(join(tmpdir(), 'raftlock-secrets-'));
  try {
    const authority = await makeAuthority(certificateDir, 'ca');
    const certificates = new Map<string, CertificateFiles>();
    for (const id of ['n1', 'n2', 'n3']) certificates.set(id, await makeCertificate(certificateDir, authority, id));
    await using cluster = await LocalCluster.start({
      size: 3,
      tlsCa: authority.ca,
      memberArgs: (member) => tlsFlags(certificates.get(member.id) as CertificateFiles, authority),
      extraArgs: (rootDir) => {
        writeFileSync(join(rootDir, 'tokens'), Object.entries(tokens).map(([role, token]) => `${token} ${role}`).join('\n') + '\n');
        writeFileSync(join(rootDir, 'peer-secret'), `${peerSecret}\n`);
        return ['--token-file', join(rootDir, 'tokens'), '--peer-secret-file', join(rootDir, 'peer-secret'), '--log-level', 'debug'];
      },
    });
    const endpoints = cluster.members.map((member) => member.address);
    const tls = { ca: authority.ca };
    const outputs: string[] = [];

    // Clients without a valid token are refused at the upgrade.
    for (const token of [undefined, ...attempted]) {
      await expect(connect({ endpoints, tls, ...(token === undefined ? {} : { token }), connectTimeoutMs: 2000, requestTimeoutMs: 2000 })).rejects.toBeInstanceOf(UnauthenticatedError);
    }
    await expect(ProtocolClient.connect(endpoints[0] as string, { tls, token: attempted[0] as string })).rejects.toThrow(/401/);
    const cli = await runCli(['--endpoints', endpoints.join(','), '--tls-ca', authority.caFile, '--token', attempted[1] as string, 'locks']);
    expect(cli.exitCode).toBe(1);
    expect(cli.stderr).toMatch(/UNAUTHENTICATED/);
    expect(cli.stdout + cli.stderr).not.toContain(attempted[1]);

    // Roles: `read` cannot acquire (nor open a session), `client` cannot force-release.
    await using asClient = await connect({ endpoints, tls, token: tokens.client });
    const session = await asClient.session({ ttlMs: 10_000, name: 'holder' });
    const lock = await session.lock('guarded');
    await expect(asClient.forceRelease('guarded')).rejects.toBeInstanceOf(PermissionDeniedError);
    await using asRead = await connect({ endpoints, tls, token: tokens.read });
    await expect(asRead.session({ ttlMs: 10_000 })).rejects.toBeInstanceOf(PermissionDeniedError);
    const leaderId = (await asClient.status()).leaderId;
    const leader = cluster.member(String(leaderId));
    const readConnection = await ProtocolClient.connect(leader.address, { tls, token: tokens.read });
    const readAcquire = await readConnection.request('lock.acquire', { sessionId: session.id, name: 'guarded-too', mode: 'try' });
    expect(!readAcquire.ok && readAcquire.error.code).toBe('PERMISSION_DENIED');
    readConnection.close();
    const clientConnection = await ProtocolClient.connect(leader.address, { tls, token: tokens.client });
    const clientForce = await clientConnection.request('lock.forceRelease', { name: 'guarded' });
    expect(!clientForce.ok && clientForce.error.code).toBe('PERMISSION_DENIED');
    clientConnection.close();
    await using asAdmin = await connect({ endpoints, tls, token: tokens.admin });
    expect((await asAdmin.forceRelease('guarded')).released).toBe(true);
    expect(await asRead.lock('guarded')).toBeNull();
    expect(lock.token).toBeGreaterThan(0n);

    // Peers: without a certificate, without the secret, with a wrong one, or from another cluster.
    const address = endpoints[0] as string;
    const peer = certificates.get('n2') as CertificateFiles;
    const clusterHeaders = { 'x-raftlock-node': 'n2', 'x-raftlock-cluster': 'f'.repeat(16) };
    expect(await peerUpgradeStatus(address, { ca: authority.ca, headers: { ...clusterHeaders, authorization: `Bearer ${peerSecret}` } })).toBe(401);
    expect(await peerUpgradeStatus(address, { ca: authority.ca, certificate: peer, headers: clusterHeaders })).toBe(401);
    expect(await peerUpgradeStatus(address, { ca: authority.ca, certificate: peer, headers: { ...clusterHeaders, authorization: `Bearer ${wrongPeerSecret}` } })).toBe(401);
    expect(await peerUpgradeStatus(address, { ca: authority.ca, certificate: peer, headers: { ...clusterHeaders, authorization: `Bearer ${peerSecret}` } })).toBe(403);
    // Plain HTTP on the TLS port (a failed handshake, logged at debug).
    await expect(fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    // Before any member is killed below: a line still in a SIGKILLed member's log buffer is lost.
    await eventually(() => cluster.members.some((member) => member.output.includes('TLS handshake failed')), 5_000, 'the failed handshake logged');

    // A member restarted with the wrong peer secret is kept out, and logs its failures.
    const outsider = cluster.members.find((member) => member.id !== leader.id) as (typeof cluster.members)[number];
    await cluster.kill(outsider.id);
    outputs.push(outsider.output); // a restart starts its output afresh
    const wrongSecretFile = join(cluster.rootDir, 'wrong-peer-secret');
    writeFileSync(wrongSecretFile, `${wrongPeerSecret}\n`);
    cluster.spawnMemberWith(outsider, ['--token-file', join(cluster.rootDir, 'tokens'), '--peer-secret-file', wrongSecretFile, '--log-level', 'debug']);
    await eventually(() => outsider.output.includes('peer connection failed'), 10_000, 'the outsider logs its refused dials');
    await sleep(500);
    outputs.push(outsider.output);
    await cluster.kill(outsider.id);

    await session.close();
    await eventually(() => cluster.members.some((member) => member.output.includes('refused peer connection')), 5_000, 'refusals logged');
    outputs.push(...cluster.members.map((member) => member.output));
    const everything = outputs.join('\n');
    // The members did log at debug level, and did log the refusals: the absence below means something.
    expect(everything).toContain('"level":20');
    expect(everything).toContain('refused peer connection');
    expect(everything).toContain('TLS handshake failed');
    const secrets = [...Object.values(tokens), ...attempted, peerSecret, wrongPeerSecret];
    for (const files of certificates.values()) {
      const keyLines = readFileSync(files.keyFile, 'utf8').split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
      secrets.push(...keyLines, keyLines.join(''));
    }
    for (const secret of secrets) expect(everything.includes(secret), `a secret (${secret.slice(0, 6)}…) appears in a member's output`).toBe(false);
  } finally {
    await rm(certificateDir, { recursive: true, force: true });
  }
});
