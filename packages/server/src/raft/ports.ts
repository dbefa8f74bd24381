// The ports the pure core is built against. Every source of non-determinism (randomness, storage,
// logging) comes in through one of these, so the simulation can swap in seeded, in-memory versions
// and replay a whole cluster from one seed. Time is not a port: it arrives as tick().

import type { LogIndex, Term } from '../ids.js';
import type { HardState, LogEntry, SnapshotMetadata } from './log-entry.js';

/** Uniform random integers. Production uses crypto; the simulation a seeded PRNG. */
export interface Random {
  /** An integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

/**
 * The durable log as the core reads it. Writes never go through here: the driver persists what a
 * Ready hands it, then calls advance(). Reads are synchronous (LMDB reads are; so is memory).
 */
export interface RaftStorage {
  /** The hard state persisted last (term 0, no vote, commit 0 for an empty store). */
  initialHardState(): HardState;
  /**
   * The latest snapshot: index 0, term 0 and the bootstrap configuration (possibly empty) until one is
   * taken. Entries may be kept before its index (a trailing window for slow followers), so
   * firstIndex() - 1 ≤ snapshot index ≤ lastIndex().
   */
  snapshotMetadata(): SnapshotMetadata;
  /** Index of the first entry still present (entries before it are compacted into a snapshot). */
  firstIndex(): LogIndex;
  /** Index of the last persisted entry; firstIndex() - 1 when the log is empty. */
  lastIndex(): LogIndex;
  /** Term of the entry at index, for firstIndex()-1 ≤ index ≤ lastIndex(); undefined outside. */
  term(index: LogIndex): Term | undefined;
  /** Entries [low, high), stopping early once maxBytes is reached (always at least one entry). */
  entries(low: LogIndex, high: LogIndex, maxBytes: number): LogEntry[];
  /**
   * Optional: the config entries of the log, oldest first, if the storage keeps track of them (so a
   * restart need not read the whole log twice). Without it the core scans entries() once at start.
   */
  configEntries?(): readonly LogEntry[];
}

/** Structured logging: fields first, message second (pino's call shape). */
export interface Logger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
