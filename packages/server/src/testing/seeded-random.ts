// SeededRandom: a small, fast, reproducible PRNG (sfc32 seeded through splitmix32). One seed gives
// the same stream on every machine, which is what lets `pnpm sim --seed N` replay a failure exactly.

import { assert } from '../assert.js';
import type { Random } from '../raft/ports.js';

function splitmix32(state: number): () => number {
  let value = state >>> 0;
  return () => {
    value = (value + 0x9e3779b9) >>> 0;
    let mixed = value;
    mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b) >>> 0;
    mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35) >>> 0;
    return (mixed ^ (mixed >>> 16)) >>> 0;
  };
}

export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(readonly seed: number) {
    assert(Number.isInteger(seed) && seed >= 0, 'seed is a non-negative integer');
    const next = splitmix32(seed);
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let warmUp = 0; warmUp < 12; warmUp++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  nextInt(maxExclusive: number): number {
    assert(Number.isInteger(maxExclusive) && maxExclusive > 0, 'nextInt bound is a positive integer');
    return Math.floor(this.nextFloat() * maxExclusive);
  }

  /** Uniform in [0, 1). */
  nextFloat(): number {
    return this.nextUint32() / 0x1_0000_0000;
  }

  chance(probability: number): boolean {
    return this.nextFloat() < probability;
  }

  between(minInclusive: number, maxInclusive: number): number {
    return minInclusive + this.nextInt(maxInclusive - minInclusive + 1);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.nextInt(items.length)];
    assert(item !== undefined || items.length > 0, 'pick from a non-empty list');
    return item as T;
  }

  /** An independent stream derived from this one (e.g. one per simulated member). */
  fork(): SeededRandom {
    return new SeededRandom(this.nextUint32());
  }
}
