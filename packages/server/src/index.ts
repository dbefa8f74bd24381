// @raftlock/server public entry. The member itself (startServer) arrives with the raftlockd issue;
// until then this package exposes the consensus core through its "./testing" entry only.

export type { NodeId, Term, LogIndex } from './ids.js';
