import { describe, expect, test } from 'vitest';
import { corkForBurst } from './burst-cork.js';

function fakeWebSocket(): { _socket: { corks: number; uncorks: number; cork(): void; uncork(): void } } {
  const socket = {
    corks: 0,
    uncorks: 0,
    cork() {
      socket.corks++;
    },
    uncork() {
      socket.uncorks++;
    },
  };
  return { _socket: socket };
}

describe('corkForBurst', () => {
  test('frames sent in one burst (replies resolved together) are corked once, and uncorked once they are all sent', async () => {
    const webSocket = fakeWebSocket();
    const applied = Promise.resolve(); // several requests answered by the same applied entries
    const sends = [applied.then(() => corkForBurst(webSocket)), applied.then(() => corkForBurst(webSocket)), applied.then(() => corkForBurst(webSocket))];
    await Promise.all(sends);
    expect(webSocket._socket.corks).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(webSocket._socket.uncorks).toBe(1);
  });

  test('the next burst corks again', async () => {
    const webSocket = fakeWebSocket();
    corkForBurst(webSocket);
    await new Promise((resolve) => setImmediate(resolve));
    corkForBurst(webSocket);
    await new Promise((resolve) => setImmediate(resolve));
    expect(webSocket._socket).toMatchObject({ corks: 2, uncorks: 2 });
  });

  test('a WebSocket without an underlying socket is left alone', () => {
    expect(() => corkForBurst({})).not.toThrow();
  });
});
