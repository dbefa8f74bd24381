// The PeerTransport port: how the runtime hands Raft messages to the network. The core never sees it;
// the driver calls send() with a Ready's messages after persisting (STYLE "What we absorb" §2), and
// inbound messages reach the driver through the adapter's own callback.
//
// Invariants every adapter keeps: send() never blocks and never throws for an unreachable peer (Raft
// retries lost messages on its own timers), and memory held for undelivered messages is bounded.

import type { NodeId } from '../ids.js';
import type { Message } from '../raft/messages.js';

export interface PeerTransport {
  /** Queue messages for their addressees; never blocks, never throws for an unreachable peer (Raft retries). */
  send(messages: readonly Message[]): void;
  /**
   * Write out what send() queued now rather than at the end of the turn: the driver calls it once
   * its Ready loop has run, so appends do not wait a whole event-loop iteration to leave.
   */
  flush(): void;
  /** Replace the address book (membership changes later). */
  setPeers(peers: ReadonlyMap<NodeId, string /* host:port */>): void;
  close(): Promise<void>;
}
