// Production randomness for the Raft core's election timeouts.

import { randomInt } from 'node:crypto';
import type { Random } from '../raft/ports.js';

export class CryptoRandom implements Random {
  nextInt(maxExclusive: number): number {
    return randomInt(maxExclusive);
  }
}
