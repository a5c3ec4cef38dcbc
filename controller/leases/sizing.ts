// How big a slice a holder gets. Far from the ceiling a holder gets what it asks for, so it rarely
// comes back; near the ceiling slices shrink to a share of what is left, split between the
// holders that have live leases on the key (the asker included) and halved again, so the last
// calls are spread across replicas instead of sitting unused in one of them. A slice is never
// smaller than one call (or the asking call's cost), and never more than what is left.

export interface Ceilings {
  calls?: number | undefined;
  cost?: number | undefined;
}

/** What already counts against the key now, and how many other holders have live leases on it. */
export interface Counted {
  calls: number;
  cost: number;
  otherHolders: number;
}

export interface Want {
  calls: number;
  /** Cost wanted; defaults to the asking call's cost times the calls wanted. */
  cost?: number | undefined;
  /** The cost of the call waiting for this slice: a smaller cost slice could not serve it. */
  minCost: number;
}

export type Sized = { ok: true; calls: number; cost: number | null } | { ok: false; ceiling: "calls" | "cost"; max: number; counted: number };

export function sizeSlice(ceilings: Ceilings, counted: Counted, want: Want): Sized {
  const holders = counted.otherHolders + 1;
  let calls = want.calls;
  if (ceilings.calls !== undefined) {
    const left = ceilings.calls - counted.calls;
    if (left < 1) return { ok: false, ceiling: "calls", max: ceilings.calls, counted: counted.calls };
    calls = Math.min(left, Math.max(1, Math.min(want.calls, Math.floor(left / (2 * holders)))));
  }
  let cost: number | null = null;
  if (ceilings.cost !== undefined) {
    const left = ceilings.cost - counted.cost;
    if (left < want.minCost || left < 0) return { ok: false, ceiling: "cost", max: ceilings.cost, counted: counted.cost };
    const wanted = want.cost ?? want.minCost * want.calls;
    cost = Math.min(left, Math.max(want.minCost, Math.min(wanted, left / (2 * holders))));
  }
  return { ok: true, calls, cost };
}
