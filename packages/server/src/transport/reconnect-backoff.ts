// reconnectDelayMs: how long an outbound peer link waits before its next dial. Exponential in the
// number of failed attempts, capped at the maximum, with jitter so that members restarted together
// do not redial in lockstep. Pure: the caller passes the random draw, so tests can pin it.
//
// Invariant: the result always lies in [minimumMs, maximumMs].

import { assert } from '../assert.js';

export interface ReconnectBackoffLimits {
  readonly reconnectBackoffMinMs: number;
  readonly reconnectBackoffMaxMs: number;
}

/** Doublings stop here: 2^20 × any sane minimum already exceeds any sane maximum. */
const maxDoublings = 20;

/**
 * `failedAttempts` counts dials since the last successful open (0 for the first retry); `randomUnit`
 * is a draw in [0, 1). "Equal jitter": half the ceiling is fixed, half random, so the delay still
 * grows with failures but two members never stay synchronised.
 */
export function reconnectDelayMs(failedAttempts: number, limits: ReconnectBackoffLimits, randomUnit: number): number {
  assert(Number.isInteger(failedAttempts) && failedAttempts >= 0, 'failed attempts is a count');
  assert(randomUnit >= 0 && randomUnit < 1, 'random draw is in [0, 1)');
  const minimumMs = limits.reconnectBackoffMinMs;
  const maximumMs = limits.reconnectBackoffMaxMs;
  const ceilingMs = Math.min(maximumMs, minimumMs * 2 ** Math.min(failedAttempts, maxDoublings));
  const delayMs = Math.max(minimumMs, ceilingMs / 2 + (randomUnit * ceilingMs) / 2);
  assert(delayMs >= minimumMs, 'backoff never below its minimum');
  assert(delayMs <= maximumMs, 'backoff never above its maximum');
  return delayMs;
}
