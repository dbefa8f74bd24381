// The CLI's way into the cluster: the SDK, connected within --timeout. This is the only module that
// imports @raftlock/client at load time, and commands import it lazily (`await import(...)`), so
// `raftlock --help` never pays for ws and msgpackr.
//
// One-shot commands (status, locks, get…) run under one deadline: --timeout from the moment they
// start, covering connect and every request, after which the CLI gives up with exit 3 whatever the
// SDK is still retrying.

import { hostname } from 'node:os';
import { connect, type Client } from '@raftlock/client';
import { lockNameProblem, memberAddressProblem, memberIdProblem } from '@raftlock/protocol';
import type { GlobalOptions } from './cli-context.js';
import { formatDuration } from './duration.js';
import { CliError, exitCodes, usageError } from './exit-codes.js';

/** The SDK's per-member handshake default; a shorter --timeout shortens it. */
const maxConnectTimeoutMs = 3_000;

/** Connect (within requestTimeoutMs); the client then retries each request that long. */
export async function connectCluster(globals: GlobalOptions, requestTimeoutMs = globals.timeoutMs): Promise<Client> {
  return connect({
    endpoints: [...globals.endpoints],
    ...(globals.token === undefined ? {} : { token: globals.token }),
    ...(globals.tls === undefined ? {} : { tls: globals.tls.ca === undefined ? true : { ca: globals.tls.ca } }),
    requestTimeoutMs,
    connectTimeoutMs: Math.min(maxConnectTimeoutMs, requestTimeoutMs),
  });
}

function unavailableByDeadline(globals: GlobalOptions): CliError {
  return new CliError(exitCodes.unavailable, `cluster unavailable: no answer from ${globals.endpoints.join(', ')} within ${formatDuration(globals.timeoutMs)} (--timeout)`);
}

/**
 * work, or exit 3 once the run's deadline (--timeout from its start) has passed. The SDK's own
 * deadlines (as long, started a moment later) normally answer first, with the better reason; this
 * one guarantees the bound.
 */
export async function beforeDeadline<T>(globals: GlobalOptions, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(unavailableByDeadline(globals)), Math.max(0, globals.deadlineMs - performance.now()) + 50);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connect by the run's deadline (exit 3 past it), for commands that then run as long as they need. */
export async function connectByDeadline(globals: GlobalOptions): Promise<Client> {
  const connecting = connectCluster(globals);
  try {
    return await beforeDeadline(globals, connecting);
  } catch (error) {
    connecting.then((late) => late.close()).catch(() => undefined);
    throw error;
  }
}

/** Connect, run fn, close — all by the run's deadline (--timeout from its start; exit 3 past it). */
export async function withCluster<T>(globals: GlobalOptions, fn: (client: Client) => Promise<T>): Promise<T> {
  const connecting = connectCluster(globals, Math.max(1, Math.round(globals.deadlineMs - performance.now())));
  try {
    return await beforeDeadline(globals, connecting.then(fn));
  } finally {
    // Nothing to release for a one-shot command: close without waiting on an unreachable cluster.
    connecting.then((client) => client.close()).catch(() => undefined);
  }
}

/** How a session opened by the CLI shows up in `raftlock locks` and `raftlock sessions`. */
export function cliClientName(what: string): string {
  const name = `raftlock ${what} @${hostname()}:${process.pid}`;
  return Buffer.byteLength(name) <= 128 ? name : `raftlock @${hostname().slice(0, 80)}:${process.pid}`;
}

/** A lock or election name the server would refuse is a usage error (exit 2), caught before connecting. */
export function checkName(name: string, what: string): string {
  const problem = lockNameProblem(name);
  if (problem !== undefined) throw usageError(`${what}: ${JSON.stringify(name)}: name ${problem}`);
  return name;
}

/** A member id the server would refuse is a usage error (exit 2), caught before connecting. */
export function checkMemberId(id: string, what: string): string {
  const problem = memberIdProblem(id);
  if (problem !== undefined) throw usageError(`${what}: member id ${JSON.stringify(id)} ${problem}`);
  return id;
}

/** So is an address that is not host:port. */
export function checkMemberAddress(address: string, what: string): string {
  const problem = memberAddressProblem(address);
  if (problem !== undefined) throw usageError(`${what}: address ${JSON.stringify(address)} ${problem} (the member's --advertise address, e.g. 10.0.0.4:7070)`);
  return address;
}
