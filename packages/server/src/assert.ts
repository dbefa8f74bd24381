// Assertions for programmer errors. They stay on in production: a broken invariant in a lock service
// must crash the member (and let Raft fail over) rather than grant a lock twice. Operating errors
// (bad input, lost peers) are returned and handled, never asserted.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(`invariant violated: ${message}`);
}

export function assertNever(value: never, message = 'unhandled variant'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
