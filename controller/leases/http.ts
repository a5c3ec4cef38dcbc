// The lease API sidecars call: POST /v1/leases takes a slice, POST /v1/leases/<id>/return gives back
// what was not used. JSON in and out; every refusal is {error: {code, message}} with a stable code
// (docs/kubernetes/budgets.md lists them). The caller is authenticated first; an identity may take
// slices only of its own agent key and of its tenant's tenant key, of its own tenant's budgets.
import type { IncomingMessage, ServerResponse } from "node:http";
import { keyFor, type BudgetLookup, type LeaseBudget } from "./budget.ts";
import type { LeaseService } from "./service.ts";
import { readGrant, readReturn, readJsonBody, RequestError } from "./requests.ts";
import { tokenCeilingBudget, TOKEN_BUDGET, type TenantKeys } from "./token-ceiling.ts";

export interface Identity {
  tenant: string;
  /** "<namespace>/<serviceaccount>". */
  agent: string;
  /** The caller's pod labels, for budgets that select agents by label. */
  podLabels?: Record<string, string>;
}

export interface LeaseHttpDeps {
  service: Pick<LeaseService, "grant" | "returnLease">;
  budgets: BudgetLookup;
  /** The tenants' key rings, to verify the tokens whose own ceilings are leased. */
  tenantKeys: TenantKeys;
  /** Resolves the caller (in the cluster: its service-account token, by TokenReview); throws when it cannot. */
  authenticate: (req: IncomingMessage) => Promise<Identity>;
  /** Ledger failures, for the log; the caller gets ledger_unavailable. */
  onError?: (error: Error) => void;
}

const RETURN_PATH = /^\/v1\/leases\/([A-Za-z0-9-]{1,64})\/return$/;

export function createLeaseHandler(deps: LeaseHttpDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    try {
      const path = new URL(req.url ?? "/", "http://leases").pathname;
      const returning = RETURN_PATH.exec(path);
      if (path !== "/v1/leases" && returning === null) throw new RequestError(404, "not_found", `no route ${path}`);
      if (req.method !== "POST") throw new RequestError(405, "method_not_allowed", "use POST");
      let who: Identity;
      try {
        who = await deps.authenticate(req);
      } catch (error) {
        throw new RequestError(401, "unauthenticated", (error as Error).message);
      }
      const body = await readJsonBody(req);
      if (returning === null) await grant(deps, who, body, res);
      else await giveBack(deps, who, returning[1] as string, body, res);
    } catch (error) {
      if (error instanceof RequestError) return send(res, error.status, { error: { code: error.code, message: error.message, ...error.details } });
      deps.onError?.(error as Error);
      send(res, 503, { error: { code: "ledger_unavailable", message: "the budget ledger cannot be reached" } });
    }
  };
}

async function grant(deps: LeaseHttpDeps, who: Identity, body: unknown, res: ServerResponse): Promise<void> {
  const { token, ...request } = readGrant(body);
  const { budget, key } = request.budget === TOKEN_BUDGET ? tokenCeilingBudget(token, request.key, who.tenant, deps.tenantKeys, Date.now()) : budgetOf(deps, who, request);
  const result = await deps.service.grant({ ...request, budget, key, tenant: who.tenant, agent: who.agent });
  if (!result.ok) throw new RequestError(409, result.code, result.message, { othersHolding: result.othersHolding });
  const { lease } = result;
  send(res, 201, {
    id: lease.id,
    budget: lease.budget,
    key: lease.key,
    calls: lease.calls,
    cost: lease.cost,
    grantedAt: new Date(lease.grantedAt).toISOString(),
    expiresAt: new Date(lease.expiresAt).toISOString(),
    leaseMs: lease.leaseMs,
  });
}

function budgetOf(deps: LeaseHttpDeps, who: Identity, request: { budget: string; key: string }): { budget: LeaseBudget; key: string } {
  const budget = deps.budgets(request.budget, who);
  // Another tenant's budget, or one that does not apply to the caller, is indistinguishable from none.
  if (budget === undefined || budget.tenant !== who.tenant) throw new RequestError(404, "unknown_budget", `no budget ${request.budget}`);
  if (request.key !== keyFor(budget, who)) throw new RequestError(403, "forbidden_key", `${who.agent} may not use key ${request.key} of ${budget.scope} budget ${budget.name}`);
  return { budget, key: request.key };
}

async function giveBack(deps: LeaseHttpDeps, who: Identity, id: string, body: unknown, res: ServerResponse): Promise<void> {
  const used = readReturn(body);
  const result = await deps.service.returnLease(id, who, used);
  if (!result.ok) throw new RequestError(result.code === "unknown_lease" ? 404 : result.code === "lease_expired" ? 409 : 400, result.code, result.message);
  send(res, 200, { id, returned: result.returned });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { "content-type": "application/json", "content-length": bytes.length, "cache-control": "no-store" });
  res.end(bytes);
}
