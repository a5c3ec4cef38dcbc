// A token's own ceilings (`calls`, `rate`, `cost` caveats) after a restart. The first time the
// budget check meets a ceiling key it has not rebuilt, the calls allowed before start whose token
// ids hold the ceiling's scope (the hop that added it) are counted into the ledger, and only then
// does the call reserve. They come from the spool as it was at start (indexed once, by token id) and
// from the audit database (read for that id), deduplicated by stream and seq; calls after start are
// the ledger's own. A database that cannot be read refuses the call, and the next call tries again.
// A scope's spooled calls are let go once the keys met for it are rebuilt: a key of that scope met
// only later (a second token minted with the same id, or one extended without a hop) is counted
// from the database alone.
import type { AuditStore } from "../audit/store/types.ts";
import type { BudgetRequest, MemoryBudgetLedger } from "./ledger.ts";
import { callKey, READ_DEADLINE_MS, readStoredCalls, type RecordedCall } from "./recorded-calls.ts";

/** One token ceiling as the budget check reserves it. */
export interface TokenCeilingRequest extends BudgetRequest {
  /** The id of the hop that added the ceiling. */
  readonly scope: string;
  /** Seconds; Infinity for a `calls` ceiling. */
  readonly window: number;
  /**
   * Unix seconds before which no call can have used the token: its root's `issued_at` (also its
   * not-before) less the largest clock skew a sidecar allows. Bounds the read of a `calls` ceiling.
   */
  readonly usableFrom: number;
}

export interface TokenReplayOptions {
  ledger: MemoryBudgetLedger;
  /** The spool's allowed calls at start. */
  spooled: readonly RecordedCall[];
  /** The audit database, when one is configured. */
  store: Pick<AuditStore, "exportRecords"> | undefined;
  tenant: string;
  agent: string;
  /** Unix milliseconds: the database is read for calls before this instant. */
  startedAt: number;
  /** This sidecar's stream and its last seq at start: its later records are calls the ledger counted live. */
  own: { stream: string; seq: number };
  deadlineMs?: number;
}

export class TokenCeilingReplay {
  readonly #o: TokenReplayOptions;
  /** Spooled calls by every token id they carry, until the keys of that id are rebuilt. */
  readonly #spooled = new Map<string, RecordedCall[]>();
  /** Keys met per scope: a scope's spooled calls are dropped once every one of them is rebuilt. */
  readonly #met = new Map<string, Set<string>>();
  readonly #done = new Set<string>();
  readonly #running = new Map<string, Promise<void>>();

  constructor(options: TokenReplayOptions) {
    this.#o = options;
    for (const call of options.spooled) {
      for (const id of call.tokenIds) {
        const calls = this.#spooled.get(id);
        if (calls === undefined) this.#spooled.set(id, [call]);
        else calls.push(call);
      }
    }
  }

  /**
   * Undefined when every ceiling of the call is rebuilt (the hot path); otherwise a promise that
   * resolves once they are and rejects when the database cannot be read.
   */
  ready(requests: readonly TokenCeilingRequest[], nowMs: number): Promise<void> | undefined {
    let waits: Array<Promise<void>> | undefined;
    for (const request of requests) {
      if (this.#done.has(request.key)) continue;
      const wait = this.#rebuild(request, nowMs);
      if (wait !== undefined) (waits ??= []).push(wait);
    }
    return waits && Promise.all(waits).then(() => undefined);
  }

  #rebuild(request: TokenCeilingRequest, nowMs: number): Promise<void> | undefined {
    const running = this.#running.get(request.key);
    if (running !== undefined) return running;
    let met = this.#met.get(request.scope);
    if (met === undefined) this.#met.set(request.scope, (met = new Set()));
    met.add(request.key);
    // Strictly after `since` counts: one millisecond earlier keeps a call at exactly usableFrom.
    const since = Math.max(Number.isFinite(request.window) ? nowMs - request.window * 1000 : -Infinity, request.usableFrom * 1000 - 1);
    // Taken now, before any await: a concurrent rebuild may drop the scope's entry.
    const spooled = this.#spooled.get(request.scope) ?? [];
    const store = this.#o.store;
    if (store === undefined) {
      this.#replay(request, spooled, [], since);
      return undefined;
    }
    const { tenant, agent, startedAt } = this.#o;
    const rows = store.exportRecords({
      tenant,
      agent,
      disposition: "allowed",
      tokenId: request.scope,
      to: new Date(startedAt),
      ...(Number.isFinite(since) ? { from: new Date(since) } : {}),
    });
    const rebuilt = readStoredCalls(rows, tenant, agent, this.#o.deadlineMs ?? READ_DEADLINE_MS)
      .then((stored) => this.#replay(request, spooled, stored, since))
      .finally(() => this.#running.delete(request.key));
    this.#running.set(request.key, rebuilt);
    return rebuilt;
  }

  #replay(request: TokenCeilingRequest, spooled: readonly RecordedCall[], stored: readonly RecordedCall[], since: number): void {
    const { own } = this.#o;
    const calls = new Map<string, RecordedCall>();
    for (const call of stored) if (call.stream !== own.stream || call.seq <= own.seq) calls.set(callKey(call), call);
    for (const call of spooled) calls.set(callKey(call), call);
    const counted = [...calls.values()].filter((c) => c.at > since).sort((a, b) => a.at - b.at);
    for (const call of counted) this.#o.ledger.replay([request], call.cost, call.at);
    this.#done.add(request.key);
    const met = this.#met.get(request.scope);
    if (met !== undefined && [...met].every((key) => this.#done.has(key))) {
      this.#spooled.delete(request.scope);
      this.#met.delete(request.scope);
    }
  }
}
