// corkForBurst: frames written to one WebSocket within one callback (and the promise continuations it
// starts) leave in one writev.
//
// Why: every socket write is a syscall, and on loopback the sender also pays for delivering the
// bytes to the receiver; measured on the reference 2-core VM a write costs ~60 µs of CPU, more than
// encoding and handling a request. A busy member answers many requests of one connection per turn,
// and the SDK sends many requests per turn; corking the connection's socket for the rest of that burst
// turns those N writes into one. ws has no public cork: it writes each frame to its underlying
// net.Socket (`_socket`), which we cork and uncork around the burst. If that socket is not there (a
// ws change), frames simply go out one write each, as before.

interface Corkable {
  cork(): void;
  uncork(): void;
}

const corked = new WeakSet<Corkable>();

/** Cork the WebSocket's socket until the current callback's microtasks have run (idempotent meanwhile). */
export function corkForBurst(webSocket: object): void {
  const socket = (webSocket as { _socket?: Partial<Corkable> })._socket;
  if (socket === undefined || typeof socket.cork !== 'function' || typeof socket.uncork !== 'function') return;
  const corkable = socket as Corkable;
  if (corked.has(corkable)) return;
  corked.add(corkable);
  corkable.cork();
  // A microtask runs once the current callback and every promise continuation it started are done:
  // every frame queued while handling this batch of input (all the replies of one Ready, all the
  // requests made by the continuations of one batch of replies) goes out together, without waiting
  // for the next event-loop iteration.
  queueMicrotask(() => {
    corked.delete(corkable);
    corkable.uncork();
  });
}
