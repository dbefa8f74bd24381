// One port serves everything (SPEC §2): GET /healthz, /readyz, /metrics, /status, and WebSocket upgrades for
// /v1/client (clients) and /v1/raft (members). Anything else is a 404; nothing here can throw out.
//
// With TLS the same routes are served over https:// and wss://. When a CA is configured, the
// handshake asks every connection for a certificate but refuses none (clients need not have one);
// a /v1/raft upgrade is then accepted only over a connection whose certificate chains to that CA:
// mutual TLS between members, before the peer secret and the handshake headers are even read.

import { createServer as createPlainServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { ServerTls } from '../config.js';
import type { Logger } from '../raft/ports.js';
import type { Metrics } from '../runtime/metrics.js';
import type { RaftDriver } from '../runtime/raft-driver.js';
import type { ClientApi } from './client-api.js';
import { clusterStatusOf } from './cluster-status.js';

export interface HttpServerOptions {
  readonly clientApi: ClientApi;
  readonly peerUpgrade: (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
  readonly driver: RaftDriver;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly nodeId: string;
  readonly address: string;
  /** Serve https:// and wss:// with these; with a CA, members on /v1/raft must present a certificate it signed. */
  readonly tls: ServerTls | undefined;
}

export function createHttpServer(options: HttpServerOptions): Server {
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    route(options, request, response).catch((error: unknown) => {
      options.logger.error({ error: String(error) }, 'http handler failed');
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  };
  const { tls } = options;
  const server: Server =
    tls === undefined
      ? createPlainServer(handler)
      : createTlsServer({ cert: tls.cert, key: tls.key, ...(tls.ca === undefined ? {} : { ca: tls.ca }), requestCert: tls.ca !== undefined, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, handler);
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = pathOf(request);
    if (path === '/v1/client') options.clientApi.handleUpgrade(request, socket, head);
    else if (path === '/v1/raft') upgradePeer(options, request, socket, head);
    else {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    }
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  // A failed handshake (plain http:// or ws:// on this port, an unknown CA on the other side): the
  // reason is OpenSSL's, never key material. Debug only: a port scanner must not fill the log.
  server.on('tlsClientError', (error: Error, socket: TLSSocket) => {
    options.logger.debug({ error: error.message, remoteAddress: socket.remoteAddress }, 'TLS handshake failed');
    socket.destroy();
  });
  return server;
}

/** /v1/raft: with a CA configured, only a connection whose certificate chains to it reaches the transport. */
function upgradePeer(options: HttpServerOptions, request: IncomingMessage, socket: Duplex, head: Buffer): void {
  if (options.tls?.ca !== undefined) {
    const tlsSocket = request.socket as TLSSocket;
    if (!tlsSocket.authorized) {
      const presented = Object.keys(tlsSocket.getPeerCertificate() ?? {}).length > 0;
      const error: unknown = tlsSocket.authorizationError;
      const reason = presented ? `certificate not trusted (${error instanceof Error ? error.message : String(error)})` : 'no certificate';
      options.logger.warn({ status: presented ? 403 : 401, reason, remoteAddress: tlsSocket.remoteAddress }, 'refused peer connection');
      socket.end(`HTTP/1.1 ${presented ? '403 Forbidden' : '401 Unauthorized'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
  }
  options.peerUpgrade(request, socket, head);
}

async function route(options: HttpServerOptions, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const path = pathOf(request);
  if (request.method !== 'GET') return json(response, 405, { error: 'only GET is served here' });
  switch (path) {
    case '/healthz':
      return json(response, 200, { status: 'ok' });
    case '/readyz': {
      const readiness = readinessOf(options.driver);
      return json(response, readiness.ready ? 200 : 503, readiness);
    }
    case '/status':
      // The member's own view, without a token (like /metrics): what `raftlock status` asks each member.
      return json(response, 200, clusterStatusOf(options.driver, options.nodeId, options.address));
    case '/metrics': {
      const body = await options.metrics.registry.metrics();
      response.writeHead(200, { 'content-type': options.metrics.registry.contentType });
      response.end(body);
      return;
    }
    default:
      return json(response, 404, { error: `no route ${path}` });
  }
}

/** Ready: a leader is known and this member has applied up to the commit index it learned from it. */
export function readinessOf(driver: RaftDriver): { ready: boolean; role: string; leaderId: string | null; commitIndex: number; appliedIndex: number } {
  const status = driver.status();
  const appliedIndex = driver.lastAppliedIndex();
  const leaderKnown = status.leaderId !== '';
  // A new leader serves only once it has committed an entry of its term (its no-op, §5.4.2).
  const leaderServing = status.role !== 'leader' || driver.node.termAt(status.commitIndex) === status.term;
  return { ready: leaderKnown && leaderServing && appliedIndex >= status.commitIndex, role: status.role, leaderId: leaderKnown ? status.leaderId : null, commitIndex: status.commitIndex, appliedIndex };
}

function pathOf(request: IncomingMessage): string {
  return (request.url ?? '/').split('?')[0] ?? '/';
}

function json(response: ServerResponse, statusCode: number, body: unknown): void {
  response.writeHead(statusCode, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
