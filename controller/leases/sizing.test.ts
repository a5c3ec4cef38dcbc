// Slice sizing on its own: the whole ask far from the ceiling, shares near it, never below one call
// or the waiting call's cost, never above what is left, refused exactly when nothing fits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { sizeSlice } from "./sizing.ts";

const none = { calls: 0, cost: 0, otherHolders: 0 };

test("far from the ceiling a holder gets what it asks for", () => {
  assert.deepEqual(sizeSlice({ calls: 1000 }, none, { calls: 20, minCost: 1 }), { ok: true, calls: 20, cost: null });
  assert.deepEqual(sizeSlice({ cost: 1000 }, none, { calls: 20, minCost: 2 }), { ok: true, calls: 20, cost: 40 });
});

test("near the ceiling slices shrink to half a share of what is left, and never below one call", () => {
  assert.deepEqual(sizeSlice({ calls: 100 }, { calls: 60, cost: 0, otherHolders: 3 }, { calls: 20, minCost: 0 }), { ok: true, calls: 5, cost: null });
  assert.deepEqual(sizeSlice({ calls: 100 }, { calls: 98, cost: 0, otherHolders: 3 }, { calls: 20, minCost: 0 }), { ok: true, calls: 1, cost: null });
  assert.deepEqual(sizeSlice({ calls: 100 }, { calls: 99, cost: 0, otherHolders: 0 }, { calls: 20, minCost: 0 }), { ok: true, calls: 1, cost: null });
});

test("a cost slice covers the waiting call but never more than is left", () => {
  assert.deepEqual(sizeSlice({ cost: 10 }, { calls: 0, cost: 7, otherHolders: 2 }, { calls: 5, minCost: 2.5 }), { ok: true, calls: 5, cost: 2.5 });
  assert.deepEqual(sizeSlice({ cost: 10 }, { calls: 0, cost: 7, otherHolders: 0 }, { calls: 5, minCost: 3 }), { ok: true, calls: 5, cost: 3 });
  assert.deepEqual(sizeSlice({ cost: 10 }, { calls: 0, cost: 10, otherHolders: 0 }, { calls: 1, minCost: 0 }), { ok: true, calls: 1, cost: 0 });
});

test("refused exactly when not one call, or not the waiting call's cost, is left", () => {
  assert.deepEqual(sizeSlice({ calls: 5 }, { calls: 5, cost: 0, otherHolders: 0 }, { calls: 1, minCost: 0 }), { ok: false, ceiling: "calls", max: 5, counted: 5 });
  assert.deepEqual(sizeSlice({ cost: 10 }, { calls: 0, cost: 7.5, otherHolders: 0 }, { calls: 1, minCost: 3 }), { ok: false, ceiling: "cost", max: 10, counted: 7.5 });
  // A lowered ceiling: more counts than it allows.
  assert.equal(sizeSlice({ calls: 5, cost: 10 }, { calls: 2, cost: 12, otherHolders: 0 }, { calls: 1, minCost: 0 }).ok, false);
  // Calls are checked first, as the sidecar's codes are ordered.
  assert.deepEqual(sizeSlice({ calls: 1, cost: 1 }, { calls: 1, cost: 1, otherHolders: 0 }, { calls: 1, minCost: 1 }), { ok: false, ceiling: "calls", max: 1, counted: 1 });
});
