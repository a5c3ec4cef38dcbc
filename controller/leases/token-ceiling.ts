// A capability token's own ceiling as a lease budget. The sidecar presents the token; the ceiling's
// max and window come from the token's effective constraints, never from the request, and only a
// token signed with the caller's tenant key, for that tenant and still live, is believed. The
// ledger key carries the tenant, so a hop id chosen in one tenant never shares another's counter.
import { checkLiveness, MAX_SKEW_SECONDS, verifySignature, type KeyRing } from "../../wire/index.ts";
import type { LeaseBudget } from "./budget.ts";
import { RequestError } from "./requests.ts";

/** The budget name of token ceilings in the lease API and its ledger (Budget names always hold a "/"). */
export const TOKEN_BUDGET = "token";

/** The tenant's key ring, or undefined when it cannot be read. */
export type TenantKeys = (tenant: string) => KeyRing | undefined;

/** `key` is "<scope>/<kind>/<window>" (window "Infinity" for a lifetime ceiling), as the sidecar names it. */
export function tokenCeilingBudget(token: string | undefined, key: string, tenant: string, keys: TenantKeys, nowMs: number): { budget: LeaseBudget; key: string } {
  if (token === undefined) throw new RequestError(400, "invalid_request", "a token ceiling needs the token that carries it");
  const ring = keys(tenant);
  if (ring === undefined) throw new RequestError(503, "tenant_keys_unavailable", `the keys of tenant ${tenant} cannot be read`);
  const signed = verifySignature(token, ring);
  // The sidecar has already refused revoked tokens; the widest skew keeps this check from being stricter than its own.
  const verified = signed.ok ? checkLiveness(signed, { now: Math.floor(nowMs / 1000), skewSeconds: MAX_SKEW_SECONDS }) : signed;
  if (!verified.ok) throw new RequestError(403, "invalid_token", `the token does not verify: ${verified.code}`);
  if (verified.header.tenant !== tenant) throw new RequestError(403, "invalid_token", "the token is another tenant's");
  const ceiling = verified.effective.budgets.find((c) => `${c.scope}/${c.kind}/${c.window ?? Infinity}` === key);
  if (ceiling === undefined) throw new RequestError(403, "unknown_token_ceiling", `the token carries no ceiling ${key}`);
  const expiresAt = verified.effective.expiresAt;
  const budget: LeaseBudget = {
    name: TOKEN_BUDGET,
    tenant,
    scope: "token",
    refusal: `budget_token_${ceiling.kind}`,
    windowSeconds: ceiling.window ?? Infinity,
    // A lifetime ceiling counts for as long as any replica may still accept the token.
    until: expiresAt === null ? Infinity : (expiresAt + MAX_SKEW_SECONDS) * 1000,
    ...(ceiling.kind === "cost" ? { cost: ceiling.max } : { calls: ceiling.max }),
  };
  return { budget, key: `${tenant}/${key}` };
}
