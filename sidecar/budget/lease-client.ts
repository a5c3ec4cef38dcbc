// The sidecar's client of the controller's lease API (POST /v1/leases, POST /v1/leases/<id>/return).
// The bearer token is read from its file on every request, so a rotated projected service-account
// token is picked up without a restart. A budget refusal is an answer; everything else (no
// connection, a timeout, an unreadable token, an unexpected answer) is a LeaseUnavailable error,
// which the budget check turns into a fail-closed refusal.
import { readFile } from "node:fs/promises";
import { Pool } from "undici";

export interface LeaseClientOptions {
  /** The controller's base URL, e.g. https://intentgate-controller.intentgate-system:8443. */
  url: string;
  /** File holding the bearer token (the pod's projected service-account token). */
  tokenFile: string;
  /** PEM CA bundle for an https controller with its own CA. */
  ca?: string;
  timeoutMs?: number;
  connections?: number;
}

export interface SliceAsk {
  budget: string;
  key: string;
  holder: string;
  calls: number;
  cost?: number;
  minCost: number;
  /** The capability token carrying the ceiling, for the "token" budget: the controller reads the ceiling from it. */
  token?: string;
}

export interface GrantedSlice {
  id: string;
  calls: number;
  /** null: the budget has no cost ceiling. */
  cost: number | null;
  leaseMs: number;
}

/** A refusal with othersHolding: other replicas hold live slices of the key, whose unused part may come back. */
export type SliceAnswer = { ok: true; slice: GrantedSlice } | { ok: false; refusal: string; message: string; othersHolding: boolean };

export class LeaseUnavailable extends Error {
  /** Why: "unreachable", "token_unreadable", "bad_answer" or the API's error code. */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.reason = reason;
  }
}

const CEILING_CODES = new Set([
  "budget_agent_calls",
  "budget_agent_cost",
  "budget_tenant_calls",
  "budget_tenant_cost",
  "budget_token_calls",
  "budget_token_rate",
  "budget_token_cost",
]);

export class LeaseClient {
  readonly #pool: Pool;
  readonly #base: string;
  readonly #tokenFile: string;
  readonly #timeoutMs: number;

  constructor(options: LeaseClientOptions) {
    const url = new URL(options.url);
    this.#base = url.pathname.replace(/\/+$/, "");
    this.#tokenFile = options.tokenFile;
    this.#timeoutMs = options.timeoutMs ?? 2000;
    this.#pool = new Pool(url.origin, {
      connections: options.connections ?? 4,
      connectTimeout: this.#timeoutMs,
      pipelining: 1,
      ...(options.ca !== undefined ? { connect: { ca: options.ca } } : {}),
    });
  }

  async grant(ask: SliceAsk): Promise<SliceAnswer> {
    const { status, body } = await this.#post("/v1/leases", ask);
    if (status === 201) return { ok: true, slice: readSlice(body) };
    const error = readError(body);
    if (status === 409 && CEILING_CODES.has(error.code)) return { ok: false, refusal: error.code, message: error.message, othersHolding: error.othersHolding };
    throw new LeaseUnavailable(error.code, `lease refused (${status} ${error.code}): ${error.message}`);
  }

  async giveBack(id: string, used: { calls: number; cost: number }): Promise<void> {
    const { status, body } = await this.#post(`/v1/leases/${encodeURIComponent(id)}/return`, used);
    if (status === 200) return;
    const error = readError(body);
    throw new LeaseUnavailable(error.code, `return refused (${status} ${error.code}): ${error.message}`);
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  async #post(path: string, payload: object): Promise<{ status: number; body: unknown }> {
    let token: string;
    try {
      token = (await readFile(this.#tokenFile, "utf8")).trim();
    } catch (error) {
      throw new LeaseUnavailable("token_unreadable", `token file unreadable: ${(error as Error).message}`);
    }
    if (token === "") throw new LeaseUnavailable("token_unreadable", "token file is empty");
    let status: number;
    let text: string;
    try {
      const res = await this.#pool.request({
        path: this.#base + path,
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(payload),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (error) {
      throw new LeaseUnavailable("unreachable", `lease service unreachable: ${(error as Error).message}`);
    }
    try {
      return { status, body: JSON.parse(text) as unknown };
    } catch {
      throw new LeaseUnavailable("bad_answer", `lease service answered ${status} with a body that is not JSON`);
    }
  }
}

function readSlice(body: unknown): GrantedSlice {
  const b = body as Partial<GrantedSlice> | null;
  const valid =
    typeof b === "object" && b !== null && typeof b.id === "string" && Number.isInteger(b.calls) && (b.calls as number) >= 0 &&
    (b.cost === null || (typeof b.cost === "number" && b.cost >= 0)) && typeof b.leaseMs === "number" && b.leaseMs > 0;
  if (!valid) throw new LeaseUnavailable("bad_answer", "lease answer is malformed");
  return { id: b.id as string, calls: b.calls as number, cost: b.cost as number | null, leaseMs: b.leaseMs as number };
}

function readError(body: unknown): { code: string; message: string; othersHolding: boolean } {
  const e = (body as { error?: { code?: unknown; message?: unknown; othersHolding?: unknown } } | null)?.error;
  return { code: typeof e?.code === "string" ? e.code : "bad_answer", message: typeof e?.message === "string" ? e.message : "no error message", othersHolding: e?.othersHolding === true };
}
