// The committed memory-item vectors are exactly what the gateway's node:crypto code signs today.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { MEMORY_VECTORS_FILE, renderMemoryVectors } from "./memory-vectors.ts";

void test("memory-items.json is what memory-vectors.ts writes (node:crypto's Ed25519, the spec's §8 vector first)", () => {
  const text = readFileSync(MEMORY_VECTORS_FILE, "utf8");
  assert.equal(renderMemoryVectors(), text);
  assert.match(text, /oV_crBirygGNgEXk4pOL50FY2vHNRZrJR2GxnNmfRT0x4FOdGa0U15Ky-Wg15qQJOdoOjzc3H_RWODJ4M0xlAA/);
});
