// Exact sliding-window accounting. Node runs one call's check-and-reserve without interleaving, so
// a reservation is atomic: 50 concurrent calls against a 5-call ceiling reserve exactly 5.
// Each key keeps its calls in time order plus, per window length, running totals and the index of
// the oldest call still inside: a lookup only steps past calls that have just left the window, so
// its cost does not grow with the number of calls in it. Memory is one entry per call still inside
// the longest window of its key.

export interface Limit {
  /** Which ceiling this is, used as the refusal code (e.g. budget_agent_calls). */
  code: string;
  kind: "calls" | "cost";
  max: number;
  /** Seconds; Infinity for a lifetime ceiling. */
  window: number;
}

export interface BudgetRequest {
  key: string;
  limits: readonly Limit[];
}

export type ReserveResult =
  | { ok: true; release(): void }
  | { ok: false; code: string; message: string };

export interface Usage {
  calls: number;
  cost: number;
}

/** The port the budget check talks to; the in-memory ledger serves standalone mode. */
export interface BudgetLedger {
  reserve(requests: readonly BudgetRequest[], cost: number, nowMs: number): ReserveResult;
  usage(key: string, windowSeconds: number, nowMs: number): Usage;
}

interface Entry {
  at: number;
  cost: number;
  released: boolean;
}

/** Running totals of one key over one window length. */
interface WindowTotals {
  ms: number;
  /** Absolute index (see KeyLog.dropped) of the oldest entry inside the window. */
  start: number;
  calls: number;
  cost: number;
}

class KeyLog {
  entries: Entry[] = [];
  /** How many entries were removed from the front of `entries` so far. */
  dropped = 0;
  readonly windows = new Map<number, WindowTotals>();

  totals(windowSeconds: number, nowMs: number): WindowTotals {
    let w = this.windows.get(windowSeconds);
    if (w === undefined) {
      // A window asked for the first time: count what it holds once; later calls only step.
      w = { ms: windowSeconds * 1000, start: this.dropped, calls: 0, cost: 0 };
      for (const e of this.entries) {
        if (!e.released) {
          w.calls++;
          w.cost += e.cost;
        }
      }
      this.windows.set(windowSeconds, w);
    }
    const since = nowMs - w.ms;
    while (w.start - this.dropped < this.entries.length) {
      const e = this.entries[w.start - this.dropped] as Entry;
      if (e.at > since) break;
      if (!e.released) {
        w.calls--;
        w.cost -= e.cost;
      }
      w.start++;
    }
    if (w.calls === 0) w.cost = 0; // keep float sums from drifting when a window empties
    return w;
  }

  add(entry: Entry): void {
    this.entries.push(entry);
    for (const w of this.windows.values()) {
      w.calls++;
      w.cost += entry.cost;
    }
  }

  release(entry: Entry): void {
    if (entry.released) return;
    entry.released = true;
    const index = this.entries.indexOf(entry) + this.dropped;
    if (index < this.dropped) return;
    for (const w of this.windows.values()) {
      if (index >= w.start) {
        w.calls--;
        w.cost -= entry.cost;
      }
    }
  }

  /** Drops entries that every window has stepped past. */
  compact(): void {
    if (this.windows.size === 0) return;
    let oldest = Infinity;
    for (const w of this.windows.values()) oldest = Math.min(oldest, w.start);
    const drop = oldest - this.dropped;
    if (drop > 1024 && drop * 2 > this.entries.length) {
      this.entries = this.entries.slice(drop);
      this.dropped = oldest;
    }
  }
}

export class MemoryBudgetLedger implements BudgetLedger {
  readonly #keys = new Map<string, KeyLog>();

  reserve(requests: readonly BudgetRequest[], cost: number, nowMs: number): ReserveResult {
    for (const { key, limits } of requests) {
      for (const limit of limits) {
        const used = this.usage(key, limit.window, nowMs);
        const after = limit.kind === "calls" ? used.calls + 1 : used.cost + cost;
        if (after > limit.max) {
          const span = Number.isFinite(limit.window) ? ` per ${limit.window}s` : "";
          return { ok: false, code: limit.code, message: `${limit.kind} ceiling ${limit.max}${span} reached for ${key}` };
        }
      }
    }
    const taken: Array<[KeyLog, Entry]> = [];
    const counted = new Set<string>();
    // Every ceiling's window exists before the entry is added, so compaction never drops an entry a
    // ceiling of the key still counts.
    for (const { key, limits } of requests) for (const limit of limits) this.#log(key).totals(limit.window, nowMs);
    for (const { key } of requests) {
      if (counted.has(key)) continue; // one call is one entry per key, however many ceilings name it
      counted.add(key);
      const log = this.#log(key);
      const entry: Entry = { at: nowMs, cost, released: false };
      log.add(entry);
      log.compact();
      taken.push([log, entry]);
    }
    return {
      ok: true,
      release: () => {
        for (const [log, entry] of taken) log.release(entry);
      },
    };
  }

  /**
   * Counts a call made before this ledger existed (start-up replay of recorded decisions), without
   * checking ceilings. Calls must be replayed in time order, before any live reservation.
   */
  replay(requests: readonly BudgetRequest[], cost: number, atMs: number): void {
    for (const { key, limits } of requests) for (const limit of limits) this.#log(key).totals(limit.window, atMs);
    const counted = new Set<string>();
    for (const { key } of requests) {
      if (counted.has(key)) continue;
      counted.add(key);
      const log = this.#log(key);
      log.add({ at: atMs, cost, released: false });
      log.compact();
    }
  }

  usage(key: string, windowSeconds: number, nowMs: number): Usage {
    const log = this.#keys.get(key);
    if (log === undefined) return { calls: 0, cost: 0 };
    const w = log.totals(windowSeconds, nowMs);
    return { calls: w.calls, cost: w.cost };
  }

  #log(key: string): KeyLog {
    let log = this.#keys.get(key);
    if (log === undefined) this.#keys.set(key, (log = new KeyLog()));
    return log;
  }
}
