// Shared by the token tests only: a fixed key ring and helpers to build tokens by hand.
import { chainTag } from "./chain.ts";
import { encodeToken } from "./codec.ts";
import { KeyRing, type KeyFile } from "../keys.ts";
import { mintToken, type MintOptions } from "./mint.ts";

export const NOW = 1767225600; // 2026-01-01T00:00:00Z

export const KEY_FILE: KeyFile = {
  version: 1,
  active: "k1",
  keys: [{ kid: "k1", scope: "master", secret: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", created_at: "2026-01-01T00:00:00.000Z" }],
};
export const RING = KeyRing.fromFile(KEY_FILE);

export function mint(options: Partial<MintOptions> = {}, ring: KeyRing = RING): string {
  return mintToken(ring, { tenant: "acme", subject: "agent-7", issuedAt: NOW, ...options });
}

/** Signs exactly these segment texts (canonical or not) with the tenant's key under `kid`. */
export function signTexts(texts: string[], tenant = "acme", kid = "k1", ring: KeyRing = RING): string {
  const segments = texts.map((t) => Buffer.from(t, "utf8"));
  return encodeToken(segments, chainTag(ring.tenantKey(kid, tenant), segments));
}

/** The UTF-8 texts of a token's segments (header first), without the tag. */
export function segmentTexts(token: string): string[] {
  return token.split(".").slice(1, -1).map((p) => Buffer.from(p, "base64url").toString("utf8"));
}
