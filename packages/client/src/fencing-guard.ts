// FencingGuard: the protected resource's half of fencing (SPEC §3.2; docs/fencing.md). A lock alone
// cannot stop a holder that was paused (GC, SIGSTOP, a slow disk) from writing after its lease
// lapsed and the lock moved on; the resource can, by remembering the highest fencing token it has
// accepted and refusing any lower one. Tokens of one lock strictly increase, so the newer holder
// always wins, whatever the clocks or the network did.
//
// Invariant: `highest` never decreases; a token is accepted iff it is ≥ highest (the current holder
// may write many times with its own token).
//
// One guard protects one resource (one file, one row, one key) and must live WITH that resource:
// its check and the write it guards have to be atomic with respect to other writers (one process
// doing both, or a conditional write such as `UPDATE … WHERE fence <= $token`).

export class StaleTokenError extends Error {
  override readonly name = 'StaleTokenError';

  constructor(
    readonly token: bigint,
    readonly highest: bigint,
  ) {
    super(`fencing token ${token} is stale: the resource has already accepted token ${highest}`);
  }
}

export class FencingGuard {
  private highestToken: bigint | undefined;

  /** @param highest the highest token already accepted (e.g. read back from the resource). */
  constructor(highest?: bigint) {
    this.highestToken = highest;
  }

  /** The highest token accepted so far (undefined before the first). */
  get highest(): bigint | undefined {
    return this.highestToken;
  }

  /** Accept token (and remember it) unless a higher one was accepted before. */
  accept(token: bigint): boolean {
    if (typeof token !== 'bigint') throw new TypeError('a fencing token is a bigint (lock.token)');
    if (this.highestToken !== undefined && token < this.highestToken) return false;
    this.highestToken = token;
    return true;
  }

  /** Like accept(), but throws StaleTokenError for a stale token. */
  check(token: bigint): void {
    if (!this.accept(token)) throw new StaleTokenError(token, this.highestToken as bigint);
  }
}
