// What depends on the moment, checked after the signature: validity window (with bounded skew) and revocation.
import { fail, type VerifyResult } from "./build.ts";

export const DEFAULT_SKEW_SECONDS = 30;
export const MAX_SKEW_SECONDS = 300;

/** Answers whether any of a token's ids is revoked. Throwing means the state cannot be trusted. */
export interface RevocationLookup {
  isRevoked(ids: readonly string[]): boolean;
}

export interface LivenessOptions {
  /** Unix seconds. */
  now: number;
  skewSeconds?: number;
  revocations?: RevocationLookup;
}

export function checkLiveness(result: VerifyResult & { ok: true }, options: LivenessOptions): VerifyResult {
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
