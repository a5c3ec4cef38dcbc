// The SDK's sources (Web Crypto) against the committed vectors: tokens, coverage, tampered tokens and
// memory items (signed by node:crypto when the vectors were built).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  attenuateToken,
  checkCoverage,
  deriveTenantKey,
  encodeBase64url,
  mintToken,
  MemoryWriter,
  TokenKeys,
  verifyMemoryItem,
  verifyToken,
  type Caveat,
  type KeyFile,
  type ToolCall,
  type VerifyResult,
} from "../src/index.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- vectors are JSON of many shapes; the assertions check them
const read = (path: string): any => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8"));
const tokens = read("../../../test/vectors/capability-tokens.json");
const memory = read("../../../test/sdk/vectors/memory-items.json");
const rings: Record<string, TokenKeys> = Object.fromEntries(Object.entries(tokens.key_files as Record<string, KeyFile>).map(([n, f]) => [n, TokenKeys.fromFile(f)]));

interface VerifyInput { key_file: string; now: number; skew_seconds?: number; revoked_ids?: string[] }
const run = (token: string, v: VerifyInput): Promise<VerifyResult> => {
  const revoked = new Set(v.revoked_ids ?? []);
  return verifyToken(token, {
    keys: rings[v.key_file] as TokenKeys,
    now: v.now,
    ...(v.skew_seconds === undefined ? {} : { skewSeconds: v.skew_seconds }),
    ...(v.revoked_ids === undefined ? {} : { revocations: { isRevoked: (ids: readonly string[]) => ids.some((id) => revoked.has(id)) } }),
  });
};
const outcome = (r: VerifyResult): unknown => (r.ok ? { ok: true, effective: r.effective } : { ok: false, code: r.code });

void test("tenant keys: HKDF over Web Crypto gives the vectors' keys", async () => {
  for (const k of tokens.tenant_keys) {
    const master = Buffer.from(k.master_secret, "base64url");
    assert.equal(Buffer.from(await deriveTenantKey(master, k.tenant)).toString("hex"), k.derived_hex);
  }
});

for (const c of tokens.cases) {
  void test(`tokens: ${c.name}: mint, attenuate, verify and coverage as the vectors say`, async () => {
    const h = c.header;
    assert.equal(await mintToken(rings["rotated"] as TokenKeys, { tenant: h.tenant, subject: h.subject, issuer: h.issuer, caveats: c.caveats, issuedAt: h.issued_at, id: h.id, kid: h.kid }), c.tokens[0]);
    for (const [i, hop] of (c.hops as { id: string; caveats: Caveat[] }[]).entries()) {
      assert.equal(await attenuateToken(c.tokens[i], hop.caveats, { hopId: hop.id }), c.tokens[i + 1]);
    }
    for (const v of c.verify) assert.deepEqual(outcome(await run(c.tokens[v.token_index], v)), v.expect, `verify at ${v.now} with ${v.key_file}`);
    const first = await run(c.token, c.verify[0]);
    assert.ok(first.ok);
    for (const cov of c.coverage as { name: string; call: ToolCall; expect: string }[]) {
      const result = await checkCoverage(first.effective, cov.call);
      assert.equal(result.ok ? "ok" : result.code, cov.expect, cov.name);
    }
  });
}

void test("tokens: every tampered token is refused with its code", async () => {
  for (const r of tokens.refused) assert.deepEqual(outcome(await run(r.token, r)), r.expect, r.name);
});

void test("memory: Web Crypto Ed25519 signs exactly what node:crypto signed, and verifies it", async () => {
  const keys = TokenKeys.fromFile(memory.key_file);
  for (const w of memory.writers) {
    const writer = await MemoryWriter.fromKeys(keys, w.tenant, w.writer, w.kid);
    assert.equal(encodeBase64url(writer.publicKey), w.public_key);
    assert.equal(writer.toFile(true).private_key, w.seed);
    for (const item of w.items) {
      const s = item.signed;
      assert.deepEqual(await writer.sign({ id: s.id, content: item.content, writtenAt: s.written_at, ...(s.expires_at === undefined ? {} : { expiresAt: s.expires_at }) }), s);
      const options = { tenant: w.tenant, now: memory.now, skewSeconds: 30, publicKey: () => writer.publicKey };
      assert.deepEqual(await verifyMemoryItem({ ...s, content: item.content }, options), { ok: true, id: s.id, writer: w.writer });
      const altered = await verifyMemoryItem({ ...s, content: `${item.content}!` }, options);
      assert.equal(altered.ok ? "ok" : altered.code, "memory_altered");
      const forged = await verifyMemoryItem({ ...s, written_at: s.written_at + 1, content: item.content }, options);
      assert.equal(forged.ok ? "ok" : forged.code, "memory_altered");
    }
  }
});
