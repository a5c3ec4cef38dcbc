import assert from "node:assert/strict";
import { hkdfSync } from "node:crypto";
import { test } from "node:test";
import { deriveTenantSecret, KeyError, KeyRing, newKeyId, newMasterEntry, type KeyFile, type KeyFileEntry } from "./keys.ts";
import { mintToken } from "./token/mint.ts";
import { verifyToken } from "./token/verify.ts";

const SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const entry = (kid: string, extra: Partial<KeyFileEntry> = {}): KeyFileEntry => ({ kid, scope: "master", secret: SECRET, created_at: "2026-01-01T00:00:00.000Z", ...extra });
const file = (keys: unknown[], active = "k1"): unknown => ({ version: 1, active, keys });
const problem = (value: unknown): string => {
  try {
    KeyRing.fromFile(value);
    return "valid";
  } catch (error) {
    assert.ok(error instanceof KeyError);
    assert.equal(error.code, "bad_key_file");
    return error.message;
  }
};

void test("key file validation: every problem is a bad_key_file KeyError naming it", () => {
  const cases: [unknown, RegExp][] = [
    [null, /JSON object/],
    ["keys", /JSON object/],
    [{ version: 2, active: "k1", keys: [entry("k1")] }, /version must be 1/],
    [{ version: 1, active: "k1" }, /no keys/],
    [file([]), /no keys/],
    [file([42]), /keys\[0\] must be an object/],
    [file([entry("bad kid!")]), /keys\[0\]\.kid/],
    [file([entry("k".repeat(65))]), /keys\[0\]\.kid/],
    [file([entry("k1"), entry("k1")]), /appears twice/],
    [file([entry("k1", { secret: SECRET.slice(0, 40) })]), /32 bytes/],
    [file([entry("k1", { secret: `${SECRET}=` })]), /32 bytes/],
    [file([entry("k1", { secret: SECRET.slice(0, -1) + "9" })]), /32 bytes/], // "8" -> "9" sets an unused trailing bit
    [file([entry("k1", { secret: Buffer.alloc(32).toString("base64") })]), /32 bytes/], // padded standard base64
    [file([{ ...entry("k1"), scope: "global" }]), /scope/],
    [file([entry("k1", { scope: "tenant" })]), /scope/],
    [file([entry("k1", { scope: "tenant", tenant: "" })]), /scope/],
    [file([entry("k1")], "k2"), /active kid/],
  ];
  for (const [value, message] of cases) assert.match(problem(value), message, JSON.stringify(value));
  assert.equal(problem(file([entry("k1"), entry("k2", { scope: "tenant", tenant: "acme" })])), "valid");
});

void test("tenant keys are HKDF-SHA256 of the master secret with the tenant as info", () => {
  const master = Buffer.from(SECRET, "base64url");
  const direct = Buffer.from(hkdfSync("sha256", master, "intentgate.tenant-key.v1", "soci\u00e9t\u00e9", 32));
  assert.deepEqual(deriveTenantSecret(master, "soci\u00e9t\u00e9"), direct);
  assert.notDeepEqual(deriveTenantSecret(master, "acme"), deriveTenantSecret(master, "acme "));
  assert.notDeepEqual(deriveTenantSecret(master, "soci\u00e9t\u00e9"), deriveTenantSecret(master, "socie\u0301te\u0301"));
});

void test("an unknown kid and a tenant-scoped key asked for another tenant are KeyErrors", () => {
  const ring = KeyRing.fromFile(file([entry("k1"), entry("t1", { scope: "tenant", tenant: "acme" })]));
  assert.throws(() => ring.tenantKey("k9", "acme"), (e: unknown) => e instanceof KeyError && e.code === "unknown_kid");
  assert.throws(() => ring.tenantKey("t1", "globex"), (e: unknown) => e instanceof KeyError && e.code === "wrong_tenant");
  assert.equal(ring.tenantKey("t1", "acme").export().toString("base64url"), SECRET, "a tenant-scoped secret is used as is");
});

void test("exportTenant writes derived tenant-scoped keys that verify the master's tokens", () => {
  const master = KeyRing.fromFile(file([entry("k1")]));
  const exported = master.exportTenant("acme", new Date(0));
  assert.deepEqual(exported.keys.map((k) => [k.kid, k.scope, k.tenant]), [["k1", "tenant", "acme"]]);
  assert.equal(exported.keys[0]?.secret, deriveTenantSecret(Buffer.from(SECRET, "base64url"), "acme").toString("base64url"));
  const token = mintToken(master, { tenant: "acme", subject: "a", issuedAt: 0 });
  assert.ok(verifyToken(token, { keys: KeyRing.fromFile(exported), now: 0 }).ok);
  const globexOnly = KeyRing.fromFile(file([entry("k1", { scope: "tenant", tenant: "globex" })]));
  assert.throws(() => globexOnly.exportTenant("acme"), (e: unknown) => e instanceof KeyError && e.code === "wrong_tenant");
});

void test("key rotation: an old kid still verifies after rotate and fails after retire", () => {
  const first = KeyRing.generateFile("k-old", new Date(0));
  const old = mintToken(KeyRing.fromFile(first), { tenant: "acme", subject: "a", issuedAt: 0 });
  const rotated: KeyFile = { ...first, active: "k-new", keys: [...first.keys, newMasterEntry("k-new")] };
  const ring = KeyRing.fromFile(rotated);
  assert.ok(verifyToken(old, { keys: ring, now: 0 }).ok);
  const fresh = mintToken(ring, { tenant: "acme", subject: "a", issuedAt: 0 });
  assert.equal(verifyToken(fresh, { keys: ring, now: 0 }).ok && JSON.parse(Buffer.from(fresh.split(".")[1] as string, "base64url").toString()).kid, "k-new");
  const retired = KeyRing.fromFile({ ...rotated, keys: rotated.keys.filter((k) => k.kid !== "k-old") });
  const result = verifyToken(old, { keys: retired, now: 0 });
  assert.equal(result.ok ? "ok" : result.code, "unknown_kid");
  assert.ok(verifyToken(fresh, { keys: retired, now: 0 }).ok);
});

void test("generated key files are valid, with fresh 32-byte secrets and dated kids", () => {
  const a = KeyRing.generateFile();
  const b = KeyRing.generateFile();
  assert.equal(KeyRing.fromFile(a).activeKid, a.active);
  assert.notEqual(a.keys[0]?.secret, b.keys[0]?.secret);
  assert.equal(Buffer.from(a.keys[0]?.secret ?? "", "base64url").length, 32);
  assert.match(newKeyId(new Date("2026-03-04T00:00:00Z")), /^k20260304-[0-9a-f]{6}$/);
});
