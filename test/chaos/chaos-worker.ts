// ChaosWorker: one application process, in miniature — one SDK client with one session at a time —
// that takes locks (waiting or trying), campaigns in elections, holds what it got for a random time
// while writing to the FencedResource, proclaims, then releases, resigns or closes its session.
// Every call is recorded as invoke + ok/fail in the History; every grant carries its op id as lock
// metadata or campaign value, so the cluster's own event stream says which request caused it.
//
// Half of the holds write naively (whatever their signal says, like a holder that does not check),
// half carefully (only while their lock says it is held): the naive ones are what fencing is for.
//
// On requestStop() the worker finishes its current step; a hold it has at that moment, with its lease
// still valid, is KEPT (recorded) so the final state can be checked against it. close() then closes
// the session and the client.

import { connect, type Client, type Leadership, type Lock, type Session } from '@raftlock/client';
import type { SeededRandom } from '@raftlock/server/testing';
import { sleep } from '../e2e/local-cluster.js';
import { leaseIsValid, type FencedResource, type TrackedHold } from './fenced-resource.js';
import type { History, OperationType } from './history.js';
import { errorCode, errorMessage, recordCall, type CallFields } from './recorded-call.js';

export interface ChaosWorkerOptions {
  readonly clientId: string;
  /** Bearer token: the fault proxies tell this client's connections apart by it. */
  readonly token: string;
  readonly endpoints: readonly string[];
  readonly random: SeededRandom;
  readonly history: History;
  readonly resource: FencedResource;
  readonly lockNames: readonly string[];
  readonly electionNames: readonly string[];
  readonly sessionTtlMs: { readonly min: number; readonly max: number };
  readonly requestTimeoutMs: number;
  /** Longest a wait or campaign waits during the chaos (each draws its own timeout up to this). */
  readonly waitTimeoutMaxMs: number;
  /** The wait used in the recovery phase, where every worker must get a grant. */
  readonly recoveryWaitTimeoutMs: number;
  readonly holdMaxMs: number;
}

interface ActiveHold {
  readonly tracked: TrackedHold;
  readonly handle: Lock | Leadership;
  /** Set before this worker gives the hold back, so that abort is not recorded as a loss. */
  lettingGo: boolean;
}

export class ChaosWorker {
  /** In recovery every step is a waiting acquire, and grants are counted. */
  mode: 'chaos' | 'recovery' = 'chaos';
  grantsInRecovery = 0;
  private stopRequested = false;
  /** Aborts waits in progress when the worker is told to stop (a kept hold must not starve them). */
  private readonly stopping = new AbortController();
  private client: Client | undefined;
  private session: Session | undefined;
  private opSequence = 0;
  private sessionSequence = 0;
  private running: Promise<void> | undefined;
  private currentHold: ActiveHold | undefined;
  private currentHoldOutlastsLease = false;
  /** Holds kept at the stop: closing the session gives them back, which is not a loss. */
  private readonly keptHolds: ActiveHold[] = [];

  constructor(private readonly options: ChaosWorkerOptions) {}

  get clientId(): string {
    return this.options.clientId;
  }

  /** Whether this worker is holding a lock or leading an election right now. */
  get isHolding(): boolean {
    return this.currentHold !== undefined && !this.currentHold.handle.signal.aborted;
  }

  /** Holding, in a hold planned to outlast its lease: cutting this client off makes a stale writer. */
  get isHoldingPastLease(): boolean {
    return this.isHolding && this.currentHoldOutlastsLease;
  }

  start(): void {
    this.running = this.loop();
  }

  requestStop(): void {
    this.stopRequested = true;
    this.stopping.abort(new DOMException(`${this.options.clientId} was told to stop`, 'AbortError'));
  }

  /** Resolves when the loop has ended (after requestStop). */
  finished(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /** Close the session (recorded: it must release every kept hold) and the client. */
  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    for (const kept of this.keptHolds.splice(0)) kept.lettingGo = true;
    if (session && session.state === 'open') await this.call('close', { session: session.id }, () => session.close());
    await this.client?.close().catch(() => undefined);
    this.client = undefined;
  }

  private async loop(): Promise<void> {
    while (!this.stopRequested) {
      const progressed = await this.step();
      // After a failure, back off a little so a dead cluster is not hammered in a tight loop.
      await sleep(progressed ? this.options.random.between(0, 30) : this.options.random.between(50, 300));
    }
  }

  /** One unit of work; false when it could not get anything done. */
  private async step(): Promise<boolean> {
    if (!this.client) this.client = await this.call('connect', {}, () => connect({ endpoints: this.rotatedEndpoints(), token: this.options.token, requestTimeoutMs: this.options.requestTimeoutMs }));
    const client = this.client;
    if (!client) return false;
    if (this.session?.state !== 'open') this.session = await this.openSession(client);
    const session = this.session;
    if (!session) return false;
    const hold = await this.acquire(session);
    if (!hold) return false;
    this.currentHold = hold;
    try {
      await this.holdThenLetGo(session, hold);
    } finally {
      this.currentHold = undefined;
    }
    return true;
  }

  private async openSession(client: Client): Promise<Session | undefined> {
    const { random, sessionTtlMs, history, clientId } = this.options;
    const name = `${clientId}.s${++this.sessionSequence}`;
    const ttlMs = random.between(sessionTtlMs.min, sessionTtlMs.max);
    const session = await this.call('open', { name, ttlMs }, () => client.session({ ttlMs, name }), (opened) => ({ session: opened.id }));
    session?.on('lost', (reason) => history.record({ kind: 'session-lost', client: clientId, session: session.id, reason: reason.message }));
    return session;
  }

  private async acquire(session: Session): Promise<ActiveHold | undefined> {
    const { random, lockNames, electionNames, history, clientId } = this.options;
    const recovering = this.mode === 'recovery';
    const draw = random.nextFloat();
    const op: OperationType = recovering || draw < 0.45 ? 'acquire' : draw < 0.7 ? 'tryAcquire' : 'campaign';
    const name = random.pick(op === 'campaign' ? electionNames : lockNames);
    const timeoutMs = recovering ? this.options.recoveryWaitTimeoutMs : random.between(200, this.options.waitTimeoutMaxMs);
    const opId = this.nextOpId();
    history.record({ kind: 'invoke', opId, client: clientId, op, session: session.id, name, ...(op === 'tryAcquire' ? {} : { timeoutMs }) });
    let handle: Lock | Leadership | null;
    try {
      // The op id travels as the grant's metadata (locks) or value (elections): the event stream
      // then names the request behind every grant, which is how a double apply is caught.
      const signal = this.stopping.signal;
      if (op === 'acquire') handle = await session.lock(name, { timeoutMs, metadata: opId, signal });
      else if (op === 'tryAcquire') handle = await session.tryLock(name, { metadata: opId });
      else handle = await session.election(name).campaign(opId, { timeoutMs, signal });
    } catch (error) {
      history.record({ kind: 'fail', opId, client: clientId, op, code: errorCode(error), message: errorMessage(error) });
      return undefined;
    }
    if (handle === null) {
      history.record({ kind: 'ok', opId, client: clientId, op, session: session.id, name });
      return undefined;
    }
    // Seen, checked and registered in the same synchronous step as the reply: nothing slips in between.
    const hold = this.track(session, op === 'campaign' ? 'election' : 'lock', opId, handle);
    const otherValidHolds = this.options.resource.otherValidHolds(hold.tracked);
    this.options.resource.register(hold.tracked);
    history.record({ kind: 'ok', opId, client: clientId, op, session: handle.sessionId, name, token: Number(handle.token), otherValidHolds });
    if (recovering) this.grantsInRecovery++;
    return hold;
  }

  private track(session: Session, lockKind: 'lock' | 'election', opId: string, handle: Lock | Leadership): ActiveHold {
    const tracked: TrackedHold = { client: this.options.clientId, opId, lockKind, name: handle.name, token: handle.token, signal: handle.signal, session };
    const hold: ActiveHold = { tracked, handle, lettingGo: false };
    handle.signal.addEventListener('abort', () => {
      if (hold.lettingGo) return;
      const reason: unknown = handle.signal.reason;
      this.options.history.record({ kind: 'hold-lost', client: tracked.client, holdOpId: opId, name: tracked.name, token: Number(tracked.token), reason: reason instanceof Error ? reason.message : String(reason) });
    });
    return hold;
  }

  private async holdThenLetGo(session: Session, hold: ActiveHold): Promise<void> {
    const { random, resource, history } = this.options;
    // Most holds are short. Some outlast the session's TTL, so that a fault during one can make its
    // lease lapse mid-hold while the holder keeps writing: the case fencing exists for.
    // (Not in recovery, where every client must get a grant soon: a long hold would starve the others.)
    const outlastsLease = random.chance(0.2) && this.mode === 'chaos';
    this.currentHoldOutlastsLease = outlastsLease;
    const holdMs = outlastsLease ? random.between(Math.round(1.5 * session.ttlMs), 3 * session.ttlMs) : random.between(0, this.options.holdMaxMs);
    const writeCount = outlastsLease ? random.between(5, 10) : random.between(1, 4);
    const naive = random.chance(0.5);
    resource.write(hold.tracked);
    for (let written = 1; written < writeCount && !this.stopRequested && !(outlastsLease && this.mode === 'recovery'); written++) {
      await sleep(Math.floor(holdMs / writeCount));
      if (!naive && hold.handle.signal.aborted) break;
      resource.write(hold.tracked);
    }
    if (hold.tracked.lockKind === 'election' && random.chance(0.3) && !hold.handle.signal.aborted) await this.proclaim(hold);
    if (this.stopRequested && leaseIsValid(hold.tracked)) {
      const { tracked } = hold;
      history.record({ kind: 'kept', client: tracked.client, holdOpId: tracked.opId, session: session.id, lockKind: tracked.lockKind, name: tracked.name, token: Number(tracked.token) });
      this.keptHolds.push(hold);
      return;
    }
    hold.lettingGo = true;
    const fields = { session: session.id, name: hold.tracked.name, holdOpId: hold.tracked.opId, token: Number(hold.tracked.token) };
    if (random.chance(0.05)) {
      // Closing the session gives back everything it holds: that is an acknowledged release too.
      this.session = undefined;
      await this.call('close', fields, () => session.close());
      return;
    }
    const handle = hold.handle;
    if (hold.tracked.lockKind === 'lock') await this.call('release', fields, () => (handle as Lock).release());
    else await this.call('resign', fields, () => (handle as Leadership).resign());
  }

  private async proclaim(hold: ActiveHold): Promise<void> {
    const leadership = hold.handle as Leadership;
    const value = this.nextOpId();
    await this.call('proclaim', { session: hold.tracked.session.id, name: hold.tracked.name, holdOpId: hold.tracked.opId, token: Number(hold.tracked.token) }, () => leadership.proclaim(value), () => ({}), value);
  }

  /** One SDK call, recorded as invoke + ok/fail; resolves to its result, or undefined on failure. */
  private call<T>(op: OperationType, fields: CallFields, run: () => Promise<T>, okFields: (result: T) => { session?: string } = () => ({}), opId = this.nextOpId()): Promise<T | undefined> {
    return recordCall(this.options.history, { client: this.options.clientId, opId, op, fields }, run, okFields);
  }

  private nextOpId(): string {
    return `${this.options.clientId}.${++this.opSequence}`;
  }

  /** Each client enters the cluster through a different member first. */
  private rotatedEndpoints(): string[] {
    const endpoints = [...this.options.endpoints];
    const shift = Number(this.options.clientId.replace(/\D/g, '')) % endpoints.length;
    return [...endpoints.slice(shift), ...endpoints.slice(0, shift)];
  }
}
