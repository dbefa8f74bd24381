// waitForGrant: a wait-mode acquire or a campaign, parked in the server's FIFO queue until granted,
// and its clean abandonment on timeout or abort (SPEC §4: "the SDK cancels on its timeout or
// AbortSignal").
//
// Invariants:
//   - the acquire is one request id for its whole life: every retry (after a redirect, a dropped
//     connection, a leader crash) re-parks the same wait or returns its original outcome;
//   - an abandoned wait leaves nothing behind: the cancel is sent until the acquire itself answers
//     definitively (TIMEOUT = cancelled), and a grant that won the race with the cancel is released,
//     unless the wait timed out and its caller is still waiting: then the grant is the caller's;
//   - the caller's promise settles after that cleanup, or after requestTimeoutMs at the latest, in
//     which case the cleanup carries on in the background for as long as the session lives (and
//     onFinished, which frees the name for another wait by the same session, runs when it ends).

import { performance } from 'node:perf_hooks';
import { nanoid } from 'nanoid';
import { isRetriable, isServiceError, TimeoutError, type ErrorCode, type OperationArgs } from '@raftlock/protocol';
import { backoffDelayMs } from './backoff.js';
import type { Connection } from './connection.js';

export type WaitKind = 'lock' | 'election';

export interface GrantWaitRequest {
  readonly connection: Connection;
  readonly kind: WaitKind;
  readonly sessionId: string;
  readonly name: string;
  /** lock.acquire metadata, or the campaign's value. */
  readonly payload: { readonly metadata?: string; readonly value?: string };
  readonly timeoutMs: number | undefined;
  readonly signal: AbortSignal | undefined;
  /** Aborted when the session is lost or closed: the server drops its waits then. */
  readonly sessionSignal: AbortSignal;
  readonly requestTimeoutMs: number;
  /** Called once nothing of a request that was not granted can remain on the server. */
  readonly onFinished: () => void;
}

export interface Grant {
  readonly token: number;
}

/** A wait's TIMEOUT is the server's answer to a cancelled wait: final, never retried. */
const retryUnlessCancelled = (code: ErrorCode): boolean => code !== 'TIMEOUT' && isRetriable(code);

type WaitOutcome = { readonly kind: 'granted'; readonly token: number } | { readonly kind: 'failed'; readonly error: unknown };

export async function waitForGrant(request: GrantWaitRequest): Promise<Grant> {
  const { connection, kind, sessionId, name } = request;
  const requestId = nanoid();
  const acquire: Promise<WaitOutcome> = (
    kind === 'lock'
      ? connection.call('lock.acquire', { sessionId, name, mode: 'wait', ...(request.payload.metadata !== undefined ? { metadata: request.payload.metadata } : {}) }, { id: requestId, retryOn: retryUnlessCancelled, signal: request.sessionSignal })
      : connection.call('election.campaign', { sessionId, name, value: request.payload.value ?? '' }, { id: requestId, retryOn: retryUnlessCancelled, signal: request.sessionSignal })
  ).then(
    ({ result }): WaitOutcome => ({ kind: 'granted', token: result.token }),
    (error: unknown): WaitOutcome => ({ kind: 'failed', error }),
  );

  const stopped = stopCondition(request);
  const first = await Promise.race([acquire, stopped.promise]);
  stopped.dispose();
  if (first.kind === 'granted') return { token: first.token };
  if (first.kind === 'failed') {
    request.onFinished();
    throw asWaitError(first.error, request);
  }

  // Timed out or aborted: make sure the server keeps no wait for this request. A grant that won the
  // race with the cancel is the caller's on a timeout (it was granted in time, only its answer came
  // late: what a timeout shorter than the round trip, say 0 ms, gets for a free lock), and given back
  // on an abort (even one that came while the cancel was in flight), or once the caller was answered
  // without it (the cap below).
  let callerAnswered = false;
  const keepsRacedGrant = () => first.timedOut && !callerAnswered && request.signal?.aborted !== true;
  const cleanup = abandon(request, requestId, acquire, keepsRacedGrant).then((kept) => {
    if (kept === undefined) request.onFinished();
    return kept;
  });
  let capTimer: NodeJS.Timeout | undefined;
  const cap = new Promise<undefined>(
    (resolve) =>
      (capTimer = setTimeout(() => {
        callerAnswered = true; // decided here, so a grant that lands later is released, never kept
        resolve(undefined);
      }, request.requestTimeoutMs)),
  );
  const kept = await Promise.race([cleanup, cap]);
  callerAnswered = true;
  clearTimeout(capTimer);
  if (kept !== undefined) return kept;
  throw first.error;
}

type Stopped = { readonly kind: 'stopped'; readonly error: unknown; readonly timedOut: boolean };

function stopCondition(request: GrantWaitRequest): { promise: Promise<Stopped>; dispose: () => void } {
  let timer: NodeJS.Timeout | undefined;
  let detach: (() => void) | undefined;
  const promise = new Promise<Stopped>((resolve) => {
    if (request.timeoutMs !== undefined) {
      const startedMs = performance.now();
      timer = setTimeout(() => {
        const waitedMs = Math.round(performance.now() - startedMs);
        resolve({ kind: 'stopped', timedOut: true, error: new TimeoutError(`${request.kind} ${JSON.stringify(request.name)} was not granted within ${request.timeoutMs} ms (waited ${waitedMs} ms); the wait was cancelled`) });
      }, request.timeoutMs);
    }
    const signal = request.signal;
    if (signal) {
      if (signal.aborted) resolve({ kind: 'stopped', timedOut: false, error: signal.reason });
      const onAbort = () => resolve({ kind: 'stopped', timedOut: false, error: signal.reason });
      signal.addEventListener('abort', onAbort, { once: true });
      detach = () => signal.removeEventListener('abort', onAbort);
    }
  });
  return {
    promise,
    dispose: () => {
      clearTimeout(timer);
      detach?.();
    },
  };
}

/**
 * Cancels the wait until the acquire answers; a grant that won the race is returned when
 * keepsRacedGrant() says so at that moment, and released otherwise (undefined: nothing kept).
 */
async function abandon(request: GrantWaitRequest, requestId: string, acquire: Promise<WaitOutcome>, keepsRacedGrant: () => boolean): Promise<Grant | undefined> {
  const { connection, kind, sessionId, name } = request;
  if (!connection.wasSent(requestId)) {
    // Never written to any socket: the server cannot have seen it.
    connection.abandon(requestId, new TimeoutError('abandoned before it was sent'));
    return undefined;
  }
  let outcome: WaitOutcome | undefined;
  void acquire.then((settled) => (outcome = settled));
  for (let attempt = 0; outcome === undefined && !request.sessionSignal.aborted; attempt++) {
    const cancelArgs: OperationArgs<'lock.cancel'> = { sessionId, name };
    const deadlineMs = performance.now() + request.requestTimeoutMs;
    // A cancel that finds no wait (cancelled: false) means the grant won, or the acquire has not
    // been applied yet: the loop waits for the acquire's answer and cancels again if it parks.
    await (kind === 'lock'
      ? connection.call('lock.cancel', cancelArgs, { deadlineMs, signal: request.sessionSignal })
      : connection.call('election.cancel', cancelArgs, { deadlineMs, signal: request.sessionSignal })
    ).catch(() => undefined);
    if (outcome !== undefined) break;
    const waitMs = backoffDelayMs({ initialDelayMs: 100, maxDelayMs: 2000 }, attempt);
    await Promise.race([acquire, new Promise((resolve) => setTimeout(resolve, waitMs))]);
  }
  const settled = outcome ?? (await Promise.race([acquire, Promise.resolve(undefined)]));
  if (settled?.kind !== 'granted') return undefined;
  if (keepsRacedGrant()) return { token: settled.token };
  // The grant raced the cancel and is not wanted: give it back at once.
  const releaseArgs = { sessionId, name, token: settled.token };
  const deadlineMs = performance.now() + request.requestTimeoutMs;
  await (kind === 'lock'
    ? connection.call('lock.release', releaseArgs, { deadlineMs, signal: request.sessionSignal })
    : connection.call('election.resign', releaseArgs, { deadlineMs, signal: request.sessionSignal })
  ).catch(() => undefined);
  return undefined;
}

function asWaitError(error: unknown, request: GrantWaitRequest): unknown {
  // The session ended under the wait (lost, closed): say so with the session's own reason.
  if (request.sessionSignal.aborted && !isServiceError(error)) return request.sessionSignal.reason;
  return error;
}
