// The engine against real bundles compiled by the real opa: the committed fixtures under
// policies/testdata/ break the contract one way each; throwaway policies are compiled here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { setImmediate as tick } from "node:timers/promises";
import { loadPolicyBundle, PolicyLoadError, type PolicyEngine } from "./engine.ts";
import { bundleFiles, call, compileRego, input, loadCommitted, manifestSha256 } from "./test-support.ts";
import type { PolicyInput, PolicyVerdict } from "./types.ts";
import { SDK_BUILTINS } from "./wasm.ts";

const fixture = (tool: string, args: Record<string, unknown> = {}): PolicyInput => call("fixture", tool, { arguments: args });

function denial(verdict: PolicyVerdict, code: string, message: RegExp): void {
  assert.equal(verdict.ok, false, JSON.stringify(verdict));
  if (!verdict.ok) {
    assert.equal(verdict.code, code);
    assert.match(verdict.message, message);
  }
}

async function settle(engine: PolicyEngine, probe: PolicyInput): Promise<PolicyVerdict> {
  for (let i = 0; i < 1000; i++) {
    const verdict = engine.evaluate(probe);
    if (verdict.ok) return verdict;
    await tick();
  }
  throw new Error("the engine did not come back after a failed evaluation");
}

void test("well-formed decisions from a real bundle become verdicts", async () => {
  const engine = await loadCommitted("testdata/bad-decisions");
  assert.deepEqual(engine.evaluate(fixture("valid")), { ok: true, decision: "allow", reason: "well formed", requiresStepUp: false });
  assert.deepEqual(engine.evaluate(fixture("valid_step_up")), { ok: true, decision: "escalate", reason: "well formed", requiresStepUp: true });
});

void test("every contract breach a real policy can commit is policy_invalid_decision", async () => {
  const engine = await loadCommitted("testdata/bad-decisions");
  const cases: [string, RegExp][] = [
    ["nothing", /undefined/],
    ["not_object", /a string, not an object/],
    ["array", /an array or set/],
    ["unknown_decision", /"permit"/],
    ["missing_reason", /reason must be a non-empty string/],
    ["empty_reason", /reason must be a non-empty string/],
    ["reason_not_string", /reason must be a non-empty string/],
    ["long_reason", /longer than 1024/],
    ["step_up_not_boolean", /requires_step_up must be a boolean/],
    ["unknown_field", /unknown field "requires_stepup"/],
  ];
  for (const [tool, message] of cases) denial(engine.evaluate(fixture(tool)), "policy_invalid_decision", message);
});

void test("a decision that evaluates to a set of several decisions is policy_invalid_decision", async () => {
  const engine = await loadCommitted("testdata/decision-set");
  denial(engine.evaluate(input()), "policy_invalid_decision", /an array or set/);
});

void test("an evaluation error (conflicting values) is policy_error", async () => {
  const engine = await loadCommitted("testdata/bad-decisions");
  denial(engine.evaluate(fixture("conflict")), "policy_error", /conflict/);
});

void test("running out of wasm memory is policy_error; the engine denies until a fresh instance is ready", async () => {
  const engine = await loadCommitted("testdata/bad-decisions", { maxMemoryPages: 40 });
  assert.deepEqual(engine.evaluate(fixture("memory", { n: 1000 })), { ok: true, decision: "allow", reason: "1000 numbers", requiresStepUp: false });
  denial(engine.evaluate(fixture("memory", { n: 5_000_000 })), "policy_error", /malloc/);
  // Synchronously after the failure the renewal cannot have finished: fail closed, not stale.
  denial(engine.evaluate(fixture("valid")), "policy_error", /being replaced/);
  assert.equal((await settle(engine, fixture("valid"))).ok, true);
  assert.deepEqual(engine.evaluate(fixture("memory", { n: 2000 })), { ok: true, decision: "allow", reason: "2000 numbers", requiresStepUp: false });
});

void test("input that cannot become JSON is policy_error, not an exception", async () => {
  const engine = await loadCommitted("default");
  const cyclic: Record<string, unknown> = {};
  cyclic["self"] = cyclic;
  denial(engine.evaluate(input({ arguments: cyclic })), "policy_error", /circular/i);
  assert.equal((await settle(engine, input())).ok, true);
});

void test("version is the first 12 hex digits of the wasm's sha256; dataVersion follows the data", async () => {
  const finance = await loadCommitted("finance");
  assert.equal(finance.version, manifestSha256("finance").slice(0, 12));
  assert.match(finance.dataVersion ?? "", /^[0-9a-f]{12}$/);
  const other = await loadPolicyBundle(readFileSync(bundleFiles("finance").wasmPath), { finance: { allowed_iban_countries: ["GB"] } });
  assert.equal(other.version, finance.version);
  assert.notEqual(other.dataVersion, finance.dataVersion);
  assert.equal((await loadCommitted("default")).dataVersion, null);
});

async function loadError(bytes: Uint8Array, data?: unknown): Promise<PolicyLoadError> {
  try {
    await loadPolicyBundle(bytes, data);
  } catch (error) {
    assert.ok(error instanceof PolicyLoadError);
    return error;
  }
  assert.fail("the bundle loaded");
}

void test("bytes that are not a policy bundle fail to load with policy_bundle_invalid", async () => {
  const wasm = readFileSync(bundleFiles("default").wasmPath);
  assert.equal((await loadError(new TextEncoder().encode("not wasm"))).code, "policy_bundle_invalid");
  assert.equal((await loadError(wasm.subarray(0, wasm.length - 100))).code, "policy_bundle_invalid");
});

void test("data that is not a JSON object fails to load with policy_data_invalid", async () => {
  const wasm = readFileSync(bundleFiles("finance").wasmPath);
  for (const data of [[], "x", null, { n: 1n }]) assert.equal((await loadError(wasm, data)).code, "policy_data_invalid");
});

void test("a bundle without the intentgate/decision entrypoint is refused at load", async () => {
  const wasm = await compileRego('package other\n\nallow := true\n', ["-e", "other/allow"]);
  assert.match((await loadError(wasm)).message, /no intentgate\/decision entrypoint/);
});

void test("a policy calling a builtin the sidecar lacks is refused at load, not at evaluation", async () => {
  // Built without the opa-wasm capabilities on purpose: with them, opa build refuses it first.
  const rego = 'package intentgate\n\ndecision := {"decision": "allow", "reason": sprintf("%d", [time.now_ns()])}\n';
  const error = await loadError(await compileRego(rego, ["-e", "intentgate/decision"]));
  assert.equal(error.code, "policy_bundle_invalid");
  assert.match(error.message, /time\.now_ns/);
});

void test("SDK_BUILTINS is exactly what the installed opa-wasm implements in JavaScript", () => {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@open-policy-agent/opa-wasm");
  const sdk = require(join(dirname(main), "builtins", "index.js")) as Record<string, unknown>;
  assert.deepEqual([...SDK_BUILTINS].sort(), Object.keys(sdk).sort());
});
