// checkPeerHandshake: decides whether an inbound /v1/raft upgrade comes from a member of this
// cluster, from the request headers alone, before any WebSocket exists. Owns the header names both
// ends use and the secret comparison.
//
// Invariants: when a secret is configured, nothing is accepted without it (401); the secret is
// compared in constant time (both sides hashed first, so their lengths leak nothing either); a
// request from another cluster, from an id not in the address book, or claiming our own id is
// refused (403); the secret is never part of a result, so it cannot reach a log line.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { NodeId } from '../ids.js';

export const peerPath = '/v1/raft';
export const nodeHeader = 'x-raftlock-node';
export const clusterHeader = 'x-raftlock-cluster';
export const addressHeader = 'x-raftlock-address';

export interface PeerHandshakeExpectations {
  readonly nodeId: NodeId;
  /** undefined while this member is joining and has not learned its cluster's id yet: any is accepted. */
  readonly clusterId: string | undefined;
  readonly peerSecret: string | undefined;
  isKnownPeer(peerId: string): boolean;
}

export type PeerHandshakeResult =
  | { readonly accepted: true; readonly peerId: NodeId; readonly clusterId: string; readonly address: string | undefined }
  | { readonly accepted: false; readonly status: 401 | 403; readonly reason: string };

/** Headers a dialling member sends; the secret goes in `authorization` only when configured. */
export function peerHandshakeHeaders(options: { nodeId: NodeId; clusterId: string; peerSecret: string | undefined; advertise?: string | undefined }): Record<string, string> {
  const headers: Record<string, string> = { [nodeHeader]: options.nodeId, [clusterHeader]: options.clusterId };
  if (options.advertise !== undefined) headers[addressHeader] = options.advertise;
  if (options.peerSecret !== undefined) headers['authorization'] = `Bearer ${options.peerSecret}`;
  return headers;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

export function secretsMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function singleHeader(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

const bearerPrefix = 'Bearer ';

export function checkPeerHandshake(headers: IncomingHttpHeaders, expected: PeerHandshakeExpectations): PeerHandshakeResult {
  if (expected.peerSecret !== undefined) {
    const authorization = singleHeader(headers, 'authorization');
    if (authorization === undefined || !authorization.startsWith(bearerPrefix)) {
      return { accepted: false, status: 401, reason: 'missing peer secret' };
    }
    if (!secretsMatch(authorization.slice(bearerPrefix.length), expected.peerSecret)) {
      return { accepted: false, status: 401, reason: 'wrong peer secret' };
    }
  }
  const clusterId = singleHeader(headers, clusterHeader);
  if (clusterId === undefined || !/^[A-Za-z0-9-]{1,64}$/.test(clusterId)) return { accepted: false, status: 403, reason: 'missing or malformed cluster id' };
  if (expected.clusterId !== undefined && clusterId !== expected.clusterId) return { accepted: false, status: 403, reason: 'other cluster id' };
  const peerId = singleHeader(headers, nodeHeader);
  if (peerId === undefined) return { accepted: false, status: 403, reason: 'missing node id' };
  if (peerId === expected.nodeId) return { accepted: false, status: 403, reason: 'node id is our own' };
  if (!expected.isKnownPeer(peerId)) return { accepted: false, status: 403, reason: 'unknown node id' };
  const address = singleHeader(headers, addressHeader);
  return { accepted: true, peerId: peerId as NodeId, clusterId, address: address !== undefined && address.length <= 300 ? address : undefined };
}
