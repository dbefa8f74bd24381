// @raftlock/client: the SDK (SPEC §6). It imports only @raftlock/protocol, never the server, so an
// application never installs lmdb to take a lock.

export { connect, Client, type ConnectOptions, type ReadOptions, type ListLocksOptions } from './client.js';
export type { TlsOptions } from './connection.js';
export type { BackoffOptions } from './backoff.js';
export { Session, type SessionOptions, type SessionState, type SessionEvents, type LockOptions, type TryLockOptions, type KeepaliveAck } from './session.js';
export { Lock } from './lock.js';
export { Members, type Membership, type MemberChangeOptions } from './members.js';
export { Snapshots, type SaveSnapshotOptions, type SnapshotProgress, type SavedSnapshot } from './snapshots.js';
export { Election, Leadership, type CampaignOptions } from './election.js';
export { FencingGuard, StaleTokenError } from './fencing-guard.js';
export type { WatchOptions, ObserveOptions } from './watch-stream.js';
export type { LockState, LockHolder, ElectionLeader, WatchItem, WatchEventItem, WatchSnapshotItem } from './views.js';

// Errors: one class per stable code (SPEC §5, docs/errors.md), rebuilt from the wire by the SDK.
export {
  errorCodes,
  isErrorCode,
  isRetriable,
  isServiceError,
  ServiceError,
  NotLeaderError,
  UnavailableError,
  TimeoutError,
  InvalidArgumentError,
  UnauthenticatedError,
  PermissionDeniedError,
  SessionExpiredError,
  NotHolderError,
  AlreadyHeldError,
  LockHeldError,
  TooLargeError,
  RateLimitedError,
  InternalError,
  protocolLimits,
  type ErrorCode,
  type ClusterStatus,
  type MemberStatus,
  type MemberInfo,
  type SessionInfo,
  type WaiterInfo,
  type LockKind,
  type WatchEventType,
} from '@raftlock/protocol';
