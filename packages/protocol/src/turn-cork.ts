// corkForTurn: frames written to one WebSocket within an event-loop turn leave in one writev.
//
// Why: every socket write is a syscall, and on loopback the sender also pays for delivering the
// bytes to the receiver; measured on the reference 2-core VM a write costs ~60 µs of CPU, more than
// encoding and handling a request. A busy member answers many requests of one connection per turn,
// and the SDK sends many requests per turn; corking the connection's socket for the rest of the turn
// turns those N writes into one. ws has no public cork: it writes each frame to its underlying
// net.Socket (`_socket`), which we cork and uncork around the turn. If that socket is not there (a
// ws change), frames simply go out one write each, as before.

interface Corkable {
  cork(): void;
  uncork(): void;
}

const corked = new WeakSet<Corkable>();

/** Cork the WebSocket's socket until the end of this turn (idempotent within a turn). */
export function corkForTurn(webSocket: object): void {
  const socket = (webSocket as { _socket?: Partial<Corkable> })._socket;
  if (socket === undefined || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return;
  const corkable = socket as Corkable;
  if (corked.has(corkable)) return;
  corked.add(corkable);
  corkable.cork();
  // setImmediate runs after this turn's I/O callbacks (the check phase): every frame queued while
  // handling this batch of input goes out together.
  setImmediate(() => {
    corked.delete(corkable);
    corkable.uncork();
  });
}
