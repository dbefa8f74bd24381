// WireConnection: a bare /v1/client WebSocket for hostile-input tests. It sends whatever it is given
// (bytes that are not msgpack, text frames, oversize frames) and records everything that comes back:
// replies by request id (the ones refused without a usable id come back under ""), pushes, and the
// close code. Nothing here decodes with anything but the protocol's own decodeFrame.

import { decodeFrame } from '@raftlock/protocol';
import WebSocket from 'ws';

export interface WireReply {
  readonly id: string;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: { readonly code: string; readonly message: string };
}

export class WireConnection {
  readonly replies = new Map<string, WireReply>();
  /** Replies to requests whose id was unusable: the member answers them under "". */
  readonly anonymousReplies: WireReply[] = [];
  pushCount = 0;
  /** Frames from the member that were not one msgpack value, or neither reply nor push: must stay 0. */
  undecodable = 0;
  closeCode: number | undefined;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer) => {
      let message: unknown;
      try {
        message = decodeFrame(new Uint8Array(data));
      } catch {
        this.undecodable += 1;
        return this.wake();
      }
      const record = message as Record<string, unknown>;
      if (typeof record === 'object' && record !== null && typeof record.watch === 'string') this.pushCount += 1;
      else if (typeof record === 'object' && record !== null && typeof record.id === 'string' && typeof record.ok === 'boolean') {
        const reply = record as unknown as WireReply;
        if (reply.id === '') this.anonymousReplies.push(reply);
        else this.replies.set(reply.id, reply);
      } else this.undecodable += 1;
      this.wake();
    });
    socket.on('close', (code: number) => {
      this.closeCode = code;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async open(address: string, token: string | undefined): Promise<WireConnection> {
    const socket = new WebSocket(`ws://${address}/v1/client`, {
      // Our own frames may be far over the member's limit: let the member be the one to refuse them.
      maxPayload: 64 * 1024 * 1024,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new WireConnection(socket);
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  send(frame: Uint8Array | string, binary = true): void {
    this.socket.send(frame, { binary });
  }

  /** Resolves once check() holds, the connection closed, or timeoutMs passed; returns whether check() held. */
  async until(check: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      if (this.closeCode !== undefined || performance.now() > deadline) return check();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, deadline - performance.now()));
        this.waiters.add(done);
        function done() {
          clearTimeout(timer);
          resolve();
        }
      });
    }
    return true;
  }

  close(): void {
    this.socket.terminate();
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter();
  }
}
