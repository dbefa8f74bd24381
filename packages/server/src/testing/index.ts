// @raftlock/server/testing: the pure core and the deterministic adapters that the simulation and
// scenario tests drive it with. Production code never imports this entry.

export { RaftNode, defaultRaftLimits } from '../raft/raft-node.js';
export type { RaftNodeOptions, RaftTiming, RaftLimits, ProposeResult, ReadIndexResult, RaftStatus, RefusalReason } from '../raft/raft-node.js';
export type { Message, MessageType } from '../raft/messages.js';
export type { Ready, ReadState, Role, SoftState } from '../raft/ready.js';
export type { LogEntry, HardState, SnapshotMetadata } from '../raft/log-entry.js';
export { applyConfigChange, configChangeProblem, emptyConfig, isVoter, makeConfig, votersOf } from '../raft/cluster-config.js';
export type { ClusterConfig, ClusterMember, ConfigChange, MemberRole } from '../raft/cluster-config.js';
export type { Logger, RaftStorage, Random } from '../raft/ports.js';
export { silentLogger } from '../raft/ports.js';
export { asLogIndex, asNodeId, asTerm, noNode } from '../ids.js';
export type { LogIndex, NodeId, Term } from '../ids.js';
export { AssertionError } from '../assert.js';
export { SeededRandom } from './seeded-random.js';
export { MemoryStorage, type StoredSnapshot } from './memory-storage.js';
