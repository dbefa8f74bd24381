// Throwaway certificates for TLS tests, made at test time with the openssl command line (the same
// commands docs/operations.md shows operators): a CA, one certificate per member signed by it
// (naming 127.0.0.1 and localhost, usable as server and as client certificate, for mutual TLS
// between members), and, for the tests that must be refused, certificates from a second, untrusted CA.
// Everything lives under the directory the caller gives (and removes). EC P-256 keys: fast to make.

import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';

const run = promisify(execFile);

export interface CertificateFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TestAuthority {
  readonly caFile: string;
  readonly caKeyFile: string;
  /** The CA certificate's PEM, for the SDK's `tls.ca` and https requests. */
  readonly ca: Buffer;
}

const validityDays = '2';

async function openssl(args: readonly string[]): Promise<void> {
  await run('openssl', [...args], { timeout: 20_000 });
}

/** A self-signed CA named `name` in dir (name.crt, name.key). */
export async function makeAuthority(dir: string, name: string): Promise<TestAuthority> {
  const caFile = join(dir, `${name}.crt`);
  const caKeyFile = join(dir, `${name}.key`);
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', caKeyFile, '-out', caFile, '-days', validityDays, '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { caFile, caKeyFile, ca: readFileSync(caFile) };
}

/** A certificate for `name` signed by authority, naming hosts (IP addresses or DNS names). */
export async function makeCertificate(dir: string, authority: TestAuthority, name: string, hosts: readonly string[] = ['127.0.0.1', 'localhost']): Promise<CertificateFiles> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  const requestFile = join(dir, `${name}.csr`);
  const extensionsFile = join(dir, `${name}.ext`);
  const altNames = hosts.map((host) => (/^[0-9.]+$|:/.test(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
  writeFileSync(extensionsFile, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${altNames}\n`);
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile, '-out', requestFile, '-subj', `/CN=${name}`]);
  await openssl([
    'x509', '-req', '-in', requestFile, '-CA', authority.caFile, '-CAkey', authority.caKeyFile,
    '-set_serial', String(Date.now() * 1000 + Math.floor(Math.random() * 1000)), '-days', validityDays, '-extfile', extensionsFile, '-out', certFile,
  ]);
  return { certFile, keyFile };
}

/** The flags that make a member serve TLS with files and verify peers against authority. */
export function tlsFlags(files: CertificateFiles, authority: TestAuthority): string[] {
  return ['--tls-cert', files.certFile, '--tls-key', files.keyFile, '--tls-ca', authority.caFile];
}

/** Open a raw wss:// socket to /v1/raft and report the HTTP status it was refused with (or 101). */
export function peerUpgradeStatus(address: string, options: { ca: Buffer; certificate?: CertificateFiles | undefined; headers: Record<string, string> }): Promise<number | string> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`wss://${address}/v1/raft`, {
      ca: options.ca,
      ...(options.certificate === undefined ? {} : { cert: readFileSync(options.certificate.certFile), key: readFileSync(options.certificate.keyFile) }),
      headers: options.headers,
    });
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('open', () => {
      resolve(101);
      socket.terminate();
    });
    socket.on('error', (error) => resolve(error.message));
  });
}
