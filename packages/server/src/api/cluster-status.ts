// clusterStatusOf: this member's own view of the cluster — role, leader, term, indexes, and the
// leader's view of each member's log — served as the `cluster.status` op and as GET /status.

import type { ClusterStatus, MemberStatus } from '@raftlock/protocol';
import { asNodeId } from '../ids.js';
import type { RaftDriver } from '../runtime/raft-driver.js';

export function clusterStatusOf(driver: RaftDriver, nodeId: string, address: string): ClusterStatus {
  const status = driver.status();
  const leaderId = status.leaderId === '' ? null : status.leaderId;
  const learners = new Set<string>(driver.configuration().members.filter((member) => member.role === 'learner').map((member) => member.id));
  const members: MemberStatus[] = driver.memberIds().map((id) => {
    const progress = status.progress.get(id);
    const role: MemberStatus['role'] =
      id === status.leaderId ? 'leader' : learners.has(id) ? 'learner' : id === nodeId ? status.role : leaderId !== null ? 'follower' : 'unknown';
    return {
      id,
      address: driver.addressOf(asNodeId(id)) ?? '',
      role,
      reachable: id === nodeId || id === status.leaderId || (progress !== undefined && progress.matchIndex > 0),
      ...(progress ? { matchIndex: progress.matchIndex } : {}),
    };
  });
  return {
    nodeId,
    address,
    role: status.role,
    leaderId,
    leaderAddress: leaderId === null ? null : (driver.addressOf(asNodeId(leaderId)) ?? null),
    term: status.term,
    commitIndex: status.commitIndex,
    appliedIndex: driver.lastAppliedIndex(),
    lastIndex: status.lastIndex,
    members,
  };
}
