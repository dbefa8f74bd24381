// Protocol limits (SPEC §4–§5), shared so the SDK can refuse what the server would refuse.

export const protocolLimits = {
  /** One WebSocket frame, either way. Larger frames are closed with 1009. */
  maxFrameBytes: 1024 * 1024,
  maxLockNameBytes: 256,
  maxMetadataBytes: 1024,
  maxElectionValueBytes: 4096,
  maxClientNameBytes: 128,
  maxRequestIdLength: 64,
  minSessionTtlMs: 500,
  maxSessionTtlMs: 300_000,
  defaultSessionTtlMs: 10_000,
  maxListLimit: 10_000,
  defaultListLimit: 1000,
  /** Requests one connection may have in flight (waiting acquires included). */
  maxInflightRequestsPerConnection: 4096,
  maxWatchesPerConnection: 256,
  /**
   * Sessions one connection may have open at once (opened over it and not closed or expired), so
   * that one client cannot take the whole cluster's session table (100 000).
   */
  maxSessionsPerConnection: 1024,
  /** snapshot.read: the data of one chunk, so that a reply stays well inside one frame. */
  maxSnapshotChunkBytes: 512 * 1024,
  /** members.add / remove / transferLeader: bounds of the `timeoutMs` argument. */
  minAdminTimeoutMs: 100,
  maxAdminTimeoutMs: 600_000,
} as const;
