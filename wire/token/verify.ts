// Verification: structure, version, key, signature, caveat validity, time, revocation — in that order,
// returning the first failure with a stable code, or the effective constraints of a valid token.
import { timingSafeEqual } from "node:crypto";
import { KeyError, type KeyRing } from "../keys.ts";
import { caveatProblem, type Caveat } from "./caveats.ts";
import { chainTag } from "./chain.ts";
import { decodeToken, type TokenHeader } from "./codec.ts";
import { foldCaveats, type EffectiveConstraints } from "./effective.ts";

export const DEFAULT_SKEW_SECONDS = 30;
export const MAX_SKEW_SECONDS = 300;

export type TokenErrorCode =
  | "malformed"
  | "unsupported_version"
  | "unknown_kid"
  | "wrong_tenant"
  | "bad_signature"
  | "invalid_caveat"
  | "expired"
  | "not_yet_valid"
  | "revoked"
  | "revocation_unavailable";

/** Answers whether any of a token's ids is revoked. Throwing means the state cannot be trusted. */
export interface RevocationLookup {
  isRevoked(ids: readonly string[]): boolean;
}

export interface VerifyOptions {
  keys: KeyRing;
  /** Unix seconds. */
  now: number;
  skewSeconds?: number;
  revocations?: RevocationLookup;
}

export type VerifyResult =
  | { ok: true; header: TokenHeader; effective: EffectiveConstraints }
  | { ok: false; code: TokenErrorCode; message: string };

const fail = (code: TokenErrorCode, message: string): VerifyResult => ({ ok: false, code, message });

/** Checks what a token proves on its own: signature, caveat validity and the key it was made with. */
export function verifySignature(token: string, keys: KeyRing): VerifyResult {
  const decoded = decodeToken(token);
  if (!decoded.ok) return fail(decoded.code, decoded.message);
  const { header, caveats, segments, tag } = decoded.token;
  let key;
  try {
    key = keys.tenantKey(header.kid, header.tenant);
  } catch (error) {
    if (error instanceof KeyError && (error.code === "unknown_kid" || error.code === "wrong_tenant")) return fail(error.code, error.message);
    throw error;
  }
  if (!timingSafeEqual(chainTag(key, segments), tag)) return fail("bad_signature", "token signature does not verify");
  for (const [i, caveat] of caveats.entries()) {
    const problem = caveatProblem(caveat);
    if (problem !== undefined) return fail("invalid_caveat", `caveat ${i + 1}: ${problem}`);
  }
  return { ok: true, header, effective: foldCaveats(header, caveats as Caveat[]) };
}

/** Checks what depends on the moment: validity window (with bounded skew) and revocation. */
export function checkLiveness(result: VerifyResult & { ok: true }, options: Omit<VerifyOptions, "keys">): VerifyResult {
  const requested = options.skewSeconds ?? DEFAULT_SKEW_SECONDS;
  // NaN would make every time comparison false and so accept any expiry: treat it as no skew.
  const skew = Number.isNaN(requested) ? 0 : Math.min(Math.max(requested, 0), MAX_SKEW_SECONDS);
  const { effective, header } = result;
  const now = options.now;
  if (effective.expiresAt !== null && now > effective.expiresAt + skew) {
    return fail("expired", `token expired at ${new Date(effective.expiresAt * 1000).toISOString()}`);
  }
  const notBefore = Math.max(effective.notBefore ?? 0, header.issued_at);
  if (now < notBefore - skew) return fail("not_yet_valid", `token is not valid before ${new Date(notBefore * 1000).toISOString()}`);
  if (options.revocations !== undefined) {
    let revoked: boolean;
    try {
      revoked = options.revocations.isRevoked(effective.ids);
    } catch (error) {
      return fail("revocation_unavailable", `revocation state cannot be read: ${(error as Error).message}`);
    }
    if (revoked) return fail("revoked", "token or one of its hops has been revoked");
  }
  return result;
}

export function verifyToken(token: string, options: VerifyOptions): VerifyResult {
  const result = verifySignature(token, options.keys);
  return result.ok ? checkLiveness(result, options) : result;
}
