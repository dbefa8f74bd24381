// The real clock, behind the small Clock port the runtime uses. Decisions (lease expiry, timeouts)
// use the monotonic clock, which never jumps with NTP; wall time is only carried for display.

export interface Clock {
  /** Monotonic milliseconds, for durations and deadlines. */
  monotonicMs(): number;
  /** Wall-clock milliseconds since the epoch, for display ("held since") only. */
  wallTimeMs(): number;
}

export class SystemClock implements Clock {
  private lastMonotonicMs = 0;

  monotonicMs(): number {
    const now = performance.now();
    // TigerBeetle's TimeOS: a monotonic clock that goes backwards is a broken machine, not a case to handle.
    if (now < this.lastMonotonicMs) throw new Error(`monotonic clock went backwards: ${now} < ${this.lastMonotonicMs}`);
    this.lastMonotonicMs = now;
    return now;
  }

  wallTimeMs(): number {
    return Date.now();
  }
}
