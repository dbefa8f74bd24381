// Structural limits on what one peer frame may hold. The frame's byte size is bounded by the
// transport's maxFrameBytes (ws closes with 1009 above it); these bound the decoded shape, so a frame
// packed with tiny values still cannot make a member allocate or loop without bound.

export const peerFrameLimits = {
  /**
   * Messages in one frame. A Ready to one peer holds at most a few hundred (pipelined appends plus a
   * heartbeat round); the sender splits larger batches, so this is only ever hit by a broken peer.
   */
  maxMessagesPerFrame: 4096,
  /** Entries in one AppendEntries; far above the core's maxEntriesPerAppend (256 by default). */
  maxEntriesPerMessage: 65_536,
  /** Member ids are `[a-z0-9-]{1,32}` (SPEC §2); the wire allows some headroom but no more. */
  maxNodeIdLength: 64,
} as const;
