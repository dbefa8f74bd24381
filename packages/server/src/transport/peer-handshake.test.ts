// Peer handshake: who may open a /v1/raft connection, decided from headers alone.

import { describe, expect, test } from 'vitest';
import { asNodeId } from '../ids.js';
import { checkPeerHandshake, peerHandshakeHeaders, secretsMatch } from './peer-handshake.js';

const expectations = {
  nodeId: asNodeId('n1'),
  clusterId: 'cluster-a',
  peerSecret: 's3cret',
  isKnownPeer: (peerId: string) => peerId === 'n2' || peerId === 'n3',
};

describe('checkPeerHandshake', () => {
  test('accepts a known peer of the same cluster presenting the secret', () => {
    const headers = peerHandshakeHeaders({ nodeId: asNodeId('n2'), clusterId: 'cluster-a', peerSecret: 's3cret' });
    expect(checkPeerHandshake(headers, expectations)).toEqual({ accepted: true, peerId: 'n2', clusterId: 'cluster-a', address: undefined });
  });

  test('refuses a missing or wrong secret with 401 before looking at identity', () => {
    const missing = peerHandshakeHeaders({ nodeId: asNodeId('n2'), clusterId: 'cluster-a', peerSecret: undefined });
    expect(checkPeerHandshake(missing, expectations)).toMatchObject({ accepted: false, status: 401 });
    const wrong = peerHandshakeHeaders({ nodeId: asNodeId('zz'), clusterId: 'other', peerSecret: 's3cre' });
    expect(checkPeerHandshake(wrong, expectations)).toMatchObject({ accepted: false, status: 401 });
    expect(checkPeerHandshake({ ...missing, authorization: 'Basic s3cret' }, expectations)).toMatchObject({ accepted: false, status: 401 });
  });

  test('refuses another cluster, an unknown id, our own id and a missing id with 403', () => {
    const headersFor = (nodeId: string, clusterId: string) => peerHandshakeHeaders({ nodeId: asNodeId(nodeId), clusterId, peerSecret: 's3cret' });
    expect(checkPeerHandshake(headersFor('n2', 'cluster-b'), expectations)).toMatchObject({ accepted: false, status: 403 });
    expect(checkPeerHandshake(headersFor('n9', 'cluster-a'), expectations)).toMatchObject({ accepted: false, status: 403 });
    expect(checkPeerHandshake(headersFor('n1', 'cluster-a'), expectations)).toMatchObject({ accepted: false, status: 403 });
    const { 'x-raftlock-node': _removed, ...withoutId } = headersFor('n2', 'cluster-a');
    expect(checkPeerHandshake(withoutId, expectations)).toMatchObject({ accepted: false, status: 403 });
  });

  test('without a configured secret, identity alone decides', () => {
    const open = { ...expectations, peerSecret: undefined };
    const headers = peerHandshakeHeaders({ nodeId: asNodeId('n3'), clusterId: 'cluster-a', peerSecret: undefined });
    expect(checkPeerHandshake(headers, open)).toEqual({ accepted: true, peerId: 'n3', clusterId: 'cluster-a', address: undefined });
  });

  test('refusal reasons never contain the secret', () => {
    const headers = peerHandshakeHeaders({ nodeId: asNodeId('n2'), clusterId: 'cluster-a', peerSecret: 's3cret-but-longer' });
    expect(JSON.stringify(checkPeerHandshake(headers, expectations))).not.toContain('s3cret');
  });

  test('secretsMatch compares secrets of any lengths without throwing', () => {
    expect(secretsMatch('abc', 'abc')).toBe(true);
    expect(secretsMatch('abc', 'abcd')).toBe(false);
    expect(secretsMatch('', 'x'.repeat(1000))).toBe(false);
  });
});
