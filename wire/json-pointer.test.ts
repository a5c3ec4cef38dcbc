import assert from "node:assert/strict";
import { test } from "node:test";
import { resolvePointer } from "./json-pointer.ts";

const DOC = JSON.parse('{"a/b":1,"m~n":2,"~1":3,"":4,"list":[10,20],"nested":{"k":{"v":5}},"\u00e9t\u00e9":6}') as unknown;

void test("~1 is / and ~0 is ~, decoded in that order", () => {
  assert.equal(resolvePointer(DOC, "/a~1b"), 1);
  assert.equal(resolvePointer(DOC, "/m~0n"), 2);
  assert.equal(resolvePointer(DOC, "/~01"), 3, "~01 is the key ~1, not /");
  assert.equal(resolvePointer(DOC, "/a/b"), undefined);
});

void test("the empty pointer is the document; / names the empty key", () => {
  assert.equal(resolvePointer(DOC, ""), DOC);
  assert.equal(resolvePointer(DOC, "/"), 4);
});

void test("nested objects, arrays by canonical index, non-ASCII keys", () => {
  assert.equal(resolvePointer(DOC, "/nested/k/v"), 5);
  assert.equal(resolvePointer(DOC, "/list/1"), 20);
  assert.equal(resolvePointer(DOC, "/list/01"), undefined);
  assert.equal(resolvePointer(DOC, "/list/2"), undefined);
  assert.equal(resolvePointer(DOC, "/list/-"), undefined);
  assert.equal(resolvePointer(DOC, "/\u00e9t\u00e9"), 6);
});

void test("own properties only, and no pointer without a leading /", () => {
  assert.equal(resolvePointer(DOC, "/toString"), undefined);
  assert.equal(resolvePointer(DOC, "/nested/constructor"), undefined);
  assert.equal(resolvePointer(DOC, "/list/length"), undefined);
  assert.equal(resolvePointer(DOC, "a~1b"), undefined);
  assert.equal(resolvePointer("text", "/0"), undefined);
  assert.equal(resolvePointer(null, "/a"), undefined);
});

void test("an escape other than ~0 or ~1 names nothing (RFC 6901 §3)", () => {
  assert.equal(resolvePointer({ "a~2": 1, "a~": 2 }, "/a~2"), undefined);
  assert.equal(resolvePointer({ "a~": 2 }, "/a~"), undefined);
});
