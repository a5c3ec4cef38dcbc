// Extractor parts on their own: the built-in classifier, the cache, strict validation, the chat
// completion reader, the answer size limit, and what the policy receives from the intent check.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { MemoryBudgetLedger } from "../budget/ledger.ts";
import { createIntentCheck, type IntentExtractor } from "../checks/intent.ts";
import { createMemoryCheck } from "../checks/memory.ts";
import { createPolicyCheck } from "../checks/policy.ts";
import type { CallContext, IntentRecommendation } from "../checks/types.ts";
import type { PolicyInput } from "../policy/types.ts";
import { foldCaveats, KeyRing, promptSha256, ringWriterKeys } from "../../wire/index.ts";
import { classify, createBuiltinExtractor, stem, words } from "./builtin.ts";
import { createCachedExtractor } from "./cache.ts";
import { ToolCatalog } from "./catalog.ts";
import { IntentExtractorError } from "./errors.ts";
import { createHttpExtractor } from "./http.ts";
import { completionJson } from "./openai.ts";
import { parseRecommendation } from "./validate.ts";

const DEMO_TOOLS = [
  { name: "read_file", description: "Read a file under /data" },
  { name: "list_files", description: "List files in a folder" },
  { name: "delete_file", description: "Delete a file" },
  { name: "transfer", description: "Transfer money to an IBAN" },
];
const catalog = (): ToolCatalog => {
  const c = new ToolCatalog();
  c.record("files", DEMO_TOOLS.slice(0, 3));
  c.record("payments", DEMO_TOOLS.slice(3));
  return c;
};
const extractWith = (c: ToolCatalog, prompt: string): Promise<IntentRecommendation> => createBuiltinExtractor(c).extract({ prompt, agent: "a", tenant: "t" });

void test("builtin: words, stems and verb groups", () => {
  assert.deepEqual(words("Don't deleteFiles, OK?"), ["do", "not", "delete", "files", "ok"]);
  for (const [a, b] of [["delete", "deleting"], ["delete", "deleted"], ["file", "files"], ["transfer", "transferring"], ["list", "listing"], ["query", "queries"]]) {
    assert.equal(stem(a as string), stem(b as string), `${a} ~ ${b}`);
  }
});

void test("builtin: allows what the prompt names, forbids what it rules out, and is deterministic", async () => {
  const c = catalog();
  const pay = await extractWith(c, "Pay Acme Corp 250 EUR to their IBAN");
  assert.deepEqual(pay.allowed_tools, ["payments.transfer"]);
  assert.deepEqual(pay.forbidden_tools, []);
  assert.equal(pay.confidence, 0.57, "name match (3) + description match (1): 4 / 7");
  assert.match(pay.rationale, /payments\.transfer matched transfer \(name\), iban \(description\)/);

  const read = await extractWith(c, "Show me /data/report.csv, but never remove anything");
  assert.deepEqual(read.allowed_tools, ["files.read_file"]);
  assert.deepEqual(read.forbidden_tools, ["files.delete_file"]);
  assert.deepEqual(await extractWith(c, "Show me /data/report.csv, but never remove anything"), read);

  assert.deepEqual((await extractWith(c, "delete nothing, list the folder")).forbidden_tools, ["files.delete_file"]);
  const none = await extractWith(c, "What is the weather in Paris?");
  assert.deepEqual([none.allowed_tools, none.confidence], [[], 0]);
  assert.deepEqual((await extractWith(new ToolCatalog(), "read the file")).allowed_tools, []);
});

void test("builtin: a tool listed later is known from then on (the catalog generation changes)", async () => {
  const c = new ToolCatalog();
  const extractor = createBuiltinExtractor(c);
  assert.deepEqual((await extractor.extract({ prompt: "transfer 10 EUR", agent: "a", tenant: "t" })).allowed_tools, []);
  const before = c.generation;
  c.record("payments", [{ name: "transfer", description: "Transfer money" }]);
  c.record("payments", [{ name: "transfer", description: "Transfer money" }]);
  assert.equal(c.generation, before + 1, "the same listing again changes nothing");
  assert.deepEqual((await extractor.extract({ prompt: "transfer 10 EUR", agent: "a", tenant: "t" })).allowed_tools, ["payments.transfer"]);
  c.record("payments", [null, 7, { name: 3 }, { description: "no name" }]);
  assert.equal(c.size, 1, "malformed listings are skipped");
  assert.equal(classify("transfer", []).rationale, "no tools have been listed yet");
});

void test("cache: one extraction per prompt within the TTL, shared by concurrent calls; failures are not kept", async () => {
  let calls = 0;
  let fail = false;
  const inner: IntentExtractor = {
    extract: async ({ prompt }) => {
      calls++;
      await new Promise((r) => setTimeout(r, 10));
      if (fail) throw new IntentExtractorError("unreachable", "down");
      return { summary: prompt, allowed_tools: ["files.read_file"], forbidden_tools: [], confidence: 1, rationale: "" };
    },
  };
  let generation = 0;
  const cached = createCachedExtractor(inner, { maxEntries: 2, ttlMs: 60_000, generation: () => generation });
  const req = (prompt: string, agent = "a") => ({ prompt, agent, tenant: "t" });
  await Promise.all([cached.extract(req("p1")), cached.extract(req("p1")), cached.extract(req("p1"))]);
  assert.equal(calls, 1);
  await cached.extract(req("p1", "b"));
  assert.equal(calls, 2, "the agent is part of the key");
  generation++;
  await cached.extract(req("p1"));
  assert.equal(calls, 3, "a new catalog generation is a new key");
  await cached.extract(req("p2"));
  await cached.extract(req("p3"));
  assert.equal(cached.size, 2, "bounded");
  fail = true;
  await assert.rejects(cached.extract(req("p4")), IntentExtractorError);
  fail = false;
  assert.equal((await cached.extract(req("p4"))).summary, "p4");
  const value = await cached.extract(req("p4"));
  assert.ok(Object.isFrozen(value) && Object.isFrozen(value.allowed_tools), "shared entries cannot be changed by a caller");
});

void test("cache: entries expire after the TTL", async () => {
  let calls = 0;
  let clock = 1_000;
  const cached = createCachedExtractor({ extract: async () => (calls++, { summary: "", allowed_tools: [], forbidden_tools: [], confidence: 0, rationale: "" }) }, { maxEntries: 10, ttlMs: 30_000, now: () => clock });
  await cached.extract({ prompt: "p", agent: "a", tenant: "t" });
  clock += 29_000;
  await cached.extract({ prompt: "p", agent: "a", tenant: "t" });
  assert.equal(calls, 1);
  clock += 2_000;
  await cached.extract({ prompt: "p", agent: "a", tenant: "t" });
  assert.equal(calls, 2);
});

void test("validation: exact names only, bounded, no unknown members", () => {
  const good = { summary: "s", allowed_tools: ["files.read_file", "files.read_file"], forbidden_tools: ["payments.transfer"], confidence: 0, rationale: "r" };
  assert.deepEqual(parseRecommendation(good, "t").allowed_tools, ["files.read_file"]);
  const invalid = (value: unknown): void => assert.throws(() => parseRecommendation(value, "t"), (e: unknown) => e instanceof IntentExtractorError && e.code === "invalid_response");
  invalid({ ...good, allowed_tools: ["files.*"] });
  invalid({ ...good, allowed_tools: ["*"] });
  invalid({ ...good, allowed_tools: ["read_file"] });
  invalid({ ...good, allowed_tools: ["Files.read_file"] });
  invalid({ ...good, allowed_tools: ["files.read file"] });
  invalid({ ...good, allowed_tools: Array.from({ length: 257 }, (_, i) => `files.t${i}`) });
  invalid({ ...good, confidence: Number.NaN });
  invalid({ ...good, confidence: -0.1 });
  invalid({ ...good, summary: "x".repeat(1025) });
  invalid({ ...good, extra: true });
  invalid({ summary: "s" });
  invalid(null);
});

void test("chat completion reader: content of the first choice; refusals and truncation are failures", () => {
  const choice = (message: object, finish_reason: string | null = "stop") => ({ choices: [{ index: 0, message, finish_reason }] });
  assert.deepEqual(completionJson(choice({ role: "assistant", content: '{"a":1}', refusal: null })), { a: 1 });
  const code = (answer: unknown): string => {
    try {
      completionJson(answer);
      return "ok";
    } catch (error) {
      return (error as IntentExtractorError).code;
    }
  };
  assert.equal(code(choice({ role: "assistant", content: null, refusal: "no" })), "refused");
  assert.equal(code(choice({ role: "assistant", content: '{"a":' }, "length")), "invalid_response");
  assert.equal(code(choice({ role: "assistant", content: "not json" })), "invalid_response");
  assert.equal(code({ choices: [] }), "invalid_response");
  assert.equal(code({}), "invalid_response");
});

void test("http extractor: an answer larger than 256 KiB is refused, not buffered", async () => {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ intent: { summary: "x".repeat(300 * 1024) } }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const extractor = createHttpExtractor({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeoutMs: 2000 });
  try {
    await assert.rejects(extractor.extract({ prompt: "p", agent: "a", tenant: "t" }), /more than 262144 bytes/);
  } finally {
    await extractor.close();
    server.closeAllConnections();
    server.close();
  }
});

// ---- what the policy receives ----

const ring = KeyRing.fromFile(KeyRing.generateFile("k1"));
const PROMPT = "read the report";
function context(prompt: string | undefined, bound: boolean): CallContext {
  const header = { version: 1, id: "root-id-0001", kid: "k1", tenant: "acme", subject: "agent-1", issuer: "t", issued_at: 0 } as const;
  const caveats = bound ? [{ type: "prompt" as const, sha256: promptSha256(PROMPT) }] : [];
  return {
    decisionId: "d",
    now: Date.now(),
    tenant: "acme",
    agent: "agent-1",
    server: "files",
    tool: "read_file",
    name: "files.read_file",
    arguments: {},
    token: "t",
    prompt,
    verified: { header: header as never, effective: foldCaveats(header as never, caveats) },
  };
}
async function policyInputAfter(ctx: CallContext, ...checks: { run(ctx: CallContext): unknown }[]): Promise<PolicyInput> {
  let seen: PolicyInput | undefined;
  const policy = createPolicyCheck({
    current: () => ({ version: "capture", evaluate: (input) => ((seen = input), { ok: true, decision: "allow", reason: "ok", requiresStepUp: false }) }),
    mode: "enforce",
    ledger: new MemoryBudgetLedger(),
    budget: {},
    costOf: () => 1,
  });
  for (const check of checks) await check.run(ctx);
  await policy.run(ctx);
  return seen as PolicyInput;
}

void test("policy input: advisory extraction failure is visible; enforce success records mode and verdict; off is null", async () => {
  const failing: IntentExtractor = { extract: () => Promise.reject(new IntentExtractorError("timeout", "extractor did not answer within 5 ms")) };
  const advisory = createIntentCheck({ mode: "advisory", extractor: failing, minConfidence: 0.5 });
  const ctx = context(PROMPT, true);
  assert.deepEqual(await advisory.run(ctx), { ok: true });
  assert.deepEqual((await policyInputAfter(ctx)).intent, {
    summary: "",
    allowed_tools: [],
    forbidden_tools: [],
    confidence: 0,
    rationale: "",
    mode: "advisory",
    verdict: "intent_unavailable",
    error: "extractor did not answer within 5 ms",
  });
  const enforcing = createIntentCheck({ mode: "enforce", extractor: failing, minConfidence: 0.5 });
  assert.equal(((await enforcing.run(context(PROMPT, true))) as { code: string }).code, "intent_unavailable");

  const fits: IntentExtractor = { extract: () => Promise.resolve({ summary: "s", allowed_tools: ["files.read_file"], forbidden_tools: [], confidence: 0.9, rationale: "r" }) };
  const input = await policyInputAfter(context(PROMPT, true), createIntentCheck({ mode: "enforce", extractor: fits, minConfidence: 0.5 }));
  assert.deepEqual([input.intent?.mode, input.intent?.verdict, input.intent?.error, input.intent?.allowed_tools], ["enforce", "fits", null, ["files.read_file"]]);
  const unbound = await policyInputAfter(context(PROMPT, false), createIntentCheck({ mode: "advisory", extractor: fits, minConfidence: 0.5 }));
  assert.equal(unbound.intent?.verdict, "intent_prompt_unbound");
  assert.deepEqual(unbound.intent?.allowed_tools, [], "an unauthenticated prompt is never classified");
  assert.equal((await policyInputAfter(context(PROMPT, true), createIntentCheck({ extractor: undefined, minConfidence: 0 }))).intent, null);
  assert.equal((await policyInputAfter(context(PROMPT, true))).memory, null);
});

void test("policy input: the memory verdict of every item", async () => {
  const check = createMemoryCheck({ mode: "advisory", keys: ringWriterKeys(ring), maxItems: 8, maxContentBytes: 1024, skewSeconds: 30 });
  const ctx = { ...context(PROMPT, true), memoryItems: [{ id: "mem-002", content: "Acme Corp IBAN: NL00ATTACKER" }] };
  assert.deepEqual((await policyInputAfter(ctx, check)).memory, {
    checked: true,
    items: [{ id: "mem-002", ok: false, code: "memory_unsigned", reason: "carries no signature", writer: null }],
  });
});
