// Prometheus metrics (prom-client), one registry per member so several members can live in one
// test process. Names follow Prometheus conventions: base units, `_total` for counters.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the state gauges show, read from the member when Prometheus scrapes. */
export interface MemberState {
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly logEntries: number;
  readonly snapshotIndex: number;
  readonly sessions: number;
  readonly locksHeld: number;
  readonly electionsLed: number;
  readonly waiters: number;
}

export class Metrics {
  readonly registry = new Registry();
  private readState: (() => MemberState) | undefined;
  readonly term = new Gauge({ name: 'raftlock_term', help: 'Current Raft term', registers: [this.registry] });
  readonly isLeader = new Gauge({ name: 'raftlock_is_leader', help: '1 when this member is the leader', registers: [this.registry] });
  readonly leaderChanges = new Counter({ name: 'raftlock_leader_changes_total', help: 'Times this member learned of a leader other than the one it named just before', registers: [this.registry] });
  readonly commitIndex = this.stateGauge('raftlock_commit_index', 'Highest log index known committed', 'commitIndex');
  readonly appliedIndex = this.stateGauge('raftlock_applied_index', 'Highest log index applied to the lock state machine', 'appliedIndex');
  readonly proposals = new Counter({ name: 'raftlock_proposals_total', help: 'Commands proposed by this member, by outcome', labelNames: ['outcome'], registers: [this.registry] });
  readonly fsyncSeconds = new Histogram({
    name: 'raftlock_fsync_duration_seconds',
    help: 'Time to make one batch of log entries and hard state durable',
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly applySeconds = new Histogram({
    name: 'raftlock_apply_duration_seconds',
    help: 'Time to apply one batch of committed entries',
    buckets: [0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1],
    registers: [this.registry],
  });
  readonly commitSeconds = new Histogram({
    name: 'raftlock_commit_duration_seconds',
    help: 'Leader only: time from accepting a proposal to applying it (replication, fsyncs, apply)',
    buckets: [0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.5, 2],
    registers: [this.registry],
  });
  readonly snapshotSeconds = new Histogram({
    name: 'raftlock_snapshot_duration_seconds',
    help: 'Time to take one snapshot of the state machine and compact the log behind it (encode and write)',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16],
    registers: [this.registry],
  });
  readonly snapshotBytes = new Gauge({ name: 'raftlock_snapshot_bytes', help: 'Size of the latest snapshot this member took', registers: [this.registry] });
  readonly logEntries = this.stateGauge('raftlock_log_entries', 'Log entries kept on disk (compaction bounds them)', 'logEntries');
  readonly snapshotIndex = this.stateGauge('raftlock_snapshot_index', 'Log index of the latest snapshot', 'snapshotIndex');
  readonly configMembers = new Gauge({ name: 'raftlock_members', help: 'Members of the configuration in force, by role', labelNames: ['role'], registers: [this.registry] });
  readonly sessions = this.stateGauge('raftlock_sessions', 'Open sessions', 'sessions');
  readonly locksHeld = this.stateGauge('raftlock_locks_held', 'Locks with a holder', 'locksHeld');
  readonly electionsLed = this.stateGauge('raftlock_elections_led', 'Elections with a leader', 'electionsLed');
  readonly waiters = this.stateGauge('raftlock_waiters', 'Queued waiters across all locks', 'waiters');
  readonly clientConnections = new Gauge({ name: 'raftlock_client_connections', help: 'Open client WebSocket connections', registers: [this.registry] });
  readonly clientRequests = new Counter({ name: 'raftlock_client_requests_total', help: 'Client requests by op and outcome code', labelNames: ['op', 'code'], registers: [this.registry] });

  constructor(collectProcessMetrics: boolean) {
    if (collectProcessMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Where the state gauges read from. They are sampled when scraped, not set as the state changes:
   * setting seven gauges after every Ready loop cost the leader ~8 KiB of garbage and a dozen map
   * lookups per acquire+release (an allocation profile of a single client, 2026-12-05), for values
   * nobody reads between scrapes.
   */
  sampleStateFrom(readState: () => MemberState): void {
    this.readState = readState;
  }

  private stateGauge(name: string, help: string, field: keyof MemberState): Gauge {
    const read = () => this.readState?.()[field];
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      collect() {
        const value = read();
        if (value !== undefined) this.set(value);
      },
    });
  }
}
