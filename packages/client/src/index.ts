// @raftlock/client: the SDK (SPEC §6). It imports only @raftlock/protocol, never the server, so an
// application never installs lmdb to take a lock. The SDK itself lands with its own issue.

export { errorCodes, type ErrorCode } from '@raftlock/protocol';
