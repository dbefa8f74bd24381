// Election: leader election on one name for one session (SPEC §4): campaign() queues in the
// server's FIFO and resolves once elected, with a Leadership that carries the fencing token and a
// signal aborted the moment leadership may be lost; proclaim() changes the value without losing
// leadership; resign() steps down (or stops campaigning).

import { NotHolderError } from '@raftlock/protocol';
import type { ElectionLeader } from './views.js';
import type { HoldSignal } from './hold-signal.js';

export interface CampaignOptions {
  /**
   * Give up after this long: the campaign is cancelled and rejects with TimeoutError (code TIMEOUT),
   * unless it was elected before the cancel applied: then it resolves (so 0 wins an empty election).
   */
  readonly timeoutMs?: number;
  /** Give up when aborted (rejects with the signal's reason); the campaign is cancelled. */
  readonly signal?: AbortSignal;
}

/** What an Election needs from its session. */
export interface ElectionHost {
  campaign(name: string, value: string, options: CampaignOptions): Promise<Leadership>;
  proclaim(leadership: Leadership, value: string): Promise<void>;
  releaseHold(hold: Leadership): Promise<void>;
  electionLeader(name: string): Promise<ElectionLeader | null>;
  observe(name: string): AsyncIterableIterator<ElectionLeader | null>;
}

export class Leadership {
  readonly name: string;
  /** The fencing token of this term of leadership. */
  readonly token: bigint;
  readonly sessionId: string;
  private readonly holdSignal: HoldSignal;
  private currentValue: string;
  private resigned: Promise<void> | undefined;

  constructor(
    init: { readonly name: string; readonly token: bigint; readonly sessionId: string; readonly value: string; readonly holdSignal: HoldSignal },
    private readonly host: ElectionHost,
  ) {
    this.name = init.name;
    this.token = init.token;
    this.sessionId = init.sessionId;
    this.holdSignal = init.holdSignal;
    this.currentValue = init.value;
  }

  /** Aborted the moment leadership may be lost (resigned, lease lapsed, session lost or closed). */
  get signal(): AbortSignal {
    return this.holdSignal.signal;
  }

  get value(): string {
    return this.currentValue;
  }

  get isLeader(): boolean {
    return !this.holdSignal.ended;
  }

  async proclaim(value: string): Promise<void> {
    await this.host.proclaim(this, value);
    this.currentValue = value;
  }

  /** Step down. Idempotent. */
  resign(): Promise<void> {
    this.resigned ??= this.host.releaseHold(this);
    return this.resigned;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.resign();
  }
}

export class Election {
  private current: Leadership | undefined;
  private campaignAbort: AbortController | undefined;

  constructor(
    readonly name: string,
    private readonly host: ElectionHost,
  ) {}

  /** The leadership won by campaign(), while it lasts. */
  get leadership(): Leadership | undefined {
    return this.current?.isLeader ? this.current : undefined;
  }

  /** Queue for leadership; resolves once elected. */
  async campaign(value: string, options: CampaignOptions = {}): Promise<Leadership> {
    if (this.leadership) return this.leadership;
    const abort = new AbortController();
    this.campaignAbort = abort;
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;
    try {
      this.current = await this.host.campaign(this.name, value, { ...options, signal });
      return this.current;
    } finally {
      if (this.campaignAbort === abort) this.campaignAbort = undefined;
    }
  }

  /** Change the leader's value without losing leadership. */
  async proclaim(value: string): Promise<void> {
    const leadership = this.leadership;
    if (!leadership) throw new NotHolderError(`this session does not lead election ${JSON.stringify(this.name)}`);
    await leadership.proclaim(value);
  }

  /** Step down, or stop a campaign in progress. Idempotent. */
  async resign(): Promise<void> {
    this.campaignAbort?.abort(new DOMException(`resigned from election ${JSON.stringify(this.name)}`, 'AbortError'));
    await this.current?.resign();
  }

  /** The current leader (linearizable read), or null. */
  leader(): Promise<ElectionLeader | null> {
    return this.host.electionLeader(this.name);
  }

  /** Every change of leader or value, starting with the current one; see Client.observe. */
  observe(): AsyncIterableIterator<ElectionLeader | null> {
    return this.host.observe(this.name);
  }
}
