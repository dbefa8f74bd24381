// Backoff: jittered exponential delays for reconnects and request retries. "Equal jitter" (AWS
// architecture blog): half the capped exponential delay is fixed, half is random, so clients that
// lost the same leader at the same moment spread out without ever retrying at once in a burst.

export interface BackoffOptions {
  /** Delay ceiling of the first retry, in ms. */
  readonly initialDelayMs: number;
  /** No delay ever exceeds this, in ms. */
  readonly maxDelayMs: number;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {
    if (!(options.initialDelayMs > 0)) throw new RangeError('initialDelayMs must be positive');
    if (!(options.maxDelayMs >= options.initialDelayMs)) throw new RangeError('maxDelayMs must be at least initialDelayMs');
  }

  /** The delay before the next attempt; each call doubles the ceiling up to maxDelayMs. */
  next(): number {
    const delayMs = backoffDelayMs(this.options, this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return delayMs;
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}

/** The delay of one attempt (0-based): in [ceiling/2, ceiling), ceiling = min(max, initial·2^attempt). */
export function backoffDelayMs(options: BackoffOptions, attempt: number, random: () => number = Math.random): number {
  const ceilingMs = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(attempt, 30));
  return ceilingMs / 2 + random() * (ceilingMs / 2);
}
