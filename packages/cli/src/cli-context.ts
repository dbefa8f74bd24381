// What every command handler gets: the global options (SPEC §7), the Output for them, and the run's
// io. Handlers never throw into yargs: `action()` records the outcome here, so that yargs' fail
// handler only ever sees usage errors (exit 2) and never a failed operation.

import { readFileSync } from 'node:fs';
import { parseMemberAddress } from '@raftlock/protocol/member-address';
import type { Arguments } from 'yargs';
import { parseDuration } from './duration.js';
import { usageError } from './exit-codes.js';
import { Output, type CliIo } from './output.js';

/** How the CLI reaches members over TLS: wss:// for the SDK, https:// for `status`. */
export interface CliTls {
  /** PEM of the CA that signed the members' certificates (--tls-ca); undefined: the system's CAs. */
  readonly ca: Buffer | undefined;
}

export interface GlobalOptions {
  /** host:port of each member given (any scheme stripped). */
  readonly endpoints: readonly string[];
  readonly token: string | undefined;
  /** --tls, --tls-ca, or https:// / wss:// endpoints; undefined: plain ws:// and http://. */
  readonly tls: CliTls | undefined;
  readonly json: boolean;
  /** Connect, and finish a one-shot command, within this. */
  readonly timeoutMs: number;
  /** performance.now() by which a one-shot command must have finished: the run's start + timeoutMs. */
  readonly deadlineMs: number;
}

export interface CommandRun {
  readonly globals: GlobalOptions;
  readonly output: Output;
  readonly io: CliIo;
}

export class CliContext {
  /** The exit code of the command that ran, or the error it failed with. */
  outcome: { readonly exitCode: number } | { readonly error: unknown } | undefined;

  constructor(
    readonly io: CliIo,
    /** performance.now() when the run started; --timeout counts from here. */
    readonly startedAtMs: number,
  ) {}
}

export const defaultEndpoints = '127.0.0.1:7070';
export const defaultTimeout = '5s';

const endpointPattern = /^(?:([a-z]+):\/\/)?([^/]+)(?:\/.*)?$/i;
const tlsSchemes: ReadonlySet<string> = new Set(['https', 'wss']);
const plainSchemes: ReadonlySet<string> = new Set(['http', 'ws']);

/** `host:port`, or with a scheme: `https://`/`wss://` ask for TLS, `http://`/`ws://` for plain. */
function parseEndpoints(text: string): { addresses: string[]; schemeTls: boolean | undefined } {
  let schemeTls: boolean | undefined;
  const addresses: string[] = [];
  for (const endpoint of text.split(',').map((item) => item.trim()).filter((item) => item.length > 0)) {
    const match = endpointPattern.exec(endpoint);
    if (match === null) throw usageError(`--endpoints: ${JSON.stringify(endpoint)} is not host:port`);
    const scheme = match[1]?.toLowerCase();
    if (scheme !== undefined) {
      if (!tlsSchemes.has(scheme) && !plainSchemes.has(scheme)) throw usageError(`--endpoints: ${JSON.stringify(endpoint)}: use host:port, or https:// / wss:// for TLS`);
      const wantsTls = tlsSchemes.has(scheme);
      if (schemeTls !== undefined && schemeTls !== wantsTls) throw usageError('--endpoints: mixes TLS (https://, wss://) and plain (http://, ws://) members');
      schemeTls = wantsTls;
    }
    const address = match[2] as string;
    // Without a scheme there is no default port to fall back on: `10.0.0.1` alone would be dialled on
    // port 80 and reported as an unreachable cluster (exit 3) instead of a typo.
    if (scheme === undefined && parseMemberAddress(address) === undefined) throw usageError(`--endpoints: ${JSON.stringify(endpoint)} is not host:port (e.g. 10.0.0.1:7070)`);
    addresses.push(address);
  }
  if (addresses.length === 0) throw usageError('--endpoints: give at least one host:port');
  return { addresses, schemeTls };
}

function readCaFile(path: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    throw usageError(`--tls-ca: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw usageError(`--tls-ca: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return pem;
}

function tlsOf(argv: Arguments, schemeTls: boolean | undefined): CliTls | undefined {
  const caPath = argv['tls-ca'] === undefined || argv['tls-ca'] === '' ? undefined : String(argv['tls-ca']);
  const wanted = caPath !== undefined || argv['tls'] === true || schemeTls === true;
  if (wanted && schemeTls === false) throw usageError('--endpoints: http:// and ws:// members cannot be reached over TLS (--tls, --tls-ca)');
  if (!wanted) return undefined;
  return { ca: caPath === undefined ? undefined : readCaFile(caPath) };
}

export function globalOptionsOf(argv: Arguments, startedAtMs: number): GlobalOptions {
  const { addresses: endpoints, schemeTls } = parseEndpoints(String(argv['endpoints'] ?? defaultEndpoints));
  const tls = tlsOf(argv, schemeTls);
  const token = argv['token'] === undefined || argv['token'] === '' ? undefined : String(argv['token']);
  // yargs has already coerced --timeout (durationOption); a string here is the default.
  const timeout = argv['timeout'] ?? defaultTimeout;
  const timeoutMs = typeof timeout === 'number' ? timeout : parseDuration(String(timeout), '--timeout');
  if (timeoutMs <= 0) throw usageError('--timeout must be more than 0');
  return { endpoints, token, tls, json: argv['json'] === true, timeoutMs, deadlineMs: startedAtMs + timeoutMs };
}

/** Wrap a command handler: its exit code or its error becomes the run's outcome. */
export function action<Args>(context: CliContext, handler: (argv: Args & Arguments, run: CommandRun) => Promise<number | void>): (argv: Arguments) => Promise<void> {
  return async (argv) => {
    try {
      const globals = globalOptionsOf(argv, context.startedAtMs);
      const run: CommandRun = { globals, output: new Output(context.io, { json: globals.json }), io: context.io };
      const exitCode = await handler(argv as Args & Arguments, run);
      context.outcome = { exitCode: exitCode ?? 0 };
    } catch (error) {
      context.outcome = { error };
    }
  };
}

/** A yargs coerce function for a duration flag: "5s" → 5000, or a usage error naming the flag. */
export function durationOption(flag: string): (value: unknown) => number | undefined {
  return (value) => (value === undefined ? undefined : parseDuration(String(value), flag));
}
