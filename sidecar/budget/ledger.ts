// Exact sliding-window accounting. Node runs one call's check-and-reserve without interleaving, so
// a reservation is atomic: 50 concurrent calls against a 5-call ceiling reserve exactly 5.
// Memory is one entry per call still inside the longest window of its key.

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

export class MemoryBudgetLedger implements BudgetLedger {
  readonly #entries = new Map<string, Entry[]>();
  readonly #longest = new Map<string, number>();

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
    const taken: Array<[Entry[], Entry]> = [];
    const counted = new Set<string>();
    for (const { key, limits } of requests) {
      this.#longest.set(key, Math.max(this.#longest.get(key) ?? 0, ...limits.map((l) => l.window)));
    }
    for (const { key } of requests) {
      if (counted.has(key)) continue; // one call is one entry per key, however many ceilings name it
      counted.add(key);
      let list = this.#entries.get(key);
      if (list === undefined) this.#entries.set(key, (list = []));
      const entry: Entry = { at: nowMs, cost, released: false };
      list.push(entry);
      taken.push([list, entry]);
    }
    return {
      ok: true,
      release: () => {
        for (const [, entry] of taken) entry.released = true;
      },
    };
  }

  usage(key: string, windowSeconds: number, nowMs: number): Usage {
    const list = this.#entries.get(key);
    if (list === undefined) return { calls: 0, cost: 0 };
    this.#prune(key, list, nowMs);
    const since = nowMs - windowSeconds * 1000;
    let calls = 0;
    let cost = 0;
    for (let i = list.length - 1; i >= 0; i--) {
      const entry = list[i] as Entry;
      if (entry.at <= since) break;
      if (entry.released) continue;
      calls++;
      cost += entry.cost;
    }
    return { calls, cost };
  }

  #prune(key: string, list: Entry[], nowMs: number): void {
    const longest = this.#longest.get(key) ?? 0;
    if (!Number.isFinite(longest)) return;
    const since = nowMs - longest * 1000;
    let drop = 0;
    while (drop < list.length && (list[drop] as Entry).at <= since) drop++;
    if (drop > 0) list.splice(0, drop);
  }
}
