// EventQueue: the simulation's only notion of time. A binary min-heap ordered by (time, insertion
// order), so events at the same virtual millisecond run in a fixed order and a seed replays exactly.

export interface ScheduledEvent<T> {
  readonly timeMs: number;
  readonly sequence: number;
  readonly event: T;
}

export class EventQueue<T> {
  private readonly heap: ScheduledEvent<T>[] = [];
  private nextSequence = 0;

  get size(): number {
    return this.heap.length;
  }

  push(timeMs: number, event: T): void {
    this.heap.push({ timeMs, sequence: this.nextSequence++, event });
    this.siftUp(this.heap.length - 1);
  }

  pop(): ScheduledEvent<T> | undefined {
    const top = this.heap[0];
    const last = this.heap.pop();
    if (top === undefined || last === undefined) return undefined;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private before(left: ScheduledEvent<T>, right: ScheduledEvent<T>): boolean {
    return left.timeMs < right.timeMs || (left.timeMs === right.timeMs && left.sequence < right.sequence);
  }

  private siftUp(position: number): void {
    const heap = this.heap;
    while (position > 0) {
      const parent = (position - 1) >> 1;
      const child = heap[position] as ScheduledEvent<T>;
      const above = heap[parent] as ScheduledEvent<T>;
      if (!this.before(child, above)) return;
      heap[position] = above;
      heap[parent] = child;
      position = parent;
    }
  }

  private siftDown(position: number): void {
    const heap = this.heap;
    for (;;) {
      const left = position * 2 + 1;
      const right = left + 1;
      let smallest = position;
      if (left < heap.length && this.before(heap[left] as ScheduledEvent<T>, heap[smallest] as ScheduledEvent<T>)) smallest = left;
      if (right < heap.length && this.before(heap[right] as ScheduledEvent<T>, heap[smallest] as ScheduledEvent<T>)) smallest = right;
      if (smallest === position) return;
      const moved = heap[position] as ScheduledEvent<T>;
      heap[position] = heap[smallest] as ScheduledEvent<T>;
      heap[smallest] = moved;
      position = smallest;
    }
  }
}
