// Differential test: the committed wasm, run by opa-wasm as the sidecar runs it, must give exactly
// what the real opa gives (`opa eval`, Go evaluator, from the .rego sources) for the same input.
// Catches compiler or SDK divergences (set order, number formatting in sprintf, regex dialects).
import assert from "node:assert/strict";
import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { canonicalize } from "../../wire/index.ts";
import { bundleFiles, call, input, readData, runOpa } from "./test-support.ts";
import type { PolicyInput } from "./types.ts";
import { compileWasm, instantiatePolicy } from "./wasm.ts";

type Outcome = { kind: "value"; value: unknown } | { kind: "undefined" } | { kind: "error" };

async function wasmRunner(name: string): Promise<(doc: unknown) => Promise<Outcome>> {
  const module = await compileWasm(readFileSync(bundleFiles(name).wasmPath));
  const data = readData(name) as Record<string, unknown> | undefined;
  let compiled = await instantiatePolicy(module, data, 1024);
  return async (doc) => {
    try {
      const set = compiled.policy.evaluate(doc, compiled.entrypoint) as { result: unknown }[];
      return set.length === 0 ? { kind: "undefined" } : { kind: "value", value: set[0]?.result };
    } catch {
      compiled = await instantiatePolicy(module, data, 1024); // as the engine does: never reuse after a throw
      return { kind: "error" };
    }
  };
}

async function oracle(name: string, doc: unknown): Promise<Outcome> {
  const args = ["eval", "--format", "json", "--stdin-input", ...bundleFiles(name).sources.flatMap((f) => ["-d", f]), "data.intentgate.decision"];
  const run = await runOpa(args, JSON.stringify(doc));
  const out = JSON.parse(run.stdout) as { result?: { expressions: { value: unknown }[] }[]; errors?: { code: string }[] };
  if (run.code !== 0) {
    // Only evaluation errors count as an outcome; a usage error would make every case "agree".
    assert.ok(out.errors?.every((e) => e.code.startsWith("eval_")), run.stdout);
    return { kind: "error" };
  }
  const value = out.result?.[0]?.expressions[0]?.value;
  return out.result === undefined ? { kind: "undefined" } : { kind: "value", value };
}

/** Sets arrive as JSON arrays in whatever order each evaluator iterates them. */
function sortSet(outcome: Outcome | undefined): Outcome | undefined {
  if (outcome?.kind !== "value" || !Array.isArray(outcome.value)) return outcome;
  return { kind: "value", value: outcome.value.map((v) => canonicalize(v)).sort() };
}

async function compare(name: string, docs: unknown[], normalize = (o: Outcome | undefined) => o): Promise<Outcome[]> {
  const wasm = await wasmRunner(name);
  const outcomes: Outcome[] = [];
  for (const doc of docs) outcomes.push(await wasm(doc));
  const oracles: Outcome[] = new Array<Outcome>(docs.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < docs.length; i = next++) oracles[i] = await oracle(name, docs[i]);
  };
  await Promise.all(Array.from({ length: Math.max(2, availableParallelism()) }, worker));
  docs.forEach((doc, i) => assert.deepEqual(normalize(outcomes[i]), normalize(oracles[i]), `${name}, input ${JSON.stringify(doc)}`));
  return outcomes;
}

const intents = [
  null,
  { summary: "s", allowed_tools: ["files.delete", "db.DROP_TABLE"], forbidden_tools: [], confidence: 0.8, rationale: "r" },
  { summary: "s", allowed_tools: ["files.delete"], forbidden_tools: ["files.read_file", "payments.transfer", "crm.get_contact"], confidence: 0.79, rationale: "r" },
];
const memories = [
  null,
  { checked: true, items: [{ id: "m1", ok: true, reason: "" }, { id: "m2", ok: false, reason: "tampered" }, { id: "m3", reason: "no ok" }] },
  { checked: false, items: [{ id: "m1", ok: false, reason: "x" }] },
];
// Not PolicyInput: the memory item without `ok` breaks the contract on purpose.
const variants = (doc: PolicyInput): object[] =>
  intents.flatMap((intent) => memories.map((memory, m) => ({ ...doc, intent, memory, token: { ...doc.token, step_up: m === 2 } })));

const tools: [string, string][] = [
  ["files", "read_file"], ["files", "delete"], ["db", "DROP_TABLE"], ["ui", "dropdown"], ["deleted", "list"],
  ["crm.contacts", "delete_one"], ["crm", "get_contact"], ["crm", "getÜber"], ["crm", "GET_ALL"], ["crm", "listen"],
  ["crm", "search.x"], ["ünïcødé", "tøøl"], ["crm", ""],
];

void test("default: wasm and opa eval agree", async () => {
  const outcomes = await compare("default", tools.flatMap(([s, t]) => variants(call(s, t))));
  assert.ok(outcomes.some((o) => o.kind === "value" && (o.value as { decision: string }).decision === "block"));
});

void test("read-only: wasm and opa eval agree", async () => {
  await compare("read-only", tools.flatMap(([s, t]) => [call(s, t), { ...call(s, t), intent: intents[2] ?? null }]));
});

void test("finance: wasm and opa eval agree", async () => {
  const amounts: unknown[] = [500, 1000, 1000.01, 2500.5, 10000, 10000.01, 12345.67, 15000, 1e6, 0.5, 0, -1, "500", null];
  const ibans: unknown[] = ["DE89370400440532013000", "fr76 3000 6000 0112 3456 7890 189", "GB29NWBK60161331926819", "NL00ATTACKER", 42];
  // The IBAN shape (^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$, written without a regex) at its edges.
  const shapes = ["DE893704004405", "DE893704004405X", "DE89370400440532013000123456789012", "DE893704004405320130001234567890123",
    "D189370400440532013000", "DEX9370400440532013000", "DE89-370400440532013000", "DE89370400440532013000\n", "de89370400440532013ääß", "ÄE89370400440532013000", ""];
  const transfers = amounts.flatMap((amount) => ibans.map((iban) => call("payments", "transfer", { arguments: { amount, currency: "EUR", iban } })))
    .concat(shapes.map((iban) => call("payments", "transfer", { arguments: { amount: 500, currency: "EUR", iban } })));
  const currencies = ["USD", "eur", null].map((currency) => call("payments", "transfer", { arguments: { amount: 15000, currency, iban: "DE89370400440532013000" } }));
  const missing = [{}, { amount: 20000 }, { currency: "EUR", iban: "DE89370400440532013000" }].map((args) => call("payments", "transfer", { arguments: args }));
  const others = variants(transfer20k()).concat(variants(call("payments", "list_accounts")));
  const outcomes = await compare("finance", [...transfers, ...currencies, ...missing, ...others]);
  const decisions = new Set(outcomes.map((o) => (o.kind === "value" ? (o.value as { decision: string }).decision : o.kind)));
  assert.deepEqual([...decisions].sort(), ["allow", "block", "escalate"]);
});

function transfer20k(): PolicyInput {
  return call("payments", "transfer", { arguments: { amount: 20000, currency: "EUR", iban: "NL91ABNA0417164300" } });
}

void test("the contract-breaking fixtures agree too, errors included", async () => {
  const cases = ["valid", "valid_step_up", "not_object", "array", "unknown_decision", "missing_reason", "empty_reason",
    "reason_not_string", "long_reason", "step_up_not_boolean", "unknown_field", "conflict", "nothing"];
  const outcomes = await compare("testdata/bad-decisions", [...cases.map((tool) => call("fixture", tool)), call("fixture", "memory", { arguments: { n: 1000 } })]);
  assert.deepEqual(outcomes.map((o) => o.kind).filter((k) => k !== "value"), ["error", "undefined"]);
  const [set] = await compare("testdata/decision-set", [input()], sortSet);
  assert.equal(set?.kind === "value" && Array.isArray(set.value) && set.value.length, 2);
});
