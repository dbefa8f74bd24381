// StorageIdentity: which member of which cluster a data dir belongs to. It is stamped into an
// environment when the environment is created and checked on every open, so a member started with
// another member's --data-dir (or a dir left over from another cluster) refuses to start instead of
// voting or acknowledging with somebody else's log (SPEC §2). Invariant: both ids are non-empty.

import { assert } from '../assert.js';

export interface StorageIdentity {
  readonly clusterId: string;
  readonly nodeId: string;
}

/** The cluster id of a member that was started with --join and has not heard from its cluster yet. */
export const joiningClusterId = 'joining';

/** What an open expects: a cluster id of undefined accepts whatever the data dir holds (restart without --peers, --join). */
export interface ExpectedIdentity {
  readonly clusterId: string | undefined;
  readonly nodeId: string;
}

export function assertValidIdentity(identity: ExpectedIdentity): void {
  // Callers validate flags before opening storage; an empty id here is a wiring bug.
  assert(identity.clusterId === undefined || identity.clusterId.length > 0, 'the cluster id is not empty');
  assert(identity.nodeId.length > 0, 'the node id is not empty');
}

export function sameIdentity(left: StorageIdentity, right: StorageIdentity): boolean {
  return left.clusterId === right.clusterId && left.nodeId === right.nodeId;
}

/** "member n2 of cluster abc": the phrase error messages use for an identity. */
export function describeIdentity(identity: StorageIdentity): string {
  return `member ${identity.nodeId} of cluster ${identity.clusterId}`;
}
