import assert from "node:assert/strict";
import { test } from "node:test";
import { anyGlobMatches, globMatches } from "./glob.ts";

void test("* matches any run of characters, dots and the empty run included", () => {
  assert.equal(globMatches("fs.*", "fs.read"), true);
  assert.equal(globMatches("fs.*", "fs."), true);
  assert.equal(globMatches("fs.*", "fs.a.b.c"), true);
  assert.equal(globMatches("*", ""), true);
  assert.equal(globMatches("*.read_*", "fs.read_file"), true);
  assert.equal(globMatches("fs.*_file", "fs.read_dir"), false);
});

void test("globs are anchored at both ends and case-sensitive", () => {
  assert.equal(globMatches("fs.read", "fs.read_file"), false);
  assert.equal(globMatches("fs.read", "xfs.read"), false);
  assert.equal(globMatches("fs.read", "FS.read"), false);
});

void test("every other character is literal: regex syntax, ? and [ ] do nothing special", () => {
  assert.equal(globMatches("fs.read", "fsXread"), false);
  assert.equal(globMatches("a+b", "aab"), false);
  assert.equal(globMatches("a+b", "a+b"), true);
  assert.equal(globMatches("a?", "ab"), false);
  assert.equal(globMatches("[ab]", "a"), false);
  assert.equal(globMatches("[ab]", "[ab]"), true);
  assert.equal(globMatches("(x|y)", "x"), false);
  assert.equal(globMatches("^$\\{}", "^$\\{}"), true);
});

void test("non-ASCII and emoji match by code point, with no Unicode normalisation", () => {
  assert.equal(globMatches("donn\u00e9es.*", "donn\u00e9es.lire"), true);
  assert.equal(globMatches("donn\u00e9es.*", "donne\u0301es.lire"), false);
  assert.equal(globMatches("\u5de5\u5177.\u641c*", "\u5de5\u5177.\u641c\u7d22"), true);
  assert.equal(globMatches("\ud83d\udcc1.*", "\ud83d\udcc1.read"), true);
  assert.equal(globMatches("*\ud83d\udcb6", "pay_\ud83d\udcb6"), true);
  assert.equal(globMatches("x*y", "x\ny"), true, "* crosses line breaks too");
});

void test("anyGlobMatches: any one glob suffices; an empty list matches nothing", () => {
  assert.equal(anyGlobMatches(["a.*", "b.*"], "b.x"), true);
  assert.equal(anyGlobMatches([], "b.x"), false);
});
