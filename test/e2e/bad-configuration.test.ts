// SPEC §2: every bad configuration exits non-zero with one clear line naming the problem, and a
// member never overwrites a data dir that belongs elsewhere.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePorts } from './free-ports.js';
import { LocalCluster, raftlockdPath } from './local-cluster.js';
import { makeAuthority, makeCertificate } from './test-certificates.js';

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'raftlock-config-'));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function raftlockd(args: string[]): { status: number | null; stderrLines: string[] } {
  const result = spawnSync(process.execPath, [raftlockdPath, '--log-level', 'silent', ...args], { encoding: 'utf8', timeout: 10_000 });
  return { status: result.status, stderrLines: result.stderr.split('\n').filter((line) => line.trim().length > 0) };
}

function expectOneLineFailure(args: string[], pattern: RegExp): { status: number | null; stderrLines: string[] } {
  const { status, stderrLines } = raftlockd(args);
  expect(status, stderrLines.join('\n')).not.toBe(0);
  expect(status).not.toBeNull();
  expect(stderrLines, stderrLines.join('\n')).toHaveLength(1);
  expect(stderrLines[0]).toMatch(pattern);
  return { status, stderrLines };
}

test('an unknown flag exits 2 with one line naming it', () => {
  expectOneLineFailure(['--bogus-flag', 'x'], /bogus-flag/);
});

test('a malformed peer list exits non-zero with one line naming the bad item', () => {
  expectOneLineFailure(['--peers', 'n1=127.0.0.1'], /--peers.*127\.0\.0\.1.*host:port/);
  expectOneLineFailure(['--peers', 'n1=127.0.0.1:7071,n1=127.0.0.1:7072'], /listed twice/);
  expectOneLineFailure(['--peers', 'N_1=127.0.0.1:7071'], /member id/);
});

test('an id missing from --peers exits non-zero with one line', () => {
  expectOneLineFailure(['--id', 'n9', '--listen', '127.0.0.1:7079', '--peers', 'n1=127.0.0.1:7071,n2=127.0.0.1:7072'], /n9.*missing from --peers/);
});

test('bad timing exits non-zero with one line', () => {
  expectOneLineFailure(['--heartbeat-ms', '500', '--election-timeout-ms', '600'], /election-timeout-ms/);
});

test('bad TLS files or flag combinations exit 2 with one line naming the flag and file, never the key', async () => {
  const authority = await makeAuthority(scratch, 'ca');
  const member = await makeCertificate(scratch, authority, 'n1');
  const other = await makeCertificate(scratch, authority, 'n2');
  const garbage = join(scratch, 'garbage.pem');
  await writeFile(garbage, 'not really a certificate\n');
  const missing = join(scratch, 'missing.pem');
  const cases: [string[], RegExp][] = [
    [['--tls-key', member.keyFile], /^raftlockd: --tls-key needs --tls-cert/],
    [['--tls-cert', member.certFile], /^raftlockd: --tls-cert needs --tls-key/],
    [['--tls-ca', authority.caFile], /^raftlockd: --tls-ca needs --tls-cert and --tls-key/],
    [['--tls-cert', missing, '--tls-key', member.keyFile], /^raftlockd: --tls-cert: cannot read .*missing\.pem \(ENOENT\)$/],
    [['--tls-cert', member.certFile, '--tls-key', missing], /^raftlockd: --tls-key: cannot read .*missing\.pem \(ENOENT\)$/],
    [['--tls-cert', member.certFile, '--tls-key', member.keyFile, '--tls-ca', missing], /^raftlockd: --tls-ca: cannot read .*missing\.pem \(ENOENT\)$/],
    [['--tls-cert', garbage, '--tls-key', member.keyFile], /^raftlockd: --tls-cert: .*garbage\.pem holds no PEM certificate/],
    [['--tls-cert', member.keyFile, '--tls-key', member.keyFile], /^raftlockd: --tls-cert: .*n1\.key holds no PEM certificate/],
    [['--tls-cert', member.certFile, '--tls-key', garbage], /^raftlockd: --tls-key: .*garbage\.pem is not a usable PEM private key/],
    [['--tls-cert', member.certFile, '--tls-key', other.keyFile], /^raftlockd: --tls-key: .*n2\.key is not the key of the certificate in .*n1\.crt$/],
    [['--tls-cert', member.certFile, '--tls-key', member.keyFile, '--tls-ca', garbage], /^raftlockd: --tls-ca: .*garbage\.pem holds no PEM certificate/],
  ];
  const keyBody = readFileSync(member.keyFile, 'utf8').split('\n').filter((line) => line.length > 0 && !line.startsWith('-----'));
  for (const [args, pattern] of cases) {
    const { status, stderrLines } = expectOneLineFailure(args, pattern);
    expect(status).toBe(2);
    for (const line of keyBody) expect(stderrLines.join('\n')).not.toContain(line);
  }
});

test('a malformed token file is refused with one line naming the file and line, never the token', async () => {
  const tokens = join(scratch, 'tokens');
  await writeFile(tokens, 'a-long-enough-secret-token superuser\n');
  const { stderrLines } = raftlockd(['--token-file', tokens]);
  expectOneLineFailure(['--token-file', tokens], /--token-file .*tokens line 1: role "superuser"/);
  expect(stderrLines.join('\n')).not.toContain('a-long-enough-secret-token');
});

test('a data dir that belongs to another member is refused and left untouched', async () => {
  const [port] = await freePorts(1);
  await using cluster = await LocalCluster.start({ size: 1 });
  const dataDir = cluster.members[0]!.dataDir;
  await cluster.kill('n1', 'SIGKILL');
  const filesBefore = await readdir(dataDir);
  expectOneLineFailure(['--id', 'n2', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], /belongs to/);
  expect(await readdir(dataDir)).toEqual(filesBefore);
});

test('a port already in use exits non-zero with one line naming the address, before the data dir is stamped', async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as AddressInfo).port;
  const dataDir = join(scratch, 'port-in-use');
  try {
    expectOneLineFailure(['--id', 'n2', '--listen', `127.0.0.1:${port}`, '--peers', `n2=127.0.0.1:${port}`, '--data-dir', dataDir], new RegExp(`127\\.0\\.0\\.1:${port} is already in use`));
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
  // Nothing was written: a data dir stamped with that --peers would refuse the corrected one.
  expect(await readdir(dataDir).catch(() => [])).toEqual([]);
});

test('a data dir that cannot be created exits non-zero with one line, also under /proc (where a recursive mkdir never returns)', async () => {
  const [port] = await freePorts(1);
  const blockingFile = join(scratch, 'a-file');
  await writeFile(blockingFile, '');
  expectOneLineFailure(['--listen', `127.0.0.1:${port}`, '--data-dir', join(blockingFile, 'sub')], /data dir .*a-file\/sub cannot be/);
  expectOneLineFailure(['--listen', `127.0.0.1:${port}`, '--data-dir', '/proc/raftlock-nope/n1'], /^raftlockd: data dir \/proc\/raftlock-nope\/n1 cannot be created \(ENOENT/);
});

test('a flag given without its value exits 2 with one line naming the flag, instead of starting on the default', async () => {
  const [port] = await freePorts(1);
  // Without the check, yargs hands a flag with no value its default: `--id --listen …` ran as n1.
  const elsewhere = ['--listen', `127.0.0.1:${port}`, '--data-dir', join(scratch, 'missing-value')];
  const cases: [string[], RegExp][] = [
    [['--id', ...elsewhere], /^raftlockd: --id needs a value$/],
    [['--heartbeat-ms', ...elsewhere], /^raftlockd: --heartbeat-ms needs a value$/],
    [[...elsewhere, '--peers'], /^raftlockd: --peers needs a value$/],
    [[...elsewhere, '--token-file'], /^raftlockd: --token-file needs a value$/],
    [['--listen', `127.0.0.1:${port}`, '--data-dir'], /^raftlockd: --data-dir needs a value$/],
    [['--listen', `127.0.0.1:${port}`, '--data-dir='], /^raftlockd: --data-dir needs a value$/],
    // An empty TLS path would otherwise start the member in plain text.
    [[...elsewhere, '--tls-cert=', '--tls-key='], /^raftlockd: --tls-(cert|key) needs a value$/],
  ];
  for (const [args, pattern] of cases) expect(expectOneLineFailure(args, pattern).status).toBe(2);
  const joining = spawnSync(process.execPath, [raftlockdPath, '--log-level', 'silent', ...elsewhere], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, RAFTLOCK_JOIN: 'yes' } });
  expect(joining.status).toBe(2);
  expect(joining.stderr.trim()).toBe('raftlockd: RAFTLOCK_JOIN must be true, false, 1 or 0, got "yes"');
});
