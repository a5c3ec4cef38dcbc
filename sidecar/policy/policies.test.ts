// The example policies, as the sidecar runs them: the committed wasm under policies/*/build/.
// Their Rego unit tests (opa test) cover the rules; these prove the compiled bundles agree.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { loadPolicyBundle } from "./engine.ts";
import { bundleFiles, call, input, loadCommitted } from "./test-support.ts";
import type { PolicyInput, PolicyIntentInput } from "./types.ts";

const intent = (allowed: string[], forbidden: string[], confidence = 0.9): PolicyIntentInput => ({
  summary: "s", allowed_tools: allowed, forbidden_tools: forbidden, confidence, rationale: "r",
});

const transfer = (args: Record<string, unknown>, patch: Partial<PolicyInput> = {}): PolicyInput =>
  call("payments", "transfer", { arguments: { amount: 500, currency: "EUR", iban: "DE89370400440532013000", ...args }, ...patch });

void test("default: ordinary calls allow, forbidden and destructive ones block", async () => {
  const engine = await loadCommitted("default");
  assert.deepEqual(engine.evaluate(call("files", "read_file")), { ok: true, decision: "allow", reason: "allowed by the default policy", requiresStepUp: false });
  assert.deepEqual(engine.evaluate(call("files", "read_file", { intent: intent([], ["files.read_file"]) })), {
    ok: true, decision: "block", reason: "the user's request forbids files.read_file", requiresStepUp: false,
  });
  for (const [server, tool] of [["db", "drop_table"], ["files", "delete"], ["db", "DROP_TABLE"], ["crm.contacts", "delete_one"]] as const) {
    const verdict = engine.evaluate(call(server, tool));
    assert.ok(verdict.ok && verdict.decision === "block" && verdict.reason.includes("destructive"), `${server}.${tool}: ${JSON.stringify(verdict)}`);
  }
});

void test("default: a destructive tool the confident intent names allows, with step-up advised", async () => {
  const engine = await loadCommitted("default");
  const verdict = engine.evaluate(call("files", "delete", { intent: intent(["files.delete"], [], 0.95) }));
  assert.deepEqual(verdict, { ok: true, decision: "allow", reason: "files.delete was requested explicitly; destructive, so step-up is advised", requiresStepUp: true });
  const unsure = engine.evaluate(call("files", "delete", { intent: intent(["files.delete"], [], 0.5) }));
  assert.ok(unsure.ok && unsure.decision === "block");
});

void test("default: a memory item that failed provenance blocks", async () => {
  const engine = await loadCommitted("default");
  const memory = { checked: true, items: [{ id: "mem-001", ok: true, reason: "" }, { id: "mem-002", ok: false, reason: "no valid signature" }] };
  assert.deepEqual(engine.evaluate(input({ memory })), {
    ok: true, decision: "block", reason: "memory item mem-002 failed provenance (no valid signature)", requiresStepUp: false,
  });
});

void test("finance: small transfers allow, above 1,000 EUR step-up, above 10,000 EUR escalate", async () => {
  const engine = await loadCommitted("finance");
  assert.deepEqual(engine.evaluate(transfer({ amount: 500 })), { ok: true, decision: "allow", reason: "transfer of 500 EUR within limits", requiresStepUp: false });
  assert.deepEqual(engine.evaluate(transfer({ amount: 2500.5 })), { ok: true, decision: "allow", reason: "transfer of 2500.5 EUR within limits", requiresStepUp: true });
  assert.deepEqual(engine.evaluate(transfer({ amount: 10000 })), { ok: true, decision: "allow", reason: "transfer of 10000 EUR within limits", requiresStepUp: true });
  assert.deepEqual(engine.evaluate(transfer({ amount: 15000 })), {
    ok: true, decision: "escalate", reason: "transfer of 15000 EUR exceeds the 10000 EUR approval threshold", requiresStepUp: true,
  });
});

void test("finance: IBANs outside the allowlisted countries, other currencies and bad amounts block", async () => {
  const engine = await loadCommitted("finance");
  assert.deepEqual(engine.evaluate(transfer({ iban: "GB29NWBK60161331926819" })), {
    ok: true, decision: "block", reason: "beneficiary IBAN country GB is not allowlisted", requiresStepUp: false,
  });
  for (const args of [{ currency: "USD" }, { amount: "500" }, { amount: -1 }, { iban: "NL00ATTACKER" }, { amount: 50_000, iban: "CH9300762011623852957" }]) {
    const verdict = engine.evaluate(transfer(args));
    assert.ok(verdict.ok && verdict.decision === "block", `${JSON.stringify(args)}: ${JSON.stringify(verdict)}`);
  }
  assert.deepEqual(engine.evaluate(call("payments", "list_accounts")), { ok: true, decision: "allow", reason: "not a payment transfer", requiresStepUp: false });
});

void test("finance: the allowlist comes from data; without data every transfer blocks", async () => {
  const wasm = readFileSync(bundleFiles("finance").wasmPath);
  const withGb = await loadPolicyBundle(wasm, { finance: { allowed_iban_countries: ["GB"] } });
  const gb = withGb.evaluate(transfer({ iban: "GB29NWBK60161331926819" }));
  assert.ok(gb.ok && gb.decision === "allow");
  const noData = await loadPolicyBundle(wasm);
  assert.deepEqual(noData.evaluate(transfer({})), { ok: true, decision: "block", reason: "beneficiary IBAN country DE is not allowlisted", requiresStepUp: false });
});

void test("read-only: read, get, list and search tools allow; everything else blocks", async () => {
  const engine = await loadCommitted("read-only");
  for (const tool of ["read_file", "getContact", "list-deals", "search"]) {
    assert.deepEqual(engine.evaluate(call("crm", tool)), { ok: true, decision: "allow", reason: `crm.${tool} is a read-only tool`, requiresStepUp: false });
  }
  for (const tool of ["write_file", "getaway_delete", "listen", "delete_contact"]) {
    assert.deepEqual(engine.evaluate(call("crm", tool)), { ok: true, decision: "block", reason: `crm.${tool} is not a read-only tool`, requiresStepUp: false });
  }
});
