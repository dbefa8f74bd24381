// ProtocolClient: a bare /v1/client connection for end-to-end tests of the member itself (the SDK
// has its own tests). Requests may carry an explicit id, so a test can retry "the same request".

import { nanoid } from 'nanoid';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, type ClientReply, type OperationArgs, type OperationName, type ServerPush, type WireError } from '@raftlock/protocol';

export type Reply = { ok: true; result: Record<string, unknown> } | { ok: false; error: WireError };

export class ProtocolClient {
  private readonly pending = new Map<string, (reply: Reply) => void>();
  readonly pushes: ServerPush[] = [];
  closeCode: number | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      const message = decodeFrame(data) as ClientReply | ServerPush;
      if ('watch' in message) {
        this.pushes.push(message);
        return;
      }
      const resolve = this.pending.get(message.id);
      this.pending.delete(message.id);
      resolve?.(message.ok ? { ok: true, result: message.result as Record<string, unknown> } : { ok: false, error: message.error });
    });
    socket.on('close', (code) => {
      this.closeCode = code;
      for (const resolve of this.pending.values()) resolve({ ok: false, error: { code: 'UNAVAILABLE', message: `connection closed (${code})` } });
      this.pending.clear();
    });
    socket.on('error', () => {});
  }

  /** A /v1/client socket: wss:// trusting tls.ca when given; token as the bearer token. */
  static async connect(address: string, options: { readonly tls?: { readonly ca: Buffer }; readonly token?: string } = {}): Promise<ProtocolClient> {
    const socket = new WebSocket(`${options.tls === undefined ? 'ws' : 'wss'}://${address}/v1/client`, {
      ...(options.tls === undefined ? {} : { ca: options.tls.ca }),
      ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new ProtocolClient(socket);
  }

  request<Op extends OperationName>(op: Op, args: OperationArgs<Op>, id: string = nanoid()): Promise<Reply> {
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.socket.send(encodeFrame({ id, op, args }), { binary: true });
    });
  }

  /** Send raw bytes (hostile-input tests). */
  sendRaw(bytes: Uint8Array | string, binary = true): void {
    this.socket.send(bytes, { binary });
  }

  waitForClose(): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve) => this.socket.once('close', (code) => resolve(code)));
  }

  close(): void {
    this.socket.terminate();
  }
}

export function expectOk(reply: Reply): Record<string, unknown> {
  if (!reply.ok) throw new Error(`expected success, got ${reply.error.code}: ${reply.error.message}`);
  return reply.result;
}
