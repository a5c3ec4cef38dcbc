import assert from "node:assert/strict";
import { test } from "node:test";
import type { ArgOp, Caveat } from "./caveats.ts";
import type { TokenHeader } from "./codec.ts";
import { checkCoverage, isUnder, promptSha256, type ToolCall } from "./coverage.ts";
import { foldCaveats } from "./effective.ts";

const HEADER: TokenHeader = { version: 1, kid: "k1", id: "tok-cover-0001", issuer: "intentgate", tenant: "acme", subject: "agent-7", issued_at: 0 };
const call = (args: unknown, extra: Partial<ToolCall> = {}): ToolCall => ({ server: "bank", tool: "transfer", arguments: args, agent: "agent-7", ...extra });
const outcome = (caveats: Caveat[], c: ToolCall): string => {
  const result = checkCoverage(foldCaveats(HEADER, caveats), c);
  return result.ok ? "ok" : result.code;
};
const arg = (path: string, op: ArgOp, value: unknown, tools?: string[]): Caveat =>
  tools === undefined ? { type: "arg", path, op, value } : { type: "arg", path, op, value, tools };

void test("a token bound to another agent is agent_mismatch, also when a hop adds the binding", () => {
  assert.equal(outcome([], call({})), "ok");
  assert.equal(outcome([], call({}, { agent: "agent-8" })), "agent_mismatch");
  assert.equal(outcome([{ type: "agent", id: "agent-9" }], call({})), "agent_mismatch");
});

void test("servers and tools: every list must match, the deny list wins", () => {
  const caveats: Caveat[] = [{ type: "servers", allow: ["bank"] }, { type: "tools", allow: ["bank.*"] }, { type: "tools_deny", deny: ["bank.close_*"] }];
  assert.equal(outcome(caveats, call({})), "ok");
  assert.equal(outcome(caveats, call({}, { server: "mail" })), "server_not_allowed");
  assert.equal(outcome(caveats, call({}, { tool: "close_account" })), "tool_denied");
  assert.equal(outcome([...caveats, { type: "tools", allow: ["bank.read"] }], call({})), "tool_not_allowed");
});

void test("argument operators: each one allows and refuses", () => {
  const cases: [ArgOp, unknown, unknown, unknown][] = [
    ["eq", "alice", "alice", "bob"],
    ["ne", "admin", "user", "admin"],
    ["lt", 100, 99.5, 100],
    ["le", 100, 100, 100.01],
    ["gt", 0, 1, 0],
    ["ge", 0, 0, -1],
    ["in", ["EUR", "CHF"], "CHF", "USD"],
    ["not_in", ["root", "admin"], "alice", "root"],
    ["under", "/data", "/data/x.csv", "/etc/passwd"],
  ];
  for (const [op, value, allowed, refused] of cases) {
    assert.equal(outcome([arg("/v", op, value)], call({ v: allowed })), "ok", `${op} allows ${JSON.stringify(allowed)}`);
    assert.equal(outcome([arg("/v", op, value)], call({ v: refused })), "argument_violation", `${op} refuses ${JSON.stringify(refused)}`);
  }
});

void test("a missing argument is a violation for every operator, ne and not_in included", () => {
  for (const [op, value] of [["eq", 1], ["ne", 1], ["lt", 1], ["ge", 1], ["in", [1]], ["not_in", [1]], ["under", "/d"]] as [ArgOp, unknown][]) {
    assert.equal(outcome([arg("/v", op, value)], call({ other: 1 })), "argument_violation", op);
  }
  assert.equal(outcome([arg("/a/b", "eq", 1)], call({ a: "not an object" })), "argument_violation");
  assert.equal(outcome([arg("/v", "eq", 1)], call(null)), "argument_violation");
});

void test("a type mismatch is a violation: no coercion between strings, numbers and booleans", () => {
  assert.equal(outcome([arg("/v", "eq", 1000)], call({ v: "1000" })), "argument_violation");
  assert.equal(outcome([arg("/v", "le", 1000)], call({ v: "10" })), "argument_violation");
  assert.equal(outcome([arg("/v", "ge", 0)], call({ v: true })), "argument_violation");
  assert.equal(outcome([arg("/v", "in", [1, 2])], call({ v: "1" })), "argument_violation");
  assert.equal(outcome([arg("/v", "eq", null)], call({ v: false })), "argument_violation");
  assert.equal(outcome([arg("/v", "under", "/d")], call({ v: ["/d/x"] })), "argument_violation");
});

void test("eq compares JSON values canonically: key order does not matter, -0 equals 0", () => {
  assert.equal(outcome([arg("/v", "eq", { a: 1, b: [1, 2] })], call({ v: { b: [1, 2], a: 1 } })), "ok");
  assert.equal(outcome([arg("/v", "eq", { a: 1, b: [1, 2] })], call({ v: { a: 1, b: [2, 1] } })), "argument_violation");
  assert.equal(outcome([arg("/v", "eq", 0)], call({ v: -0 })), "ok");
});

void test("an argument constraint with tools applies to those tools only", () => {
  const caveats = [arg("/amount", "le", 10, ["bank.transfer"])];
  assert.equal(outcome(caveats, call({ amount: 50 })), "argument_violation");
  assert.equal(outcome(caveats, call({ amount: 50 }, { tool: "balance" })), "ok");
});

void test("under: .. traversal, // and look-alike prefixes cannot escape", () => {
  assert.equal(isUnder("/data/a/../b", "/data"), true);
  assert.equal(isUnder("/data/../etc/passwd", "/data"), false);
  assert.equal(isUnder("/data/a/../../etc", "/data"), false);
  assert.equal(isUnder("/data/..", "/data"), false);
  assert.equal(isUnder("//data//x", "/data"), true);
  assert.equal(isUnder("/data//../etc", "/data"), false);
  assert.equal(isUnder("/database/x", "/data"), false);
  assert.equal(isUnder("/data", "/data/"), true);
  assert.equal(isUnder("/data/", "/data"), true);
  assert.equal(isUnder("data/x", "/data"), false);
  assert.equal(isUnder("/data/x\0/../../etc", "/data"), false);
  assert.equal(isUnder("/anything", "/"), true);
  assert.equal(isUnder("/donn\u00e9es/\ud83d\udcc1/x", "/donn\u00e9es"), true);
});

const PROMPT = "Vire 1 250 \u20ac \u00e0 Zo\u00eb \u00c5ngstr\u00f6m \ud83d\udcb6 (\u8bf7\u786e\u8ba4)";

void test("prompt binding: a missing prompt is prompt_missing", () => {
  assert.equal(outcome([{ type: "prompt", sha256: promptSha256(PROMPT) }], call({})), "prompt_missing");
});

void test("prompt binding: another prompt is prompt_mismatch, NFD spelling included", () => {
  const bound: Caveat[] = [{ type: "prompt", sha256: promptSha256(PROMPT) }];
  assert.equal(outcome(bound, call({}, { prompt: PROMPT.replace("1 250", "9 250") })), "prompt_mismatch");
  assert.equal(outcome(bound, call({}, { prompt: PROMPT.normalize("NFD") })), "prompt_mismatch");
  const twice: Caveat[] = [...bound, { type: "prompt", sha256: promptSha256("another") }];
  assert.equal(outcome(twice, call({}, { prompt: PROMPT })), "prompt_mismatch");
});

void test("prompt binding: the same non-ASCII prompt matches, hashed as UTF-8", () => {
  const expected = "a1963d9303e107a47c08ad7e1ec2133f2b6772652b650018a7b12842ba8108f5";
  assert.equal(promptSha256("Paie la facture de Zo\u00eb \u00c5ngstr\u00f6m : 1 250,00 \u20ac \ud83d\udcb6"), expected);
  assert.equal(outcome([{ type: "prompt", sha256: promptSha256(PROMPT) }], call({}, { prompt: PROMPT })), "ok");
});
