// isWholeNumber: the one check for a decoded value that must be an index, term, count or position.
// Shared by every decoder of untrusted or stored bytes (peer frames, snapshot files, backup chunks,
// restored snapshots), so they agree on what such a number is.

/** A safe integer ≥ 0. */
export function isWholeNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
