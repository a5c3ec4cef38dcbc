// What minting, attenuating and verifying need besides the primitives (HMAC-SHA256, random ids): the
// segments to sign, the checks on what is added, and what a verified chain tag means. Both the SDK
// (Web Crypto, async) and the gateway (node:crypto, sync) run exactly these functions.
import { constantTimeEqual } from "../bytes.ts";
import { caveatProblem, type Caveat } from "./caveats.ts";
import { decodeToken, encodeSegment, encodeToken, MAX_CAVEATS, MAX_TOKEN_LENGTH, TOKEN_VERSION, type DecodedToken, type TokenHeader } from "./codec.ts";
import { foldCaveats, type EffectiveConstraints } from "./effective.ts";

export type TokenBuildErrorCode = "invalid_caveat" | "malformed" | "unsupported_version" | "too_many_caveats";

export class TokenBuildError extends Error {
  readonly code: TokenBuildErrorCode;
  constructor(code: TokenBuildErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface MintOptions {
  tenant: string;
  subject: string;
  issuer?: string;
  caveats?: readonly Caveat[];
  /** Unix seconds. */
  issuedAt: number;
  id?: string;
  kid?: string;
}

export interface MintPlan {
  header: TokenHeader;
  /** Canonical bytes of the header and each caveat: HMAC them in order, starting from the tenant key. */
  segments: Uint8Array[];
}

/** The header and segments of a new token; `id` and `kid` are resolved by the caller. */
export function planMint(options: MintOptions & { id: string; kid: string }): MintPlan {
  const header: TokenHeader = {
    version: TOKEN_VERSION,
    kid: options.kid,
    id: options.id,
    issuer: options.issuer ?? "intentgate",
    tenant: options.tenant,
    subject: options.subject,
    issued_at: options.issuedAt,
  };
  const caveats = checkedCaveats(options.caveats ?? [], "mint");
  if (caveats.length > MAX_CAVEATS) throw new TokenBuildError("too_many_caveats", `at most ${MAX_CAVEATS} caveats`);
  return { header, segments: [encodeSegment(header), ...caveats.map(encodeSegment)] };
}

/** Encodes a minted token and round-trips it once, so a header that could never verify is refused now. */
export function finishMint(segments: readonly Uint8Array[], tag: Uint8Array): string {
  const token = encodeToken(segments, tag);
  const check = decodeToken(token);
  if (!check.ok) throw new TokenBuildError(check.code, check.message);
  return token;
}

export interface AttenuationPlan {
  decoded: DecodedToken;
  /** The hop caveat then the given caveats, canonical: HMAC them in order, starting from the token's tag. */
  added: Uint8Array[];
}

/** One attenuation hop: a `hop` caveat with the given fresh id, then the given caveats. */
export function planAttenuation(token: string, caveats: readonly Caveat[], hopId: string): AttenuationPlan {
  const decoded = decodeToken(token);
  if (!decoded.ok) throw new TokenBuildError(decoded.code, decoded.message);
  const hop: Caveat = { type: "hop", id: hopId };
  const added = [hop, ...checkedCaveats(caveats, "attenuate")].map((c) => encodeSegment(c));
  if (decoded.token.segments.length - 1 + added.length > MAX_CAVEATS) {
    throw new TokenBuildError("too_many_caveats", `at most ${MAX_CAVEATS} caveats`);
  }
  return { decoded: decoded.token, added };
}

export function finishAttenuation(plan: AttenuationPlan, tag: Uint8Array): string {
  const result = encodeToken([...plan.decoded.segments, ...plan.added], tag);
  // decodeToken refuses longer tokens, so one built here could never verify.
  if (result.length > MAX_TOKEN_LENGTH) throw new TokenBuildError("malformed", `token would be longer than ${MAX_TOKEN_LENGTH} characters`);
  return result;
}

function checkedCaveats(caveats: readonly Caveat[], action: string): Caveat[] {
  return caveats.map((caveat, i) => {
    const problem = caveatProblem(caveat);
    if (problem !== undefined) throw new TokenBuildError("invalid_caveat", `caveat ${i}: ${problem}`);
    if (caveat.type === "hop") throw new TokenBuildError("invalid_caveat", `caveat ${i}: hop caveats are added by attenuate, not by ${action}`);
    return caveat;
  });
}

/** The ids a revocation can name for this token: its own id, then each hop's, root first. */
export function revocationIds(token: string): string[] {
  const decoded = decodeToken(token);
  if (!decoded.ok) throw new TokenBuildError(decoded.code, decoded.message);
  const ids = [decoded.token.header.id];
  for (const caveat of decoded.token.caveats) {
    if ((caveat as Caveat).type === "hop") ids.push((caveat as { id: string }).id);
  }
  return ids;
}

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

export type VerifyResult =
  | { ok: true; header: TokenHeader; effective: EffectiveConstraints }
  | { ok: false; code: TokenErrorCode; message: string };

export const fail = (code: TokenErrorCode, message: string): VerifyResult => ({ ok: false, code, message });

/** Given the tag the chain computes from the tenant key, what the token proves: signature, then caveat validity. */
export function checkSignedToken(token: DecodedToken, expectedTag: Uint8Array): VerifyResult {
  if (!constantTimeEqual(expectedTag, token.tag)) return fail("bad_signature", "token signature does not verify");
  for (const [i, caveat] of token.caveats.entries()) {
    const problem = caveatProblem(caveat);
    if (problem !== undefined) return fail("invalid_caveat", `caveat ${i + 1}: ${problem}`);
  }
  return { ok: true, header: token.header, effective: foldCaveats(token.header, token.caveats as Caveat[]) };
}
