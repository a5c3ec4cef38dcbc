// Folds a token's caveats into the constraints that hold after all of them (the AND of every caveat).
import type { ArgOp, Caveat } from "./caveats.ts";
import type { TokenHeader } from "./codec.ts";

export interface ArgConstraint {
  tools?: string[];
  path: string;
  op: ArgOp;
  value: unknown;
}

export interface EffectiveConstraints {
  tenant: string;
  /** Every agent identity the caller must be (the header's subject and each agent caveat). */
  agents: string[];
  /** The token id followed by each attenuation hop's id. */
  ids: string[];
  expiresAt: number | null;
  notBefore: number | null;
  /** Each list comes from one caveat; the call must match a glob in every list. */
  toolAllow: string[][];
  toolDeny: string[];
  servers: string[][];
  args: ArgConstraint[];
  promptSha256: string[];
  /** The lowest lifetime call ceiling, for display and policy; `budgets` is what is enforced. */
  maxCalls: number | null;
  budgets: BudgetCeiling[];
  stepUp: boolean;
}

/**
 * A budget caveat, keyed by the id of the hop that added it (the token id for minted caveats), so
 * that every token attenuated from that hop draws on the same counter: attenuation cannot reset it.
 */
export interface BudgetCeiling {
  kind: "calls" | "rate" | "cost";
  max: number;
  /** Sliding window in seconds; null for a lifetime ceiling. */
  window: number | null;
  scope: string;
}

const scope = (e: EffectiveConstraints): string => e.ids[e.ids.length - 1] as string;
const min = (a: number | null, b: number): number => (a === null ? b : Math.min(a, b));

export function foldCaveats(header: TokenHeader, caveats: readonly Caveat[]): EffectiveConstraints {
  const e: EffectiveConstraints = {
    tenant: header.tenant,
    agents: [header.subject],
    ids: [header.id],
    expiresAt: null,
    notBefore: null,
    toolAllow: [],
    toolDeny: [],
    servers: [],
    args: [],
    promptSha256: [],
    maxCalls: null,
    budgets: [],
    stepUp: false,
  };
  for (const c of caveats) {
    switch (c.type) {
      case "hop": e.ids.push(c.id); break;
      case "expires": e.expiresAt = min(e.expiresAt, c.at); break;
      case "not_before": e.notBefore = e.notBefore === null ? c.at : Math.max(e.notBefore, c.at); break;
      case "tools": e.toolAllow.push(c.allow); break;
      case "tools_deny": e.toolDeny.push(...c.deny); break;
      case "servers": e.servers.push(c.allow); break;
      case "agent": if (!e.agents.includes(c.id)) e.agents.push(c.id); break;
      case "arg": e.args.push(c.tools === undefined ? { path: c.path, op: c.op, value: c.value } : { tools: c.tools, path: c.path, op: c.op, value: c.value }); break;
      case "prompt": if (!e.promptSha256.includes(c.sha256)) e.promptSha256.push(c.sha256); break;
      case "calls":
        e.maxCalls = min(e.maxCalls, c.max);
        e.budgets.push({ kind: "calls", max: c.max, window: null, scope: scope(e) });
        break;
      case "rate": e.budgets.push({ kind: "rate", max: c.max, window: c.window, scope: scope(e) }); break;
      case "cost": e.budgets.push({ kind: "cost", max: c.max, window: c.window, scope: scope(e) }); break;
      case "step_up": e.stepUp = true; break;
    }
  }
  return e;
}
