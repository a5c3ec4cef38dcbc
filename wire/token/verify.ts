// Verification with node:crypto (synchronous, for the gateway's hot path): structure, version, key,
// signature, caveat validity, time, revocation, in that order. The checks are the SDK's code
// (sdk/typescript/src/token/build.ts and liveness.ts); only the HMAC chain is computed here.
import { KeyError, type KeyRing } from "../keys.ts";
import { checkSignedToken, fail, type VerifyResult } from "../../sdk/typescript/src/token/build.ts";
import { decodeToken } from "../../sdk/typescript/src/token/codec.ts";
import { checkLiveness, type LivenessOptions, type RevocationLookup } from "../../sdk/typescript/src/token/liveness.ts";
import { chainTag } from "./chain.ts";

export { checkLiveness, DEFAULT_SKEW_SECONDS, MAX_SKEW_SECONDS, type RevocationLookup } from "../../sdk/typescript/src/token/liveness.ts";
export type { TokenErrorCode, VerifyResult } from "../../sdk/typescript/src/token/build.ts";

export interface VerifyOptions extends LivenessOptions {
  keys: KeyRing;
  revocations?: RevocationLookup;
}

/** Checks what a token proves on its own: signature, caveat validity and the key it was made with. */
export function verifySignature(token: string, keys: KeyRing): VerifyResult {
  const decoded = decodeToken(token);
  if (!decoded.ok) return fail(decoded.code, decoded.message);
  const { header, segments } = decoded.token;
  let key;
  try {
    key = keys.tenantKey(header.kid, header.tenant);
  } catch (error) {
    if (error instanceof KeyError && (error.code === "unknown_kid" || error.code === "wrong_tenant")) return fail(error.code, error.message);
    throw error;
  }
  return checkSignedToken(decoded.token, chainTag(key, segments));
}

export function verifyToken(token: string, options: VerifyOptions): VerifyResult {
  const result = verifySignature(token, options.keys);
  return result.ok ? checkLiveness(result, options) : result;
}
