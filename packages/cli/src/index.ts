// @raftlock/cli: the `raftlock` operator CLI (SPEC §7). It builds on @raftlock/client and lands
// with its own issue.

export { errorCodes, type ErrorCode } from '@raftlock/client';
