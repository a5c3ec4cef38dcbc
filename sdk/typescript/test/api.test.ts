// The SDK's own API: prompt binding, inspection, widening refused, memory key files, MCP helpers,
// and that the gateway's wire/ runs this very code (one implementation).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { posix } from "node:path";
import { test } from "node:test";
import * as wire from "../../../wire/index.ts";
import {
  attenuateToken,
  bindPrompt,
  caveatProblem,
  checkCoverage,
  foldCaveats,
  inspectToken,
  KeyError,
  MemoryKeyError,
  MemoryWriter,
  mintToken,
  promptSha256,
  refusalOf,
  sidecarTransportOptions,
  TokenBuildError,
  TokenKeys,
  toolCallMeta,
  verifyMemoryItem,
  verifyToken,
} from "../src/index.ts";
import { normalizeAbsolute } from "../src/token/path.ts";

const KEY_FILE = {
  version: 1 as const,
  active: "k1",
  keys: [{ kid: "k1", scope: "master" as const, secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", created_at: "2026-01-01T00:00:00.000Z" }],
};
const NOW = 1767225600;
const keys = TokenKeys.fromFile(KEY_FILE);
const call = { server: "files", tool: "read_file", arguments: { path: "/data/r\u00e9sum\u00e9.txt" }, agent: "agent-1" };

void test("the gateway's wire/ runs the SDK's code: same functions and error classes", () => {
  assert.equal(wire.caveatProblem, caveatProblem);
  assert.equal(wire.foldCaveats, foldCaveats);
  assert.equal(wire.KeyError, KeyError);
  assert.equal(wire.TokenBuildError, TokenBuildError);
  assert.equal(wire.MemoryKeyError, MemoryKeyError);
});

void test("a token minted by the gateway's code verifies in the SDK, and the reverse", async () => {
  const ring = wire.KeyRing.fromFile(KEY_FILE);
  const fromWire = wire.mintToken(ring, { tenant: "acme", subject: "agent-1", issuedAt: NOW, caveats: [{ type: "tools", allow: ["files.*"] }] });
  assert.ok((await verifyToken(fromWire, { keys, now: NOW })).ok);
  const fromSdk = await attenuateToken(await mintToken(keys, { tenant: "acme", subject: "agent-1", issuedAt: NOW }), [{ type: "tools", allow: ["files.read_file"] }]);
  assert.ok(wire.verifyToken(fromSdk, { keys: ring, now: NOW }).ok);
});

void test("bindPrompt: the token then covers the call only with that exact prompt", async () => {
  const prompt = "Lis le r\u00e9sum\u00e9 de Zo\u00eb \ud83d\udcc4";
  const token = await bindPrompt(await mintToken(keys, { tenant: "acme", subject: "agent-1", issuedAt: NOW }), prompt);
  const verified = await verifyToken(token, { keys, now: NOW });
  assert.ok(verified.ok);
  assert.deepEqual(verified.effective.promptSha256, [await promptSha256(prompt)]);
  assert.equal(await promptSha256(prompt), wire.promptSha256(prompt));
  assert.deepEqual(await checkCoverage(verified.effective, { ...call, prompt }), { ok: true });
  assert.equal((await checkCoverage(verified.effective, { ...call, prompt: `${prompt} ` })).ok, false);
  assert.equal((await checkCoverage(verified.effective, call)).ok, false);
});

void test("a hop that lists a tool outside its parent's still cannot call it (attenuation only narrows)", async () => {
  const parent = await mintToken(keys, { tenant: "acme", subject: "agent-1", issuedAt: NOW, caveats: [{ type: "tools", allow: ["files.read_file"] }] });
  const widened = await attenuateToken(parent, [{ type: "tools", allow: ["files.delete_file", "files.read_file"] }]);
  const verified = await verifyToken(widened, { keys, now: NOW });
  assert.ok(verified.ok);
  const result = await checkCoverage(verified.effective, { ...call, tool: "delete_file" });
  assert.equal(result.ok ? "ok" : result.code, "tool_not_allowed");
  // Dropping the parent's caveat instead breaks the HMAC chain.
  const parts = widened.split(".");
  const dropped = [...parts.slice(0, 2), ...parts.slice(3)].join(".");
  const refused = await verifyToken(dropped, { keys, now: NOW });
  assert.equal(refused.ok ? "ok" : refused.code, "bad_signature");
});

void test("inspectToken reads claims without a key and refuses what is not a token", async () => {
  const token = await attenuateToken(await mintToken(keys, { tenant: "acme", subject: "agent-1", issuedAt: NOW, id: "tok-inspect-01" }), [{ type: "expires", at: NOW + 60 }], { hopId: "hop-inspect-1" });
  const seen = inspectToken(token);
  assert.ok(seen.ok);
  assert.deepEqual(seen.revocationIds, ["tok-inspect-01", "hop-inspect-1"]);
  assert.equal(seen.effective.expiresAt, NOW + 60);
  const bad = inspectToken(`${token}x`);
  assert.equal(bad.ok ? "ok" : bad.code, "malformed");
  await assert.rejects(attenuateToken(token, [{ type: "hop", id: "sneaky-hop-1" }]), (e: unknown) => e instanceof TokenBuildError && e.code === "invalid_caveat");
});

void test("memory writer key files: round trip, public-only files cannot sign, a wrong public key is refused", async () => {
  const writer = await MemoryWriter.fromKeys(keys, "acme", "crm-sync");
  const again = await MemoryWriter.fromFile(writer.toFile(true));
  const item = await again.sign({ id: "m1", content: "IBAN NL12ACME0123456", writtenAt: NOW });
  const publicOnly = await MemoryWriter.fromFile(writer.toFile(false));
  assert.equal(publicOnly.canSign, false);
  await assert.rejects(publicOnly.sign({ id: "m2", content: "x", writtenAt: NOW }), MemoryKeyError);
  const other = await MemoryWriter.fromKeys(keys, "acme", "other-writer");
  await assert.rejects(MemoryWriter.fromFile({ ...writer.toFile(true), public_key: other.toFile(false).public_key }), MemoryKeyError);
  const options = { tenant: "acme", now: NOW, skewSeconds: 30, publicKey: () => publicOnly.publicKey };
  assert.ok((await verifyMemoryItem({ ...item, content: "IBAN NL12ACME0123456" }, options)).ok);
  const unsigned = await verifyMemoryItem({ ...item, signature: "", content: "x" }, options);
  assert.equal(unsigned.ok ? "ok" : unsigned.code, "memory_unsigned");
  const foreign = await verifyMemoryItem({ ...item, content: "IBAN NL12ACME0123456" }, { ...options, tenant: "globex" });
  assert.equal(foreign.ok ? "ok" : foreign.code, "memory_foreign_tenant");
});

void test("MCP helpers: the transport options carry the token; a token function is asked per request", async () => {
  assert.deepEqual(sidecarTransportOptions("igt1.abc"), { requestInit: { headers: { authorization: "Bearer igt1.abc" } } });
  const seen: string[] = [];
  let n = 0;
  const options = sidecarTransportOptions(() => `igt1.t${++n}`, {
    fetch: (_url, init) => {
      seen.push(new Headers(init?.headers).get("authorization") ?? "");
      return Promise.resolve(new Response("{}"));
    },
  });
  await options.fetch?.("http://127.0.0.1/mcp", { headers: { accept: "application/json" } });
  await options.fetch?.("http://127.0.0.1/mcp");
  assert.deepEqual(seen, ["Bearer igt1.t1", "Bearer igt1.t2"]);
  assert.deepEqual(toolCallMeta({ prompt: "p" }), { "dev.intentgate/prompt": "p" });
  const refusal = refusalOf({ isError: true, content: [], _meta: { "dev.intentgate/decision": { decision: "block", code: "tool_not_allowed", reason: "no", decision_id: "d1" } } });
  assert.deepEqual(refusal, { decision: "block", code: "tool_not_allowed", reason: "no", decisionId: "d1" });
  assert.equal(refusalOf({ content: [] }), undefined);
});

void test("path normalisation decides `under` exactly as node:path's posix.normalize does", () => {
  const parts = ["", ".", "..", "a", "b.", "..b", "...", "c d", "\u00e9"];
  let checked = 0;
  for (const a of parts) for (const b of parts) for (const c of parts) {
    for (const path of [`/${a}/${b}/${c}`, `//${a}//${b}/${c}/`, `/${a}/../${b}/./${c}`]) {
      const expected = posix.normalize(path).replace(/\/+$/, "") || "/";
      assert.equal(normalizeAbsolute(path), expected, path);
      checked++;
    }
  }
  assert.ok(checked > 2000);
});

void test("the SDK's sources import no Node module (browsers and edge runtimes run them)", () => {
  const root = new URL("../src/", import.meta.url);
  for (const file of readdirSync(root, { recursive: true, encoding: "utf8" })) {
    if (!file.endsWith(".ts")) continue;
    const code = readFileSync(new URL(file, root), "utf8")
      .split("\n")
      .filter((line) => !/^\s*(\/\/|\/\*\*|\*)/.test(line))
      .join("\n");
    assert.doesNotMatch(code, /from\s+"node:|require\(|\bBuffer\b|\bprocess\./, file);
  }
});
