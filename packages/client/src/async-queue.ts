// AsyncQueue: the push side of an async iterator (watch and observe streams). Bounded: a consumer
// that falls more than maxItems behind ends the stream with an error instead of growing memory
// without limit. Ending runs onClose once, whichever side ends first.

export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly takers: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void }[] = [];
  private ended = false;
  private failure: unknown = undefined;
  private closeHandled = false;

  constructor(
    private readonly maxItems: number,
    private readonly onClose: () => void,
  ) {
    if (!(maxItems > 0)) throw new RangeError('maxItems must be positive');
  }

  get isEnded(): boolean {
    return this.ended;
  }

  push(item: T): void {
    if (this.ended) return;
    const taker = this.takers.shift();
    if (taker) {
      taker.resolve({ value: item, done: false });
      return;
    }
    if (this.items.length >= this.maxItems) {
      this.fail(new Error(`the consumer fell more than ${this.maxItems} items behind; the stream was ended`));
      return;
    }
    this.items.push(item);
  }

  /** End the stream: buffered items are still delivered, then `done` (or the error). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = error;
    this.runOnClose();
    for (const taker of this.takers.splice(0)) {
      if (error === undefined) taker.resolve({ value: undefined, done: true });
      else taker.reject(error);
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.ended) {
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        return Promise.reject(failure);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.takers.push({ resolve, reject }));
  }

  /** The consumer stopped (break out of for-await): stop producing. */
  return(): Promise<IteratorResult<T>> {
    this.items.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private fail(error: Error): void {
    this.items.length = 0;
    this.end(error);
  }

  private runOnClose(): void {
    if (this.closeHandled) return;
    this.closeHandled = true;
    this.onClose();
  }
}
