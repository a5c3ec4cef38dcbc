import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDurationSeconds } from "./duration.ts";

void test("durations with units, or bare seconds", () => {
  assert.equal(parseDurationSeconds("90s"), 90);
  assert.equal(parseDurationSeconds("15m"), 900);
  assert.equal(parseDurationSeconds("1h"), 3600);
  assert.equal(parseDurationSeconds("7d"), 604800);
  assert.equal(parseDurationSeconds("45"), 45);
});

void test("anything else is refused: zero, fractions, negatives, unknown units", () => {
  for (const text of ["0", "0s", "1.5h", "-1m", "1w", "h", "", "1 h", "9999999999"]) assert.equal(parseDurationSeconds(text), undefined, text);
});
