// ClusterConfig: who is in the cluster, replicated through the log (Raft thesis §4). Changes are made
// one server at a time: add a non-voting learner, promote it once it has caught up, or remove any
// member. A single-server change keeps every majority of the old voters overlapping every majority of
// the new ones, so no joint consensus is needed (thesis §4.1, §4.2.1).
//
// A member's address is carried for the layers above (peer links, leader redirects, restarting
// without --peers); the core only ever looks at ids and roles.

import { assert } from '../assert.js';
import type { NodeId } from '../ids.js';

export type MemberRole = 'voter' | 'learner';

export interface ClusterMember {
  readonly id: NodeId;
  /** host:port other members and clients reach it at; opaque to the core. */
  readonly address: string;
  readonly role: MemberRole;
}

export interface ClusterConfig {
  /** Sorted by id, ids unique. */
  readonly members: readonly ClusterMember[];
}

export type ConfigChange =
  | { readonly type: 'addLearner'; readonly id: NodeId; readonly address: string }
  | { readonly type: 'promote'; readonly id: NodeId }
  | { readonly type: 'remove'; readonly id: NodeId };

export const emptyConfig: ClusterConfig = { members: [] };

export function makeConfig(members: readonly ClusterMember[]): ClusterConfig {
  const sorted = [...members].sort((left, right) => (left.id < right.id ? -1 : left.id > right.id ? 1 : 0));
  for (let position = 1; position < sorted.length; position++) {
    assert(sorted[position - 1]?.id !== sorted[position]?.id, 'member ids in a configuration are unique');
  }
  return { members: sorted };
}

export function votersOf(config: ClusterConfig): NodeId[] {
  return config.members.filter((member) => member.role === 'voter').map((member) => member.id);
}

export function memberIdsOf(config: ClusterConfig): NodeId[] {
  return config.members.map((member) => member.id);
}

export function memberOf(config: ClusterConfig, id: NodeId): ClusterMember | undefined {
  return config.members.find((member) => member.id === id);
}

export function isVoter(config: ClusterConfig, id: NodeId): boolean {
  return memberOf(config, id)?.role === 'voter';
}

export function configsEqual(left: ClusterConfig, right: ClusterConfig): boolean {
  if (left.members.length !== right.members.length) return false;
  return left.members.every((member, position) => {
    const other = right.members[position];
    return other !== undefined && other.id === member.id && other.address === member.address && other.role === member.role;
  });
}

/** Why a change cannot be made to config, or undefined when it can. */
export function configChangeProblem(config: ClusterConfig, change: ConfigChange): string | undefined {
  const member = memberOf(config, change.id);
  switch (change.type) {
    case 'addLearner':
      if (member !== undefined) return `${change.id} is already a ${member.role} of the cluster`;
      if (change.address === '') return `${change.id} needs an address`;
      if (config.members.some((other) => other.address === change.address)) return `another member already has address ${change.address}`;
      return undefined;
    case 'promote':
      if (member === undefined) return `${change.id} is not a member of the cluster`;
      if (member.role === 'voter') return `${change.id} is already a voter`;
      return undefined;
    case 'remove':
      if (member === undefined) return `${change.id} is not a member of the cluster`;
      if (member.role === 'voter' && votersOf(config).length === 1) return `${change.id} is the last voter; a cluster cannot remove its last voter`;
      return undefined;
  }
}

/** The configuration after change (which must be valid for config). */
export function applyConfigChange(config: ClusterConfig, change: ConfigChange): ClusterConfig {
  assert(configChangeProblem(config, change) === undefined, 'only valid configuration changes are applied');
  switch (change.type) {
    case 'addLearner':
      return makeConfig([...config.members, { id: change.id, address: change.address, role: 'learner' }]);
    case 'promote':
      return makeConfig(config.members.map((member) => (member.id === change.id ? { ...member, role: 'voter' } : member)));
    case 'remove':
      return makeConfig(config.members.filter((member) => member.id !== change.id));
  }
}
