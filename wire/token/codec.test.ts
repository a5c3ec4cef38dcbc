// Every token has exactly one spelling: each test signs a non-canonical spelling correctly, so only the
// structural check can refuse it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalize } from "../jcs.ts";
import { decodeToken, MAX_CAVEATS, MAX_TOKEN_LENGTH } from "./codec.ts";
import { verifyToken } from "./verify.ts";
import { mint, NOW, RING, segmentTexts, signTexts } from "./test-keys.ts";

const TOKEN = mint({ id: "tok-codec-0001", issuer: "contr\u00f4leur", caveats: [{ type: "tools", allow: ["donn\u00e9es.*"] }, { type: "expires", at: NOW + 60 }] });
const [HEADER, TOOLS, EXPIRES] = segmentTexts(TOKEN) as [string, string, string];
const without = (record: Record<string, unknown>, key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));
const decodeCode = (token: string): string => {
  const d = decodeToken(token);
  return d.ok ? "ok" : d.code;
};

void test("the canonical spelling decodes, and its signed copy is the same token", () => {
  assert.equal(decodeCode(TOKEN), "ok");
  assert.equal(signTexts([HEADER, TOOLS, EXPIRES]), TOKEN);
});

void test("a segment with whitespace is malformed", () => {
  assert.equal(decodeCode(signTexts([HEADER.replace(",", ", "), TOOLS, EXPIRES])), "malformed");
  assert.equal(decodeCode(signTexts([HEADER, TOOLS, `${EXPIRES}\n`])), "malformed");
  assert.equal(decodeCode(signTexts([` ${HEADER}`, TOOLS, EXPIRES])), "malformed");
});

void test("a segment with a duplicate key is malformed", () => {
  assert.equal(decodeCode(signTexts([HEADER, TOOLS, `{"at":${NOW},"at":${NOW + 60},"type":"expires"}`])), "malformed");
});

void test("a segment with unsorted keys is malformed", () => {
  assert.equal(decodeCode(signTexts([HEADER, TOOLS, `{"type":"expires","at":${NOW + 60}}`])), "malformed");
});

void test("a segment with escaped non-ASCII or a non-shortest number is malformed", () => {
  assert.equal(decodeCode(signTexts([HEADER.replace("\u00f4", "\\u00f4"), TOOLS, EXPIRES])), "malformed");
  assert.equal(decodeCode(signTexts([HEADER, TOOLS, `{"at":${NOW + 60}.0,"type":"expires"}`])), "malformed");
  assert.equal(decodeCode(signTexts([HEADER, TOOLS, `{"at":1.76722566e9,"type":"expires"}`])), "malformed");
});

void test("a segment that is not valid UTF-8 is malformed", () => {
  const parts = TOKEN.split(".");
  parts[2] = Buffer.concat([Buffer.from('{"allow":["'), Buffer.from([0xc3]), Buffer.from('"],"type":"tools"}')]).toString("base64url");
  assert.equal(decodeCode(parts.join(".")), "malformed");
});

void test("non-canonical base64url is malformed: padding, +/, trailing bits, whitespace", () => {
  const parts = TOKEN.split(".");
  const withPart = (i: number, text: string): string => parts.map((p, j) => (j === i ? text : p)).join(".");
  assert.equal(decodeCode(withPart(1, `${parts[1]}=`)), "malformed");
  const standard = Buffer.from(HEADER, "utf8").toString("base64");
  if (/[+/]/.test(standard)) assert.equal(decodeCode(withPart(1, standard.replace(/=+$/, ""))), "malformed");
  const tag = parts.at(-1) as string; // 43 characters: the last one carries 2 unused bits
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const sloppy = tag.slice(0, -1) + alphabet[alphabet.indexOf(tag.at(-1) as string) ^ 1];
  assert.deepEqual(Buffer.from(sloppy, "base64url"), Buffer.from(tag, "base64url"), "Buffer itself accepts both spellings");
  assert.equal(decodeCode(withPart(parts.length - 1, sloppy)), "malformed");
  assert.equal(decodeCode(withPart(2, ` ${parts[2]}`)), "malformed");
});

void test("header fields: unknown, missing or invalid fields are malformed", () => {
  const header = JSON.parse(HEADER) as Record<string, unknown>;
  const withHeader = (h: unknown): string => decodeCode(signTexts([canonicalize(h), TOOLS]));
  assert.equal(withHeader({ ...header, extra: 1 }), "malformed");
  assert.equal(withHeader(without(header, "subject")), "malformed");
  assert.equal(withHeader({ ...header, id: "short" }), "malformed");
  assert.equal(withHeader({ ...header, tenant: "" }), "malformed");
  assert.equal(withHeader({ ...header, issued_at: -1 }), "malformed");
  assert.equal(withHeader([header]), "malformed");
});

void test("structure: empty, prefix only, missing tag, empty segment, too long, too many caveats", () => {
  assert.equal(decodeCode(""), "malformed");
  assert.equal(decodeCode("igt1."), "malformed");
  assert.equal(decodeCode(TOKEN.split(".").slice(0, 2).join(".")), "malformed");
  assert.equal(decodeCode(TOKEN.replace(".", "..")), "malformed");
  assert.equal(decodeCode(`${TOKEN}${"A".repeat(MAX_TOKEN_LENGTH)}`), "malformed");
  const many = Array.from({ length: MAX_CAVEATS + 1 }, () => EXPIRES);
  assert.equal(decodeCode(signTexts([HEADER, ...many])), "malformed");
  const atLimit = signTexts([HEADER, ...many.slice(1)]);
  assert.equal(decodeCode(atLimit), "ok");
  assert.ok(verifyToken(atLimit, { keys: RING, now: NOW }).ok);
});

void test("only a header naming another version is unsupported_version; no version or an array is malformed", () => {
  const header = JSON.parse(HEADER) as Record<string, unknown>;
  const withHeader = (h: unknown): string => decodeCode(signTexts([canonicalize(h), TOOLS]));
  assert.equal(withHeader({ ...header, version: 2 }), "unsupported_version");
  assert.equal(withHeader({ ...header, version: 0 }), "unsupported_version");
  assert.equal(withHeader(without(header, "version")), "malformed");
  assert.equal(withHeader({ ...header, version: "1" }), "malformed");
});
