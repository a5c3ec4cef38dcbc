// Which budgets an agent's calls count against: what its snapshot carries and what the lease API
// lets it take slices of. A budget of another namespace, or an agent budget that does not select
// the agent, must not apply (else an agent could drain budgets that are not its own).
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Budget } from "../api/types.ts";
import { budgetApplies } from "./build.ts";

const budget = (namespace: string, scope: "agent" | "tenant", agents?: Budget["spec"]["agents"]): Budget =>
  ({ metadata: { name: "b", namespace }, spec: { scope, window: "1h", calls: 10, ...(agents ? { agents } : {}) } }) as Budget;
const bot = { namespace: "team-a", serviceAccount: "bot", podLabels: { tier: "gold" } };

test("a tenant budget applies to every agent of its namespace, and to none elsewhere", () => {
  assert.equal(budgetApplies(budget("team-a", "tenant"), bot), true);
  assert.equal(budgetApplies(budget("team-b", "tenant"), bot), false);
});

test("an agent budget applies to the agents it selects, by service account or labels", () => {
  assert.equal(budgetApplies(budget("team-a", "agent"), bot), true, "no selector: every agent of the namespace");
  assert.equal(budgetApplies(budget("team-a", "agent", { serviceAccounts: ["bot"] }), bot), true);
  assert.equal(budgetApplies(budget("team-a", "agent", { serviceAccounts: ["other"] }), bot), false);
  assert.equal(budgetApplies(budget("team-a", "agent", { matchLabels: { tier: "gold" } }), bot), true);
  assert.equal(budgetApplies(budget("team-a", "agent", { matchLabels: { tier: "silver" } }), bot), false);
  assert.equal(budgetApplies(budget("team-b", "agent", { serviceAccounts: ["bot"] }), bot), false);
});
