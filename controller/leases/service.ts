// The lease ledger: grants slices of a budget key, takes back what holders did not use, and says how
// much of a key is used. Grants of one key are serialised by a row lock on its intentgate_budget_keys
// row, so controller replicas sharing the database never grant the same headroom twice. A slice
// counts from its grant until grant + lease + window (a call made at the last moment of the lease
// still counts for a whole window after it), or, once returned, as what was used until
// return + window. A lifetime ceiling (a token's calls) has no window: its slices count until the
// token can no longer be accepted. An unreturned lease counts in full until then: a crashed holder
// can only waste.
import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { LeaseBudget } from "./budget.ts";
import { databaseClock, openPool, transaction, type Clock } from "./db.ts";
import { migrateLeases } from "./schema.ts";
import { sizeSlice } from "./sizing.ts";

export interface LeaseServiceOptions {
  /** A connection string (the service owns its pool) or a pool the caller owns. */
  database: string | pg.Pool;
  /** How long a lease lives; holders return unused parts before this. Default 30 s. */
  leaseSeconds?: number;
  /** Unix ms; default PostgreSQL's clock (tests pass their own to move time). */
  now?: () => number;
  onIdleError?: (error: Error) => void;
}

export interface Holder {
  tenant: string;
  agent: string;
  /** One sidecar process: the unit fair shares are counted in. */
  holder: string;
}

export interface GrantRequest extends Holder {
  budget: LeaseBudget;
  key: string;
  calls: number;
  cost?: number | undefined;
  minCost: number;
}

export interface Lease {
  id: string;
  budget: string;
  key: string;
  calls: number;
  /** null: no cost ceiling, spend freely. */
  cost: number | null;
  grantedAt: number;
  expiresAt: number;
  leaseMs: number;
}

/** A refusal says whether other holders still hold live slices of the key: their unused part may come back soon. */
export type GrantResult = { ok: true; lease: Lease } | { ok: false; code: string; message: string; othersHolding: boolean };

export interface Usage {
  calls: number;
  cost: number;
}

export type ReturnResult = { ok: true; returned: Usage } | { ok: false; code: "unknown_lease" | "lease_expired" | "invalid_usage"; message: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// What counts now: returned slices as used, others as granted (cost NULL counts nothing).
const COUNTED = `
  SELECT coalesce(sum(CASE WHEN state = 'returned' THEN used_calls ELSE calls END), 0)::float8 AS calls,
         coalesce(sum(CASE WHEN state = 'returned' THEN coalesce(used_cost, 0) ELSE coalesce(cost, 0) END), 0)::float8 AS cost,
         count(DISTINCT holder) FILTER (WHERE state = 'active' AND expires_at > $3 AND holder <> $4)::int AS others
    FROM intentgate_budget_leases
   WHERE budget = $1 AND key = $2 AND counts_until > $3`;

/**
 * How long a slice counts: lease + window; for a lifetime ceiling (no window), until the ceiling's
 * `until` and at least its lease, with window_ms NULL so that a return never shortens it
 * (least() ignores the NULL the return's arithmetic gives).
 */
function countingSpan(budget: LeaseBudget, leaseExpiresAt: number): { windowMs: number | null; countsUntil: Date | "infinity" } {
  if (Number.isFinite(budget.windowSeconds)) return { windowMs: budget.windowSeconds * 1000, countsUntil: new Date(leaseExpiresAt + budget.windowSeconds * 1000) };
  const until = Math.max(budget.until ?? Infinity, leaseExpiresAt);
  return { windowMs: null, countsUntil: Number.isFinite(until) ? new Date(until) : "infinity" };
}

export class LeaseService {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #leaseMs: number;
  readonly #clock: Clock;
  #sweeper: NodeJS.Timeout | undefined;

  private constructor(pool: pg.Pool, ownsPool: boolean, options: LeaseServiceOptions) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#leaseMs = Math.round((options.leaseSeconds ?? 30) * 1000);
    const now = options.now;
    this.#clock = now === undefined ? databaseClock : () => Promise.resolve(now());
  }

  /** Opens the pool and applies the ledger's migrations (idempotent; safe from many replicas at once). */
  static async open(options: LeaseServiceOptions): Promise<LeaseService> {
    const owns = typeof options.database === "string";
    const pool = typeof options.database === "string" ? openPool(options.database, options.onIdleError ?? (() => undefined)) : options.database;
    try {
      await migrateLeases(pool);
    } catch (error) {
      if (owns) await pool.end();
      throw error;
    }
    return new LeaseService(pool, owns, options);
  }

  get leaseMs(): number {
    return this.#leaseMs;
  }

  async grant(request: GrantRequest): Promise<GrantResult> {
    const { budget, key } = request;
    return transaction(this.#pool, async (c) => {
      await c.query("INSERT INTO intentgate_budget_keys (budget, key) VALUES ($1, $2) ON CONFLICT DO NOTHING", [budget.name, key]);
      await c.query("SELECT 1 FROM intentgate_budget_keys WHERE budget = $1 AND key = $2 FOR UPDATE", [budget.name, key]);
      // After the lock: this statement's snapshot sees every grant committed before ours.
      const now = await this.#clock(c);
      const row = (await c.query<{ calls: number; cost: number; others: number }>(COUNTED, [budget.name, key, new Date(now), request.holder])).rows[0];
      const counted = { calls: Number(row?.calls ?? 0), cost: Number(row?.cost ?? 0), otherHolders: Number(row?.others ?? 0) };
      const sized = sizeSlice(budget, counted, { calls: request.calls, cost: request.cost, minCost: request.minCost });
      if (!sized.ok) {
        const span = Number.isFinite(budget.windowSeconds) ? `per ${budget.windowSeconds}s` : "for life";
        return { ok: false, code: budget.refusal ?? `budget_${budget.scope}_${sized.ceiling}`, message: `${sized.ceiling} ceiling ${sized.max} ${span} of ${budget.name} reached for ${key}`, othersHolding: counted.otherHolders > 0 };
      }
      const lease: Lease = { id: randomUUID(), budget: budget.name, key, calls: sized.calls, cost: sized.cost, grantedAt: now, expiresAt: now + this.#leaseMs, leaseMs: this.#leaseMs };
      const { windowMs, countsUntil } = countingSpan(budget, lease.expiresAt);
      await c.query(
        `INSERT INTO intentgate_budget_leases (id, budget, key, tenant, agent, holder, state, granted_at, expires_at, counts_until, window_ms, calls, cost)
         VALUES ($1, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10, $11, $12)`,
        [lease.id, budget.name, key, request.tenant, request.agent, request.holder, new Date(now), new Date(lease.expiresAt), countsUntil, windowMs, lease.calls, lease.cost],
      );
      return { ok: true, lease };
    });
  }

  /**
   * Takes back a lease's unused part: from now it counts as `used`, until now + window. Returning
   * twice answers the first return again. After expiry a lease counts in full: the holder may have
   * used it until its last moment, and its report is too late to shrink that.
   */
  async returnLease(id: string, who: { tenant: string; agent: string }, used: Usage): Promise<ReturnResult> {
    if (!UUID.test(id)) return { ok: false, code: "unknown_lease", message: "no such lease" };
    return transaction(this.#pool, async (c) => {
      const row = (
        await c.query<{ tenant: string; agent: string; state: string; expires_at: Date; calls: number; cost: number | null; used_calls: number | null; used_cost: number | null }>(
          "SELECT tenant, agent, state, expires_at, calls, cost, used_calls, used_cost FROM intentgate_budget_leases WHERE id = $1 FOR UPDATE",
          [id],
        )
      ).rows[0];
      // Another identity's lease is indistinguishable from none.
      if (row === undefined || row.tenant !== who.tenant || row.agent !== who.agent) return { ok: false, code: "unknown_lease", message: "no such lease" };
      if (row.state === "returned") return { ok: true, returned: { calls: Number(row.used_calls), cost: Number(row.used_cost ?? 0) } };
      const now = await this.#clock(c);
      if (row.state === "expired" || row.expires_at.getTime() <= now) return { ok: false, code: "lease_expired", message: "the lease expired and counts in full" };
      if (used.calls > row.calls || (row.cost !== null && used.cost > row.cost)) {
        return { ok: false, code: "invalid_usage", message: `used (${used.calls} calls, cost ${used.cost}) exceeds the lease (${row.calls} calls, cost ${row.cost ?? "unlimited"})` };
      }
      await c.query(
        `UPDATE intentgate_budget_leases
            SET state = 'returned', used_calls = $2, used_cost = $3, returned_at = $4,
                counts_until = least(counts_until, $4::timestamptz + window_ms * interval '1 millisecond')
          WHERE id = $1`,
        [id, used.calls, used.cost, new Date(now)],
      );
      return { ok: true, returned: used };
    });
  }

  /** What counts against a key now (for Budget status): an upper bound while leases are out. */
  async usage(budget: string, key: string): Promise<Usage> {
    return transaction(this.#pool, async (c) => {
      const now = await this.#clock(c);
      const row = (await c.query<{ calls: number; cost: number }>(COUNTED, [budget, key, new Date(now), ""])).rows[0];
      return { calls: Number(row?.calls ?? 0), cost: Number(row?.cost ?? 0) };
    });
  }

  /** Marks unreturned leases past their expiry as expired; deletes rows that no longer count. */
  async sweep(): Promise<{ expired: number; deleted: number }> {
    return transaction(this.#pool, async (c) => {
      const now = new Date(await this.#clock(c));
      const expired = await c.query("UPDATE intentgate_budget_leases SET state = 'expired' WHERE state = 'active' AND expires_at <= $1", [now]);
      const deleted = await c.query("DELETE FROM intentgate_budget_leases WHERE counts_until <= $1", [now]);
      return { expired: expired.rowCount ?? 0, deleted: deleted.rowCount ?? 0 };
    });
  }

  /** Sweeps every `intervalMs` until close; errors go to `onError` (the next sweep retries). */
  sweepEvery(intervalMs: number, onError: (error: Error) => void): void {
    clearInterval(this.#sweeper);
    this.#sweeper = setInterval(() => void this.sweep().catch(onError), intervalMs);
    this.#sweeper.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    if (this.#ownsPool) await this.#pool.end();
  }
}
