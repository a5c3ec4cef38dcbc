// Computes the capability-token vectors from token-cases.ts and tampered-tokens.ts. Deterministic: fixed
// keys, ids and times only. Throws when an outcome differs from the one the case declares.
import {
  attenuateToken,
  checkCoverage,
  decodeToken,
  deriveTenantSecret,
  KeyRing,
  mintToken,
  RevocationSet,
  verifyToken,
  type KeyFile,
  type VerifyResult,
} from "../../wire/index.ts";
import { chainTag } from "../../wire/token/chain.ts";
import { tamperedTokens } from "./tampered-tokens.ts";
import { EXPORTED_AT, EXPORTED_TENANT, HKDF_TENANTS, MASTER_KEY_FILES, TOKEN_CASES, type TokenCaseInput, type VerifyInput } from "./token-cases.ts";

export const TENANT_KEY_SALT = "intentgate.tenant-key.v1";

export function keyFiles(): Record<string, KeyFile> {
  const rotated = KeyRing.fromFile(MASTER_KEY_FILES["rotated"]);
  return { ...MASTER_KEY_FILES, acme_only: rotated.exportTenant(EXPORTED_TENANT, new Date(EXPORTED_AT)) };
}

export function outcome(result: VerifyResult): { ok: true; effective: unknown } | { ok: false; code: string } {
  return result.ok ? { ok: true, effective: result.effective } : { ok: false, code: result.code };
}

function expectSame(what: string, actual: string, expected: string): void {
  if (actual !== expected) throw new Error(`${what}: intended ${expected}, the code gives ${actual}`);
}

export function runVerify(rings: Record<string, KeyRing>, token: string, v: Omit<VerifyInput, "expect" | "token_index">): VerifyResult {
  const keys = rings[v.key_file];
  if (keys === undefined) throw new Error(`no key file ${v.key_file}`);
  return verifyToken(token, {
    keys,
    now: v.now,
    ...(v.skew_seconds === undefined ? {} : { skewSeconds: v.skew_seconds }),
    ...(v.revoked_ids === undefined ? {} : { revocations: new RevocationSet(v.revoked_ids) }),
  });
}

function buildCase(c: TokenCaseInput, rings: Record<string, KeyRing>) {
  const minter = rings["rotated"] as KeyRing;
  const { header: h } = c;
  const tokens = [mintToken(minter, { tenant: h.tenant, subject: h.subject, issuer: h.issuer, caveats: c.caveats, issuedAt: h.issued_at, id: h.id, kid: h.kid })];
  for (const hop of c.hops) tokens.push(attenuateToken(tokens.at(-1) as string, hop.caveats, { hopId: hop.id }));
  const last = decodeToken(tokens.at(-1) as string);
  if (!last.ok) throw new Error(`${c.name}: built token does not decode`);
  const key = minter.tenantKey(h.kid, h.tenant);
  const steps = last.token.segments.map((segment, i) => ({
    segment: segment.toString("utf8"),
    tag_hex: chainTag(key, last.token.segments.slice(0, i + 1)).toString("hex"),
  }));
  const verify = c.verify.map((v) => {
    const result = outcome(runVerify(rings, tokens[v.token_index] as string, v));
    expectSame(`${c.name}: verify at ${v.now}`, result.ok ? "ok" : result.code, v.expect);
    return { ...v, expect: result };
  });
  const first = runVerify(rings, tokens.at(-1) as string, c.verify[0] as VerifyInput);
  if (!first.ok || c.verify[0]?.token_index !== tokens.length - 1) throw new Error(`${c.name}: verify[0] must accept the last token`);
  const coverage = c.coverage.map(({ name, call, expect }) => {
    const result = checkCoverage(first.effective, call);
    expectSame(`${c.name}: coverage "${name}"`, result.ok ? "ok" : result.code, expect);
    return { name, call, expect };
  });
  return { name: c.name, header: h, caveats: c.caveats, hops: c.hops, steps, tokens, token: tokens.at(-1), verify, coverage };
}

export function buildTokenVectors() {
  const files = keyFiles();
  const rings = Object.fromEntries(Object.entries(files).map(([name, file]) => [name, KeyRing.fromFile(file)]));
  const masters = MASTER_KEY_FILES["rotated"]?.keys ?? [];
  const tenantKeys = masters.flatMap((k) =>
    HKDF_TENANTS.map((tenant) => ({
      kid: k.kid,
      master_secret: k.secret,
      tenant,
      derived_hex: deriveTenantSecret(Buffer.from(k.secret, "base64url"), tenant).toString("hex"),
    })),
  );
  const cases = TOKEN_CASES.map((c) => buildCase(c, rings));
  const refused = tamperedTokens(rings, cases).map((t) => {
    const result = outcome(runVerify(rings, t.token, t));
    expectSame(`refused "${t.name}"`, result.ok ? "ok" : result.code, t.expect);
    return { ...t, expect: result };
  });
  return {
    description:
      "IntentGate capability-token vectors (igt1). Every implementation must reproduce the steps, tags and tokens byte for byte, " +
      "and reach the same verification and coverage outcomes. Regenerate with: node test/vectors/generate.ts",
    format: {
      token: "igt1 . base64url(JCS(header)) . base64url(JCS(caveat_1)) ... . base64url(tag); base64url is RFC 4648 section 5, unpadded, canonical",
      tenant_key: `HKDF-SHA256(ikm = master secret, salt = UTF-8 "${TENANT_KEY_SALT}", info = UTF-8 tenant, length = 32); a tenant-scoped key is used as is`,
      chain: "tag_0 = HMAC-SHA256(key = tenant key, header bytes); tag_n = HMAC-SHA256(key = tag_(n-1), caveat n bytes); the token carries the last tag",
      attenuation: "append {type: hop, id} and then the new caveats, extending the chain from the token's tag; no key needed",
      steps: "steps[i].segment is the UTF-8 text of segment i (0 = header) and steps[i].tag_hex the tag after it; tokens[0] is the minted token, tokens[n] the token after hop n",
      verify: "skew_seconds defaults to 30 and is capped at 300; a token is expired when now > expires + skew and not yet valid when now < max(issued_at, not_before) - skew",
      coverage: "each coverage call is checked against the effective constraints that verify[0] returns for the last token",
    },
    key_files: files,
    tenant_keys: tenantKeys,
    cases,
    refused,
  };
}
