// LinkConditions: the state of every directed link the fault proxies carry, derived from the set of
// network faults the nemesis has active. A link is named by its two endpoints: member ids (n1, n2…)
// for Raft traffic, client ids (c1, c2…) for SDK traffic. Faults are added and removed as a whole,
// and each link's condition is recomputed from all active faults, so overlapping faults compose
// (cut wins, drop rates combine, the largest delay applies) and healing one never undoes another.
//
// Invariants: with no active fault every link is clean; a removed fault leaves no trace.

export interface DirectedLink {
  readonly from: string;
  readonly to: string;
}

export type LinkFault =
  | { readonly kind: 'cut'; readonly links: readonly DirectedLink[] }
  | { readonly kind: 'drop'; readonly links: readonly DirectedLink[]; readonly dropRate: number }
  | { readonly kind: 'delay'; readonly links: readonly DirectedLink[]; readonly delayMs: number; readonly jitterMs: number };

export interface LinkCondition {
  /** Nothing passes: frames are discarded, an HTTP handshake waits until the link heals. */
  readonly cut: boolean;
  /** Probability that a data frame is discarded. */
  readonly dropRate: number;
  readonly delayMs: number;
  readonly jitterMs: number;
}

export const cleanLink: LinkCondition = { cut: false, dropRate: 0, delayMs: 0, jitterMs: 0 };

const linkKey = (from: string, to: string): string => `${from}>${to}`;

export class LinkConditions {
  private readonly active = new Map<number, LinkFault>();
  private conditions = new Map<string, LinkCondition>();
  private readonly listeners = new Set<() => void>();
  private nextFaultId = 1;

  /** Activate a fault; returns the id that heals it. */
  add(fault: LinkFault): number {
    if (fault.kind === 'drop' && !(fault.dropRate >= 0 && fault.dropRate <= 1)) throw new RangeError(`drop rate ${fault.dropRate} is not a probability`);
    if (fault.kind === 'delay' && !(fault.delayMs >= 0 && fault.jitterMs >= 0)) throw new RangeError('delays are not negative');
    const faultId = this.nextFaultId++;
    this.active.set(faultId, fault);
    this.recompute();
    return faultId;
  }

  remove(faultId: number): void {
    if (!this.active.delete(faultId)) return;
    this.recompute();
  }

  clear(): void {
    this.active.clear();
    this.recompute();
  }

  get activeFaultCount(): number {
    return this.active.size;
  }

  conditionOf(from: string, to: string): LinkCondition {
    return this.conditions.get(linkKey(from, to)) ?? cleanLink;
  }

  /** Called after every change (the proxies release frames a cut was holding back). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private recompute(): void {
    const next = new Map<string, LinkCondition>();
    for (const fault of this.active.values()) {
      for (const link of fault.links) {
        const key = linkKey(link.from, link.to);
        const current = next.get(key) ?? cleanLink;
        next.set(key, combine(current, fault));
      }
    }
    this.conditions = next;
    for (const listener of [...this.listeners]) listener();
  }
}

function combine(current: LinkCondition, fault: LinkFault): LinkCondition {
  switch (fault.kind) {
    case 'cut':
      return { ...current, cut: true };
    case 'drop':
      // Two independent droppers in a row: a frame survives only if both let it through.
      return { ...current, dropRate: 1 - (1 - current.dropRate) * (1 - fault.dropRate) };
    case 'delay':
      return { ...current, delayMs: Math.max(current.delayMs, fault.delayMs), jitterMs: Math.max(current.jitterMs, fault.jitterMs) };
  }
}

/** Every directed link between the two groups, both ways. */
export function linksBetween(left: readonly string[], right: readonly string[]): DirectedLink[] {
  const links: DirectedLink[] = [];
  for (const from of left) for (const to of right) if (from !== to) links.push({ from, to }, { from: to, to: from });
  return links;
}

/** Every directed link from the sources to the targets (one way only). */
export function linksFrom(sources: readonly string[], targets: readonly string[]): DirectedLink[] {
  const links: DirectedLink[] = [];
  for (const from of sources) for (const to of targets) if (from !== to) links.push({ from, to });
  return links;
}
