// Checks every committed vector against the code, re-derives keys and tags with node:crypto directly (not
// through wire/), and regenerates both files to prove they are exactly what the code produces today.
import assert from "node:assert/strict";
import { createHmac, hkdfSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  attenuateToken,
  canonicalize,
  CanonicalizationError,
  checkCoverage,
  deriveTenantSecret,
  KeyRing,
  mintToken,
  type Caveat,
  type CoverageErrorCode,
  type KeyFile,
  type TokenHeader,
  type ToolCall,
} from "../../wire/index.ts";
import { buildTokenVectors, outcome, runVerify } from "./build-token-vectors.ts";
import { buildCanonicalJsonVectors, CANONICAL_JSON_FILE, CAPABILITY_TOKENS_FILE, render } from "./generate.ts";

interface Verify { token_index: number; key_file: string; now: number; skew_seconds?: number; revoked_ids?: string[]; expect: unknown }
interface Case {
  name: string;
  header: TokenHeader;
  caveats: Caveat[];
  hops: { id: string; caveats: Caveat[] }[];
  steps: { segment: string; tag_hex: string }[];
  tokens: string[];
  token: string;
  verify: Verify[];
  coverage: { name: string; call: ToolCall; expect: "ok" | CoverageErrorCode }[];
}
interface TokenVectors {
  key_files: Record<string, KeyFile>;
  tenant_keys: { kid: string; master_secret: string; tenant: string; derived_hex: string }[];
  cases: Case[];
  refused: (Verify & { name: string; token: string; expect: { ok: boolean; code?: string } })[];
}

const jcsText = readFileSync(CANONICAL_JSON_FILE, "utf8");
const tokenText = readFileSync(CAPABILITY_TOKENS_FILE, "utf8");
const jcs = JSON.parse(jcsText) as ReturnType<typeof buildCanonicalJsonVectors>;
const vectors = JSON.parse(tokenText) as TokenVectors;
const rings = Object.fromEntries(Object.entries(vectors.key_files).map(([name, file]) => [name, KeyRing.fromFile(file)]));

void test("canonical-json: every case canonicalizes to the expected UTF-8 bytes", () => {
  assert.ok(jcs.canonical.length >= 9);
  for (const c of jcs.canonical) {
    assert.equal(Buffer.from(c.expected, "utf8").toString("hex"), c.expected_utf8_hex, `${c.name}: file is self-consistent`);
    assert.equal(Buffer.from(canonicalize(JSON.parse(c.input)), "utf8").toString("hex"), c.expected_utf8_hex, c.name);
  }
});

void test("canonical-json: RFC 8785 Appendix B numbers serialise as expected", () => {
  for (const n of jcs.numbers) {
    assert.equal(canonicalize(Buffer.from(n.ieee754_hex, "hex").readDoubleBE(0)), n.expected, n.ieee754_hex);
  }
});

void test("canonical-json: NaN and infinities, lone surrogates and overflowing numbers are refused", () => {
  for (const n of jcs.number_refusals) {
    assert.throws(() => canonicalize(Buffer.from(n.ieee754_hex, "hex").readDoubleBE(0)), CanonicalizationError, n.why);
  }
  for (const r of jcs.refused) assert.throws(() => canonicalize(JSON.parse(r.input)), CanonicalizationError, r.name);
});

void test("canonical-json: the committed file is what generate.ts writes", () => {
  assert.equal(render(buildCanonicalJsonVectors()), jcsText);
});

void test("capability-tokens: tenant keys are HKDF-SHA256(master, salt, tenant) computed directly", () => {
  assert.equal(vectors.tenant_keys.length, 6);
  for (const k of vectors.tenant_keys) {
    const master = Buffer.from(k.master_secret, "base64url");
    const direct = Buffer.from(hkdfSync("sha256", master, "intentgate.tenant-key.v1", Buffer.from(k.tenant, "utf8"), 32));
    assert.equal(direct.toString("hex"), k.derived_hex, `${k.kid}/${k.tenant}`);
    assert.equal(deriveTenantSecret(master, k.tenant).toString("hex"), k.derived_hex);
  }
  for (const entry of vectors.key_files["acme_only"]?.keys ?? assert.fail("no acme_only key file")) {
    const expected = vectors.tenant_keys.find((k) => k.kid === entry.kid && k.tenant === "acme");
    assert.equal(Buffer.from(entry.secret, "base64url").toString("hex"), expected?.derived_hex);
  }
});

const derivedKey = (h: TokenHeader): Buffer => {
  const k = vectors.tenant_keys.find((t) => t.kid === h.kid && t.tenant === h.tenant);
  return Buffer.from(k?.derived_hex ?? assert.fail(`no tenant key for ${h.kid}/${h.tenant}`), "hex");
};

for (const c of vectors.cases) {
  void test(`capability-tokens: ${c.name}: segments are the JCS of the inputs, in order`, () => {
    const values: unknown[] = [c.header, ...c.caveats, ...c.hops.flatMap((h) => [{ type: "hop", id: h.id }, ...h.caveats])];
    assert.deepEqual(c.steps.map((s) => s.segment), values.map((v) => canonicalize(v)));
  });

  void test(`capability-tokens: ${c.name}: tags follow the HMAC chain and tokens join the segments`, () => {
    let key: Buffer = derivedKey(c.header);
    for (const step of c.steps) {
      key = createHmac("sha256", key).update(Buffer.from(step.segment, "utf8")).digest();
      assert.equal(key.toString("hex"), step.tag_hex);
    }
    // tokens[n] holds the header, the minted caveats and hops 1..n.
    let count = 1 + c.caveats.length;
    const counts = [count, ...c.hops.map((h) => (count += 1 + h.caveats.length))];
    assert.equal(c.tokens.length, counts.length);
    c.tokens.forEach((token, i) => {
      const n = counts[i] as number;
      const parts = c.steps.slice(0, n).map((s) => Buffer.from(s.segment, "utf8").toString("base64url"));
      const tag = Buffer.from(c.steps[n - 1]?.tag_hex ?? "", "hex").toString("base64url");
      assert.equal(token, ["igt1", ...parts, tag].join("."), `tokens[${i}]`);
    });
    assert.equal(c.token, c.tokens.at(-1));
  });

  void test(`capability-tokens: ${c.name}: mint and attenuate reproduce the tokens`, () => {
    const h = c.header;
    const minted = mintToken(rings["rotated"] as KeyRing, { tenant: h.tenant, subject: h.subject, issuer: h.issuer, caveats: c.caveats, issuedAt: h.issued_at, id: h.id, kid: h.kid });
    assert.equal(minted, c.tokens[0]);
    c.hops.forEach((hop, i) => assert.equal(attenuateToken(c.tokens[i] as string, hop.caveats, { hopId: hop.id }), c.tokens[i + 1]));
  });

  void test(`capability-tokens: ${c.name}: verification outcomes and coverage`, () => {
    for (const v of c.verify) {
      assert.deepEqual(outcome(runVerify(rings, c.tokens[v.token_index] as string, v)), v.expect, `verify at ${v.now} with ${v.key_file}`);
    }
    const first = runVerify(rings, c.token, c.verify[0] ?? assert.fail("no verify entry"));
    assert.ok(first.ok, "verify[0] accepts the last token");
    for (const cov of c.coverage) {
      const result = checkCoverage(first.effective, cov.call);
      assert.equal(result.ok ? "ok" : result.code, cov.expect, cov.name);
    }
  });
}

void test("capability-tokens: every tampered token is refused with its code", () => {
  assert.ok(vectors.refused.length >= 20);
  for (const r of vectors.refused) {
    assert.equal(r.expect.ok, false, `${r.name} is a refusal`);
    assert.deepEqual(outcome(runVerify(rings, r.token, r)), r.expect, r.name);
  }
});

void test("capability-tokens: the committed file is what generate.ts writes", () => {
  assert.equal(render(buildTokenVectors()), tokenText);
});
