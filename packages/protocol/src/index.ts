// @raftlock/protocol: wire messages, codec and error codes shared by the server, the SDK and the CLI.

export { errorCodes, isErrorCode, isRetriable, type ErrorCode } from './error-codes.js';
export {
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
  serviceErrorFromWire,
  isServiceError,
  type WireError,
} from './service-error.js';
export { protocolLimits } from './limits.js';
export { utf8ByteLength } from './utf8-length.js';
export { isWholeNumber } from './whole-number.js';
export {
  mutatingOperations,
  type ClientRequest,
  type ClientReply,
  type ServerPush,
  type GoAwayNotice,
  type ServerMessage,
  type Operations,
  type OperationName,
  type OperationArgs,
  type OperationResult,
  type LockKind,
  type LockInfo,
  type HolderInfo,
  type WaiterInfo,
  type SessionInfo,
  type WatchEvent,
  type WatchEventType,
  type ClusterStatus,
  type MemberStatus,
  type MemberInfo,
  type SnapshotChunk,
} from './client-protocol.js';
export {
  validateRequest,
  lockNameProblem,
  isOperationName,
  isMutatingOperation,
  type ValidatedRequest,
} from './validate-request.js';
export { memberIdProblem, memberAddressProblem, parseMemberAddress, splitHostPort, isPort, type HostPort } from './member-address.js';
export {
  snapshotFileMagic,
  snapshotFilePrefixBytes,
  maxSnapshotFileHeaderBytes,
  encodeSnapshotFileHeader,
  decodeSnapshotFileHeaderLength,
  decodeSnapshotFileHeader,
  snapshotFileHeaderProblem,
  SnapshotFileError,
  type SnapshotFileHeader,
  type DecodedSnapshotFileHeader,
} from './snapshot-file.js';
export { encodeFrame, decodeFrame, FrameDecodeError } from './frame-codec.js';
export { corkForBurst } from './burst-cork.js';
