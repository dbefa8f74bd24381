// TransportCounters: the running totals a WsPeerTransport reports through stats(). One mutable record
// shared by the transport and its outbound links, so every drop is counted exactly once, where it
// happens. Counters only ever grow.

export interface TransportCounters {
  /** Outbound messages not sent (peer down, queue full, socket backed up) plus inbound ones refused (wrong addressee or sender). */
  droppedMessages: number;
  framesSent: number;
  framesReceived: number;
  /** Inbound frames that failed to decode or validate, were oversize, or were not binary. */
  invalidFrames: number;
}

export function emptyTransportCounters(): TransportCounters {
  return { droppedMessages: 0, framesSent: 0, framesReceived: 0, invalidFrames: 0 };
}
