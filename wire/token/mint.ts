// Minting and attenuating with node:crypto (synchronous). What is signed, and every check on it, is the
// SDK's code (sdk/typescript/src/token/build.ts); only the HMACs and random ids are done here.
import { randomBytes } from "node:crypto";
import { encodeBase64url } from "../base64url.ts";
import type { KeyRing } from "../keys.ts";
import { finishAttenuation, finishMint, planAttenuation, planMint, type MintOptions } from "../../sdk/typescript/src/token/build.ts";
import type { Caveat } from "./caveats.ts";
import { chainTag, extendChain } from "./chain.ts";

export { revocationIds, TokenBuildError, type MintOptions } from "../../sdk/typescript/src/token/build.ts";

export function newTokenId(): string {
  return encodeBase64url(randomBytes(16));
}

export function mintToken(keys: KeyRing, options: MintOptions): string {
  const { header, segments } = planMint({ ...options, id: options.id ?? newTokenId(), kid: options.kid ?? keys.activeKid });
  return finishMint(segments, chainTag(keys.tenantKey(header.kid, header.tenant), segments));
}

/**
 * Appends one attenuation hop: a `hop` caveat with a fresh id, then the given caveats.
 * Works offline, without any key: the new tag is HMAC(old tag, caveat) for each appended caveat.
 */
export function attenuateToken(token: string, caveats: readonly Caveat[], options: { hopId?: string } = {}): string {
  const plan = planAttenuation(token, caveats, options.hopId ?? newTokenId());
  let tag = asBuffer(plan.decoded.tag);
  for (const segment of plan.added) tag = extendChain(tag, segment);
  return finishAttenuation(plan, tag);
}

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
