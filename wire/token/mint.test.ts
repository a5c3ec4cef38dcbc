import assert from "node:assert/strict";
import { test } from "node:test";
import type { Caveat } from "./caveats.ts";
import { decodeToken, MAX_CAVEATS, MAX_TOKEN_LENGTH } from "./codec.ts";
import { checkCoverage } from "./coverage.ts";
import { attenuateToken, revocationIds, TokenBuildError } from "./mint.ts";
import { verifyToken, type VerifyResult } from "./verify.ts";
import { mint, NOW, RING } from "./test-keys.ts";

const BASE = mint({ id: "tok-mint-00001", caveats: [{ type: "tools", allow: ["fs.read_*"] }, { type: "expires", at: NOW + 600 }] });
const verify = (token: string, now = NOW): VerifyResult => verifyToken(token, { keys: RING, now });
const effective = (token: string) => {
  const result = verify(token);
  assert.ok(result.ok, result.ok ? "" : result.message);
  return result.effective;
};
const call = (server: string, tool: string) => ({ server, tool, arguments: {}, agent: "agent-7" });
const buildCode = (fn: () => unknown): string => {
  try {
    fn();
    return "built";
  } catch (error) {
    assert.ok(error instanceof TokenBuildError, String(error));
    return error.code;
  }
};

void test("attenuation needs no key and the result verifies with the minting key ring", () => {
  const narrowed = attenuateToken(BASE, [{ type: "tools", allow: ["fs.read_file"] }]);
  assert.ok(verify(narrowed).ok);
  assert.ok(narrowed.startsWith(BASE.slice(0, BASE.lastIndexOf("."))), "keeps every earlier segment");
});

void test("attenuation that adds tools still refuses the wider call", () => {
  const wider = attenuateToken(BASE, [{ type: "tools", allow: ["*"] }, { type: "servers", allow: ["fs", "shell"] }]);
  const e = effective(wider);
  assert.equal(checkCoverage(e, call("fs", "read_file")).ok, true);
  assert.deepEqual(checkCoverage(e, call("fs", "write_file")), checkCoverage(effective(BASE), call("fs", "write_file")));
  assert.equal((checkCoverage(e, call("shell", "exec")) as { code: string }).code, "tool_not_allowed");
});

void test("attenuation with a later expiry keeps the earlier one", () => {
  const later = attenuateToken(BASE, [{ type: "expires", at: NOW + 86_400 }]);
  assert.equal(effective(later).expiresAt, NOW + 600);
  assert.equal((verify(later, NOW + 700) as { code: string }).code, "expired");
  const earlier = attenuateToken(BASE, [{ type: "expires", at: NOW + 60 }]);
  assert.equal(effective(earlier).expiresAt, NOW + 60);
});

void test("attenuate() refuses an unknown caveat type", () => {
  const unknown = { type: "geofence", region: "eu" } as unknown as Caveat;
  assert.equal(buildCode(() => attenuateToken(BASE, [unknown])), "invalid_caveat");
  const extraField = { type: "expires", at: NOW, soft: true } as unknown as Caveat;
  assert.equal(buildCode(() => attenuateToken(BASE, [extraField])), "invalid_caveat");
});

void test("attenuate() refuses hop caveats from the caller: hops are its own", () => {
  assert.equal(buildCode(() => attenuateToken(BASE, [{ type: "hop", id: "hop-forged-0001" }])), "invalid_caveat");
});

void test("each hop gets its own id, fresh unless one is given", () => {
  const a = attenuateToken(BASE, [{ type: "calls", max: 1 }]);
  const b = attenuateToken(BASE, [{ type: "calls", max: 1 }]);
  const [root, hopA] = revocationIds(a);
  const [, hopB] = revocationIds(b);
  assert.equal(root, "tok-mint-00001");
  assert.match(hopA ?? "", /^[A-Za-z0-9_-]{22}$/);
  assert.notEqual(hopA, hopB);
  const given = attenuateToken(a, [], { hopId: "hop-given-0001" });
  assert.deepEqual(revocationIds(given), ["tok-mint-00001", hopA, "hop-given-0001"]);
});

void test("attenuate() refuses a token it cannot decode", () => {
  assert.equal(buildCode(() => attenuateToken("igt1.nope", [])), "malformed");
  assert.equal(buildCode(() => attenuateToken(BASE.replace("igt1.", "igt9."), [])), "unsupported_version");
});

void test("attenuate() refuses to go beyond the caveat limit", () => {
  const room = MAX_CAVEATS - 2 - 1; // BASE has 2 caveats; the hop caveat takes one more
  const full = attenuateToken(BASE, Array.from({ length: room }, (): Caveat => ({ type: "calls", max: 1 })));
  assert.equal(decodeToken(full).ok, true);
  assert.equal(buildCode(() => attenuateToken(full, [])), "too_many_caveats");
});

void test("attenuate() refuses to build a token longer than verification accepts", () => {
  const names = Array.from({ length: 200 }, (_, i) => `fs.read_${"x".repeat(40)}_${i}`);
  let token = BASE;
  let code = "built";
  while (code === "built") code = buildCode(() => (token = attenuateToken(token, [{ type: "tools", allow: names }])));
  assert.equal(code, "malformed");
  assert.ok(token.length <= MAX_TOKEN_LENGTH);
  assert.ok(verify(token).ok, "the last token it did build still verifies");
});

void test("mint refuses invalid caveats, hop caveats and headers it could not verify later", () => {
  assert.equal(buildCode(() => mint({ caveats: [{ type: "expires", at: -1 }] })), "invalid_caveat");
  assert.equal(buildCode(() => mint({ caveats: [{ type: "hop", id: "hop-minted-001" }] })), "invalid_caveat");
  assert.equal(buildCode(() => mint({ caveats: [{ type: "arg", path: "amount", op: "le", value: 1 }] })), "invalid_caveat");
  assert.equal(buildCode(() => mint({ caveats: [{ type: "arg", path: "/amount", op: "le", value: "1" }] })), "invalid_caveat");
  assert.equal(buildCode(() => mint({ subject: "" })), "malformed");
  assert.equal(buildCode(() => mint({ id: "bad id" })), "malformed");
  const tooMany = Array.from({ length: MAX_CAVEATS + 1 }, (): Caveat => ({ type: "step_up" }));
  assert.equal(buildCode(() => mint({ caveats: tooMany })), "too_many_caveats");
});

void test("minted token ids are random and 128-bit", () => {
  const ids = new Set(Array.from({ length: 50 }, () => revocationIds(mint())[0]));
  assert.equal(ids.size, 50);
  for (const id of ids) assert.equal(Buffer.from(id as string, "base64url").length, 16);
});

void test("an argument value JSON cannot carry is refused at mint, not thrown as an internal error", () => {
  for (const value of [Infinity, Number.NaN, undefined, "\ud800"]) {
    assert.throws(
      () => mint({ caveats: [{ type: "arg", path: "/x", op: "eq", value }] }),
      (e: unknown) => e instanceof TokenBuildError && e.code === "invalid_caveat",
    );
  }
});
