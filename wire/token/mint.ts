// Minting needs the tenant's key; attenuating needs nothing but the token, and can only add caveats.
import { randomBytes } from "node:crypto";
import { encodeBase64url } from "../base64url.ts";
import type { KeyRing } from "../keys.ts";
import { caveatProblem, type Caveat } from "./caveats.ts";
import { chainTag, extendChain } from "./chain.ts";
import { decodeToken, encodeSegment, encodeToken, MAX_CAVEATS, MAX_TOKEN_LENGTH, TOKEN_VERSION, type TokenHeader } from "./codec.ts";

export class TokenBuildError extends Error {
  readonly code: "invalid_caveat" | "malformed" | "unsupported_version" | "too_many_caveats";
  constructor(code: "invalid_caveat" | "malformed" | "unsupported_version" | "too_many_caveats", message: string) {
    super(message);
    this.code = code;
  }
}

export function newTokenId(): string {
  return encodeBase64url(randomBytes(16));
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

export function mintToken(keys: KeyRing, options: MintOptions): string {
  const header: TokenHeader = {
    version: TOKEN_VERSION,
    kid: options.kid ?? keys.activeKid,
    id: options.id ?? newTokenId(),
    issuer: options.issuer ?? "intentgate",
    tenant: options.tenant,
    subject: options.subject,
    issued_at: options.issuedAt,
  };
  const caveats = checkedCaveats(options.caveats ?? [], "mint");
  const segments = [encodeSegment(header), ...caveats.map(encodeSegment)];
  if (segments.length - 1 > MAX_CAVEATS) throw new TokenBuildError("too_many_caveats", `at most ${MAX_CAVEATS} caveats`);
  const token = encodeToken(segments, chainTag(keys.tenantKey(header.kid, header.tenant), segments));
  // Round-trip once so that a header we could not verify later is refused now, not at the first call.
  const check = decodeToken(token);
  if (!check.ok) throw new TokenBuildError(check.code, check.message);
  return token;
}

/**
 * Appends one attenuation hop: a `hop` caveat with a fresh id, then the given caveats.
 * Works offline, without any key: the new tag is HMAC(old tag, caveat) for each appended caveat.
 */
export function attenuateToken(token: string, caveats: readonly Caveat[], options: { hopId?: string } = {}): string {
  const decoded = decodeToken(token);
  if (!decoded.ok) throw new TokenBuildError(decoded.code, decoded.message);
  const hop: Caveat = { type: "hop", id: options.hopId ?? newTokenId() };
  const added = [hop, ...checkedCaveats(caveats, "attenuate")].map((c) => encodeSegment(c));
  const { segments } = decoded.token;
  if (segments.length - 1 + added.length > MAX_CAVEATS) {
    throw new TokenBuildError("too_many_caveats", `at most ${MAX_CAVEATS} caveats`);
  }
  let tag = decoded.token.tag;
  for (const segment of added) tag = extendChain(tag, segment);
  const result = encodeToken([...segments, ...added], tag);
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

