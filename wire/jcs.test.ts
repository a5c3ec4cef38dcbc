// RFC 8785 details beyond the committed vectors (test/vectors): what canonicalize() refuses, and why.
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalBytes, canonicalize, CanonicalizationError } from "./jcs.ts";

const refuses = (value: unknown): void => assert.throws(() => canonicalize(value), CanonicalizationError);

void test("a lone surrogate is refused wherever it appears", () => {
  refuses("\ud800");
  refuses("ok\udfff");
  refuses({ "\ud83d": 1 });
  refuses([["\ude00\ud83d"]]);
  assert.equal(canonicalize("\ud83d\ude00"), '"\ud83d\ude00"');
});

void test("values that are not JSON are refused rather than dropped or coerced", () => {
  for (const value of [undefined, () => 1, Symbol("s"), 1n, Number.NaN, Infinity, -Infinity]) refuses(value);
  refuses({ a: undefined });
  refuses([undefined]);
  refuses(new Date(0));
  refuses(new Map());
  refuses(new (class Point { x = 1; })());
});

void test("a sparse array is refused, not written as [,1]", () => {
  // eslint-disable-next-line no-sparse-arrays
  refuses([, 1]);
  refuses(new Array(2));
});

void test("objects: null-prototype objects are plain; an own __proto__ key is kept and sorted", () => {
  const bare = Object.assign(Object.create(null) as object, { b: 1, a: 2 });
  assert.equal(canonicalize(bare), '{"a":2,"b":1}');
  assert.equal(canonicalize(JSON.parse('{"z":0,"__proto__":{"x":1}}')), '{"__proto__":{"x":1},"z":0}');
});

void test("numbers: -0 is 0 and the ECMAScript shortest form is used", () => {
  assert.equal(canonicalize(-0), "0");
  assert.equal(canonicalize(1e21), "1e+21");
  assert.equal(canonicalize(1e-7), "1e-7");
  assert.equal(canonicalize(0.000001), "0.000001");
  assert.equal(canonicalize(0.1 + 0.2), "0.30000000000000004");
});

void test("canonicalBytes is the UTF-8 of the canonical text", () => {
  assert.equal(canonicalBytes({ "\u00e9": "\ud83d\udcb6" }).toString("hex"), "7b22c3a9223a22f09f92b6227d");
});
