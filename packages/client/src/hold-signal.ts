// HoldSignal: the AbortSignal of one held lock or leadership, made only when the application asks
// for it. A hold ends (released, lease lapsed, session lost) far more often than anyone listens:
// with a busy worker taking thousands of locks a second, an AbortController and a DOMException per
// lock were a measurable share of the SDK's CPU. Until `signal` is read, ending costs a flag; once
// read, the signal is a real one, aborted now or later with the same reason.
//
// Invariants: once ended, always ended, with the first reason given; `signal` returns the same
// AbortSignal every time, and it is aborted exactly when the hold has ended.

export class HoldSignal {
  private controller: AbortController | undefined;
  private endReason: (() => unknown) | undefined;

  /** The hold's AbortSignal (created on first use, already aborted if the hold has ended). */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.endReason !== undefined) this.controller.abort(this.endReason());
    }
    return this.controller.signal;
  }

  get ended(): boolean {
    return this.endReason !== undefined;
  }

  /** End the hold; reason is made (once) only if someone holds or later asks for the signal. */
  end(reason: () => unknown): void {
    if (this.endReason !== undefined) return;
    let made: { value: unknown } | undefined;
    this.endReason = () => (made ??= { value: reason() }).value;
    this.controller?.abort(this.endReason());
  }
}
