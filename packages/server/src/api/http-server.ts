// One port serves everything (SPEC §2): GET /healthz, /readyz, /metrics, /status, and WebSocket upgrades for
// /v1/client (clients) and /v1/raft (members). Anything else is a 404; nothing here can throw out.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
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
}

export function createHttpServer(options: HttpServerOptions): Server {
  const server = createServer((request, response) => {
    route(options, request, response).catch((error: unknown) => {
      options.logger.error({ error: String(error) }, 'http handler failed');
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });
  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const path = pathOf(request);
    if (path === '/v1/client') options.clientApi.handleUpgrade(request, socket, head);
    else if (path === '/v1/raft') options.peerUpgrade(request, socket, head);
    else {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
    }
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  return server;
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
