// RetryingClient: what the SDK will do, in miniature, for the member tests: find the leader, follow
// NOT_LEADER, reconnect after a dropped connection, and retry every request with the SAME id until
// it gets a definitive answer — so a retry after a leader crash returns the original result.

import { nanoid } from 'nanoid';
import { isRetriable, type OperationArgs, type OperationName } from '@raftlock/protocol';
import { sleep, statusOf } from './local-cluster.js';
import { ProtocolClient, type Reply } from './protocol-client.js';

export class RetryingClient {
  private client: ProtocolClient | undefined;
  private address: string | undefined;

  constructor(private readonly addresses: () => readonly string[]) {}

  async call<Op extends OperationName>(op: Op, args: OperationArgs<Op>, options: { id?: string; deadlineMs?: number } = {}): Promise<Reply> {
    const id = options.id ?? nanoid();
    const deadline = Date.now() + (options.deadlineMs ?? 15_000);
    for (;;) {
      const client = await this.connection(deadline);
      const reply = await Promise.race([client.request(op, args, id), sleep(3000).then((): Reply => ({ ok: false, error: { code: 'TIMEOUT', message: 'no reply in 3 s' } }))]);
      if (reply.ok || !isRetriable(reply.error.code)) return reply;
      if (Date.now() > deadline) return reply;
      if (reply.error.code === 'NOT_LEADER' && reply.error.leader) this.switchTo(reply.error.leader);
      else this.drop();
      await sleep(20);
    }
  }

  close(): void {
    this.drop();
  }

  private switchTo(address: string): void {
    this.drop();
    this.address = address;
  }

  private drop(): void {
    this.client?.close();
    this.client = undefined;
    this.address = undefined;
  }

  private async connection(deadline: number): Promise<ProtocolClient> {
    while (!this.client || this.client.closeCode !== undefined) {
      this.client = undefined;
      const address = this.address ?? (await this.findLeader());
      if (address) {
        try {
          this.client = await ProtocolClient.connect(address);
          this.address = address;
          return this.client;
        } catch {
          this.address = undefined;
        }
      }
      if (Date.now() > deadline) throw new Error('no leader reachable before the deadline');
      await sleep(20);
    }
    return this.client;
  }

  private async findLeader(): Promise<string | undefined> {
    for (const address of this.addresses()) {
      const status = await statusOf(address);
      if (status?.role === 'leader') return address;
      if (typeof status?.leaderAddress === 'string') return status.leaderAddress;
    }
    return undefined;
  }
}
