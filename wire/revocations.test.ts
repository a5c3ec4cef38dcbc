import assert from "node:assert/strict";
import { test } from "node:test";
import { parseRevocationFile, RevocationFileError, RevocationSet } from "./revocations.ts";

void test("a revocation set answers whether any of a token's ids is listed", () => {
  const set = RevocationSet.fromFile({ version: 1, revoked: [{ id: "hop-00000001", revoked_at: "2026-01-01T00:00:00Z" }] });
  assert.equal(set.size, 1);
  assert.equal(set.isRevoked(["tok-00000001", "hop-00000001", "hop-00000002"]), true);
  assert.equal(set.isRevoked(["tok-00000001"]), false);
  assert.equal(set.isRevoked([]), false);
});

void test("revocation file validation", () => {
  for (const bad of [null, [], { version: 2, revoked: [] }, { version: 1 }, { version: 1, revoked: [{ id: "short" }] }, { version: 1, revoked: [{ id: 12345678 }] }, { version: 1, revoked: [null] }]) {
    assert.throws(() => parseRevocationFile(bad), RevocationFileError, JSON.stringify(bad));
  }
  assert.deepEqual(parseRevocationFile({ version: 1, revoked: [] }), { version: 1, revoked: [] });
});
