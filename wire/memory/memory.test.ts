import assert from "node:assert/strict";
import { hkdfSync } from "node:crypto";
import { test } from "node:test";
import { KeyRing } from "../keys.ts";
import { contentSha256, memoryItemProblem, type MemoryItem } from "./item.ts";
import { deriveWriterSeed, MemoryKeyError, ringWriterKeys, WriterKey } from "./keys.ts";
import { signMemoryItem, verifyMemoryItem, type VerifyMemoryOptions } from "./verify.ts";

const SECRET = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
const ring = KeyRing.fromFile({ version: 1, active: "k1", keys: [{ kid: "k1", scope: "master", secret: SECRET, created_at: "2026-01-01T00:00:00.000Z" }] });
const CONTENT = "Acme Corp IBAN: NL12ACME0123456";
const WRITTEN = 1767225600;
const key = WriterKey.fromRing(ring, "acme", "crm-sync");
const options = (extra: Partial<VerifyMemoryOptions> = {}): VerifyMemoryOptions => ({ tenant: "acme", now: WRITTEN + 60, skewSeconds: 30, keys: ringWriterKeys(ring), ...extra });
const signed = (extra: { expiresAt?: number; writtenAt?: number; id?: string } = {}, k: WriterKey = key): MemoryItem =>
  signMemoryItem(k, { id: extra.id ?? "mem-001", content: CONTENT, writtenAt: extra.writtenAt ?? WRITTEN, ...(extra.expiresAt !== undefined ? { expiresAt: extra.expiresAt } : {}) });
const code = (value: unknown, extra: Partial<VerifyMemoryOptions> = {}): string => {
  const r = verifyMemoryItem(value, options(extra));
  return r.ok ? "ok" : r.code;
};

void test("writer seeds are HKDF-SHA256 of the tenant key, salt intentgate.memory-writer.v1, the writer as info", () => {
  const master = Buffer.from(SECRET, "base64url");
  const tenantSecret = Buffer.from(hkdfSync("sha256", master, "intentgate.tenant-key.v1", "acme", 32));
  const direct = Buffer.from(hkdfSync("sha256", tenantSecret, "intentgate.memory-writer.v1", "crm-sync", 32));
  assert.deepEqual(deriveWriterSeed(ring.tenantKey("k1", "acme"), "crm-sync"), direct);
  // A sidecar's tenant-scoped key file derives the same writer keys as the master.
  const tenantRing = KeyRing.fromFile(ring.exportTenant("acme"));
  assert.equal(WriterKey.fromRing(tenantRing, "acme", "crm-sync").toFile(false).public_key, key.toFile(false).public_key);
  const other = new Set([
    key.toFile(false).public_key,
    WriterKey.fromRing(ring, "acme", "crm-sync2").toFile(false).public_key,
    WriterKey.fromRing(ring, "globex", "crm-sync").toFile(false).public_key,
  ]);
  assert.equal(other.size, 3, "writers and tenants never share a key");
  assert.throws(() => deriveWriterSeed(ring.tenantKey("k1", "acme"), "bad writer"), MemoryKeyError);
});

void test("pinned vector: derivation, canonical bytes and Ed25519 signature (reproduced with Python HKDF and OpenSSL)", () => {
  assert.deepEqual(key.toFile(true), {
    version: 1,
    kind: "intentgate.memory-writer-key",
    tenant: "acme",
    writer: "crm-sync",
    kid: "k1",
    public_key: "NWlPzrFonYhj9PPXQStPSTQidXO9HMqZcWirpwnvC48",
    private_key: "hb9NgoZRctPvUWXs1QPFyr2j6Fctec0naoYCIXS7LqE",
  });
  assert.deepEqual(signed({ expiresAt: 1798761600 }), {
    id: "mem-001",
    tenant: "acme",
    writer: "crm-sync",
    content_sha256: "50d93b8369f32720b881086a75952fd7653de960622b04ec06a1b350375571a6",
    written_at: 1767225600,
    expires_at: 1798761600,
    kid: "k1",
    signature: "oV_crBirygGNgEXk4pOL50FY2vHNRZrJR2GxnNmfRT0x4FOdGa0U15Ky-Wg15qQJOdoOjzc3H_RWODJ4M0xlAA",
  });
});

void test("a signed item presented with its content verifies, with the ring or with the writer's public key alone", () => {
  const item = { ...signed(), content: CONTENT };
  assert.deepEqual(verifyMemoryItem(item, options()), { ok: true, id: "mem-001", writer: "crm-sync" });
  const publicOnly = WriterKey.fromFile(key.toFile(false));
  assert.equal(publicOnly.canSign, false);
  assert.throws(() => publicOnly.signingKey(), MemoryKeyError);
  assert.equal(code(item, { keys: publicOnly.lookup() }), "ok");
});

void test("every failure has its code", () => {
  const item = { ...signed(), content: CONTENT };
  const planted = { id: "mem-002", content: "Acme Corp IBAN: NL00ATTACKER" };
  assert.equal(code(planted), "memory_unsigned");
  assert.equal(code({ ...item, signature: "" }), "memory_unsigned");
  assert.equal(code({ ...item, signature: null }), "memory_unsigned");
  assert.equal(code({ ...item, content: "Acme Corp IBAN: NL00ATTACKER" }), "memory_altered", "content changed in the store");
  assert.equal(code({ ...item, content: "Acme Corp IBAN: NL00ATTACKER", content_sha256: contentSha256("Acme Corp IBAN: NL00ATTACKER") }), "memory_altered", "hash rewritten too");
  assert.equal(code({ ...item, written_at: WRITTEN + 1 }), "memory_altered", "a signed field changed");
  const flipped = item.signature.slice(0, 10) + (item.signature[10] === "A" ? "B" : "A") + item.signature.slice(11);
  assert.equal(code({ ...item, signature: flipped }), "memory_altered");
  const forged = { ...signed({}, WriterKey.fromRing(KeyRing.fromFile(KeyRing.generateFile("k1")), "acme", "crm-sync")), content: CONTENT };
  assert.equal(code(forged), "memory_altered", "signed with another master key under the same kid");
  assert.equal(code({ ...signed({}, WriterKey.fromRing(ring, "globex", "crm-sync")), content: CONTENT }), "memory_foreign_tenant");
  assert.equal(code(item, { writers: ["billing"] }), "memory_untrusted_writer");
  assert.equal(code(item, { writers: ["billing", "crm-sync"] }), "ok");
  assert.equal(code({ ...item, kid: "k9" }), "memory_unknown_key");
  assert.equal(code(item, { keys: KeyRing.fromFile(ring.exportTenant("globex")) && ringWriterKeys(KeyRing.fromFile(ring.exportTenant("globex"))) }), "memory_unknown_key", "a ring that cannot derive for this tenant");
  assert.equal(code({ ...signed({ expiresAt: WRITTEN + 10 }), content: CONTENT }, { now: WRITTEN + 100 }), "memory_expired");
  assert.equal(code({ ...signed({ expiresAt: WRITTEN + 10 }), content: CONTENT }, { now: WRITTEN + 20 }), "ok", "within the skew");
  assert.equal(code(item, { now: WRITTEN + 7200, maxAgeSeconds: 3600 }), "memory_expired");
  assert.equal(code(item, { now: WRITTEN - 600 }), "memory_not_yet_valid");
  assert.equal(code(item, { maxContentBytes: 8 }), "memory_malformed");
  assert.equal(code({ ...item, note: "rides along" }), "memory_malformed");
  assert.equal(code({ ...signed() }), "memory_malformed", "content missing");
  assert.equal(code({ ...item, written_at: "yesterday" }), "memory_malformed");
  assert.equal(code({ ...item, signature: `${item.signature.slice(0, -1)}B` }), "memory_malformed", "non-canonical base64url");
  assert.equal(code("mem-001"), "memory_malformed");
  assert.equal(code(null), "memory_malformed");
});

void test("the shape check refuses unknown members and an expiry before the write; signing refuses bad input", () => {
  const item = signed();
  assert.equal(memoryItemProblem(item, false), undefined);
  assert.match(memoryItemProblem({ ...item, content: "x" }, false) ?? "", /unknown member "content"/);
  assert.match(memoryItemProblem({ ...item, expires_at: WRITTEN }, false) ?? "", /expires before/);
  assert.throws(() => signMemoryItem(key, { id: "", content: CONTENT, writtenAt: WRITTEN }), /invalid "id"/);
  assert.throws(() => signMemoryItem(key, { id: "x", content: CONTENT, writtenAt: WRITTEN, expiresAt: WRITTEN - 1 }), /expires before/);
});

void test("the verified-signature cache only ever remembers successes and cannot make an altered item pass", () => {
  const seen = new Set<string>();
  const item = { ...signed(), content: CONTENT };
  assert.equal(code(item, { verified: seen }), "ok");
  assert.equal(seen.size, 1);
  assert.equal(code({ ...item, written_at: WRITTEN + 1 }, { verified: seen }), "memory_altered");
  assert.equal(code({ ...item, id: "mem-009" }, { verified: seen }), "memory_altered");
  assert.equal(seen.size, 1);
});

void test("writer key files: round trip, and every inconsistency refused", () => {
  const file = key.toFile(true);
  const back = WriterKey.fromFile(file);
  assert.equal(back.canSign, true);
  assert.equal(code({ ...signed({}, back), content: CONTENT }), "ok");
  const bad = (value: unknown): void => assert.throws(() => WriterKey.fromFile(value), (e: unknown) => e instanceof MemoryKeyError && e.code === "bad_writer_key_file");
  bad(null);
  bad({ ...file, version: 2 });
  bad({ ...file, kind: "other" });
  bad({ ...file, writer: "no spaces allowed" });
  bad({ ...file, public_key: WriterKey.fromRing(ring, "acme", "other").toFile(false).public_key });
  bad({ ...file, private_key: "AAAA" });
});
