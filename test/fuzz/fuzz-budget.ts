// How much to fuzz. A normal `pnpm test` runs each property a modest number of times; `pnpm fuzz`
// (FUZZ_RUNS=100000 by default there) runs every in-process property FUZZ_RUNS times and the
// live-member properties a tenth (requests) and a fiftieth (raw frames) of that. FUZZ_SEED replays a
// run: fast-check prints the seed and the shrunk counterexample of every failure.

import { readFileSync } from 'node:fs';

const requestedRuns = process.env['FUZZ_RUNS'] === undefined || process.env['FUZZ_RUNS'] === '' ? undefined : Number(process.env['FUZZ_RUNS']);
if (requestedRuns !== undefined && (!Number.isSafeInteger(requestedRuns) || requestedRuns < 1)) throw new Error(`FUZZ_RUNS must be a positive integer, got ${process.env['FUZZ_RUNS']}`);
const requestedSeed = process.env['FUZZ_SEED'] === undefined || process.env['FUZZ_SEED'] === '' ? undefined : Number(process.env['FUZZ_SEED']);

/** True when a long run was asked for. */
export const longRun = requestedRuns !== undefined;

/** Runs for one property: `modest` in `pnpm test`, FUZZ_RUNS divided by `share` in a long run. */
export function fuzzRuns(modest: number, share = 1): number {
  return requestedRuns === undefined ? modest : Math.max(modest, Math.ceil(requestedRuns / share));
}

/** fast-check parameters: the runs, and FUZZ_SEED when given. */
export function fuzzParameters(numRuns: number): { numRuns: number; seed?: number } {
  return requestedSeed === undefined ? { numRuns } : { numRuns, seed: requestedSeed };
}

/** A test timeout that grows with the runs (a long run takes minutes). */
export function fuzzTimeoutMs(runs: number, msPerRun: number, baseMs = 60_000): number {
  return baseMs + Math.ceil(runs * msPerRun);
}

/** The codes docs/errors.md documents (SPEC §5): a rejection must carry one of these. */
export const documentedErrorCodes: ReadonlySet<string> = new Set(
  [...readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8').matchAll(/^\| `([A-Z_]+)` \|/gm)].map((match) => match[1] as string),
);
