import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeBase64url, encodeBase64url } from "./base64url.ts";

void test("round trip for every length 0-33, unpadded", () => {
  for (let n = 0; n <= 33; n++) {
    const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + 250) & 0xff));
    const text = encodeBase64url(bytes);
    assert.doesNotMatch(text, /[=+/]/);
    assert.deepEqual(decodeBase64url(text), bytes);
  }
  assert.equal(encodeBase64url(new Uint8Array([0xfb, 0xff]).subarray(1)), "_w");
});

void test("only the one canonical spelling decodes", () => {
  assert.equal(decodeBase64url("AQI="), undefined, "padding");
  assert.equal(decodeBase64url("+/8"), undefined, "standard alphabet");
  assert.equal(decodeBase64url("AQ I"), undefined, "whitespace");
  assert.equal(decodeBase64url("AQI\n"), undefined, "newline");
  assert.equal(decodeBase64url("AQIDB"), undefined, "length 1 mod 4");
  assert.equal(decodeBase64url("AR"), undefined, "non-zero trailing bits (AQ is the spelling of 0x01)");
  assert.equal(decodeBase64url("AQJ"), undefined, "non-zero trailing bits (AQI is the spelling of 0x01 0x02)");
  assert.deepEqual(decodeBase64url("AQ"), Buffer.from([1]));
  assert.deepEqual(decodeBase64url(""), Buffer.alloc(0));
});
