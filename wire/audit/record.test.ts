// safeText: what long or malformed caller-controlled text becomes in a record.
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalize } from "../jcs.ts";
import { MAX_FIELD_CHARS, safeText } from "./record.ts";

test("short text is kept; lone surrogates become U+FFFD", () => {
  assert.equal(safeText("read_file"), "read_file");
  assert.equal(safeText("a\ud800b"), "a\ufffdb");
});

test("long text is cut with a marker that counts what was cut", () => {
  const cut = safeText("x".repeat(MAX_FIELD_CHARS + 10));
  assert.equal(cut, `${"x".repeat(MAX_FIELD_CHARS)}…[10 more characters]`);
});

test("a cut never splits a surrogate pair, so the record can still be canonicalised", () => {
  const text = `${"a".repeat(MAX_FIELD_CHARS - 1)}😀${"b".repeat(5)}`;
  const cut = safeText(text);
  assert.ok(cut.isWellFormed());
  assert.equal(cut, `${"a".repeat(MAX_FIELD_CHARS - 1)}…[7 more characters]`);
  assert.doesNotThrow(() => canonicalize({ reason: cut }));
});
