// ServerTls: the member's certificate, key and CA from --tls-cert/--tls-key/--tls-ca, read and checked
// when the configuration is built, so that a bad TLS setup stops raftlockd with one line (SPEC §2)
// instead of failing handshakes later.
//
// Invariants: every problem is a ConfigError naming the flag and the file, never the file's content
// (the key is a secret: its bytes never reach a message or a log line); a returned ServerTls holds a
// certificate whose key matches it and that node:tls accepts as a secure context; a CA, when given,
// holds at least one certificate. Problems a member can still run with (the certificate does not
// name the advertised host, or no CA in the bundle signed it) are warnings, logged at start.

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { ConfigError, type ServerTls } from './config.js';

export interface ServerTlsPaths {
  readonly certPath: string | undefined;
  readonly keyPath: string | undefined;
  readonly caPath: string | undefined;
  /** host:port this member advertises: its certificate must name the host for peers and clients to accept it. */
  readonly advertise: string;
  readonly nowMs: number;
}

const pemCertificatePattern = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readPemFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new ConfigError(`${flag}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function certificatesIn(pem: Buffer, path: string, flag: string): X509Certificate[] {
  const blocks = pem.toString('utf8').match(pemCertificatePattern) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${flag}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return blocks.map((block, position) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new ConfigError(`${flag}: certificate ${position + 1} in ${path} does not parse (${(error as Error).message})`);
    }
  });
}

function privateKeyIn(pem: Buffer, path: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    // OpenSSL's reason ("unsupported", "bad decrypt"…), never the bytes it was given.
    const reason = (error as NodeJS.ErrnoException).code === 'ERR_MISSING_PASSPHRASE' ? 'it is encrypted; raftlockd needs an unencrypted key' : (error as Error).message;
    throw new ConfigError(`--tls-key: ${path} is not a usable PEM private key (${reason})`);
  }
}

function hostOf(advertise: string): string {
  const separator = advertise.lastIndexOf(':');
  return advertise.slice(0, separator).replace(/^\[|\]$/g, '');
}

/** Read and check the TLS files; undefined when no TLS flag was given. */
export function loadServerTls(paths: ServerTlsPaths): ServerTls | undefined {
  const { certPath, keyPath, caPath } = paths;
  if (certPath === undefined && keyPath === undefined && caPath === undefined) return undefined;
  if (certPath === undefined && keyPath !== undefined) throw new ConfigError('--tls-key needs --tls-cert: the certificate the key belongs to');
  if (certPath !== undefined && keyPath === undefined) throw new ConfigError('--tls-cert needs --tls-key: the private key of the certificate');
  if (certPath === undefined || keyPath === undefined) throw new ConfigError('--tls-ca needs --tls-cert and --tls-key: a member verifies peers only when it serves TLS itself');

  const cert = readPemFile(certPath, '--tls-cert');
  const key = readPemFile(keyPath, '--tls-key');
  const ca = caPath === undefined ? undefined : readPemFile(caPath, '--tls-ca');
  const chain = certificatesIn(cert, certPath, '--tls-cert');
  const leaf = chain[0] as X509Certificate;
  if (!leaf.checkPrivateKey(privateKeyIn(key, keyPath))) throw new ConfigError(`--tls-key: ${keyPath} is not the key of the certificate in ${certPath}`);
  const validFromMs = Date.parse(leaf.validFrom);
  const validToMs = Date.parse(leaf.validTo);
  if (paths.nowMs > validToMs) throw new ConfigError(`--tls-cert: the certificate in ${certPath} expired on ${leaf.validTo}`);
  if (paths.nowMs < validFromMs) throw new ConfigError(`--tls-cert: the certificate in ${certPath} is not valid before ${leaf.validFrom}`);
  const authorities = ca === undefined || caPath === undefined ? [] : certificatesIn(ca, caPath, '--tls-ca');
  try {
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
  } catch (error) {
    throw new ConfigError(`--tls-cert/--tls-key: node:tls refuses them (${(error as Error).message})`);
  }

  const warnings: string[] = [];
  const host = hostOf(paths.advertise);
  const named = isIP(host) === 0 ? leaf.checkHost(host) !== undefined : leaf.checkIP(host) !== undefined;
  if (!named) warnings.push(`the certificate in ${certPath} does not name ${host} (this member's advertised host): peers and clients dialling ${paths.advertise} will refuse it`);
  // Only a one-certificate file can be judged here; with intermediates, the handshake decides.
  if (chain.length === 1 && authorities.length > 0 && !authorities.some((authority) => leaf.checkIssued(authority) && leaf.verify(authority.publicKey))) {
    warnings.push(`the certificate in ${certPath} is not signed by a CA in ${caPath ?? '--tls-ca'}: peers verifying with that CA will refuse it`);
  }
  return { cert, key, ca, warnings };
}
