// Tokens every implementation must refuse, each with the code it must refuse them with. Several are
// signed correctly over non-canonical or invalid bytes, so that only the structural check can catch them.
import { canonicalize, encodeBase64url, type KeyRing, type TokenErrorCode } from "../../wire/index.ts";
import { chainTag } from "../../wire/token/chain.ts";
import { encodeToken } from "../../wire/token/codec.ts";
import { T0 } from "./token-cases.ts";

export interface TamperedToken {
  name: string;
  key_file: string;
  now: number;
  token: string;
  expect: TokenErrorCode;
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** Flips the lowest bit of the last character: for lengths 2 and 3 mod 4 that bit encodes nothing. */
function flipUnusedBit(part: string): string {
  return part.slice(0, -1) + B64[B64.indexOf(part.at(-1) as string) ^ 1];
}

const segmentText = (part: string): string => Buffer.from(part, "base64url").toString("utf8");
const segmentPart = (value: unknown): string => encodeBase64url(Buffer.from(canonicalize(value), "utf8"));

export function tamperedTokens(rings: Record<string, KeyRing>, cases: { tokens: string[] }[]): TamperedToken[] {
  const minimal = cases[0]?.tokens[0] as string;
  const payment = cases[1]?.tokens.at(-1) as string;
  const parts = payment.split(".");
  const texts = parts.slice(1, -1).map(segmentText);
  const tag = Buffer.from(parts.at(-1) as string, "base64url");
  const header = JSON.parse(texts[0] as string) as Record<string, unknown>;
  const key = (rings["rotated"] as KeyRing).tenantKey(header["kid"] as string, header["tenant"] as string);
  // Signs exactly these segment texts, canonical or not, with the payment token's key.
  const signed = (segments: string[]): string => {
    const bytes = segments.map((s) => Buffer.from(s, "utf8"));
    return encodeToken(bytes, chainTag(key, bytes));
  };
  const withParts = (edit: (p: string[]) => void): string => {
    const copy = [...parts];
    edit(copy);
    return copy.join(".");
  };
  const expiresAt = texts.findIndex((t) => t.includes('"type":"expires"')) + 1;
  const oddSegment = parts.findIndex((p, i) => i > 0 && i < parts.length - 1 && p.length % 4 >= 2);
  const flippedTag = Buffer.from(tag);
  flippedTag[0] = (flippedTag[0] as number) ^ 0x01;
  const headerText = texts[0] as string;
  const now = T0 + 600;
  const t = (name: string, token: string, expect: TokenErrorCode, key_file = "rotated"): TamperedToken => ({ name, key_file, now, token, expect });

  return [
    t("signature with one bit flipped", withParts((p) => (p[p.length - 1] = encodeBase64url(flippedTag))), "bad_signature"),
    t("signature truncated to 31 bytes", withParts((p) => (p[p.length - 1] = encodeBase64url(tag.subarray(0, 31)))), "malformed"),
    t("signature with a non-canonical last character (same 32 bytes)", withParts((p) => (p[p.length - 1] = flipUnusedBit(p.at(-1) as string))), "malformed"),
    t("signature padded with =", `${payment}=`, "malformed"),
    t("first caveat removed", withParts((p) => p.splice(2, 1)), "bad_signature"),
    t("last caveat removed, tag kept", withParts((p) => p.splice(p.length - 2, 1)), "bad_signature"),
    t("two caveats swapped", withParts((p) => ([p[2], p[3]] = [p[3] as string, p[2] as string])), "bad_signature"),
    t("expiry changed to later", withParts((p) => (p[expiresAt] = segmentPart({ type: "expires", at: T0 + 10 * 86400 }))), "bad_signature"),
    t("caveat appended without extending the chain", withParts((p) => p.splice(p.length - 1, 0, segmentPart({ type: "calls", max: 1 }))), "bad_signature"),
    t("tenant re-labelled in the header", withParts((p) => (p[1] = segmentPart({ ...header, tenant: "acme" }))), "bad_signature"),
    t("tenant re-labelled, checked with a tenant-scoped key", minimal.replace(/^igt1\.[^.]+/, `igt1.${segmentPart({ ...JSON.parse(segmentText(minimal.split(".")[1] as string)), tenant: "globex" })}`), "wrong_tenant", "acme_only"),
    t("igt2 prefix", payment.replace(/^igt1\./, "igt2."), "unsupported_version"),
    t("header version 2, signed", signed([canonicalize({ ...header, version: 2 }), ...texts.slice(1)]), "unsupported_version"),
    t("unknown kid, signed", signed([canonicalize({ ...header, kid: "k2026-z" }), ...texts.slice(1)]), "unknown_kid"),
    t("unknown caveat type, signed", signed([...texts, canonicalize({ type: "geo", region: "eu" })]), "invalid_caveat"),
    t("known caveat with an unknown field, signed", signed([...texts, canonicalize({ type: "calls", max: 1, soft: true })]), "invalid_caveat"),
    t("hop caveat with an invalid id, signed", signed([...texts, canonicalize({ type: "hop", id: "short" })]), "invalid_caveat"),
    t("header with whitespace, signed", signed([headerText.replace(",", ", "), ...texts.slice(1)]), "malformed"),
    t("header with unsorted keys, signed", signed([JSON.stringify({ version: 1, ...header }), ...texts.slice(1)]), "malformed"),
    t("header with an escaped non-ASCII character, signed", signed([headerText.replace("\u00e9", "\\u00e9"), ...texts.slice(1)]), "malformed"),
    t("caveat with a duplicate key, signed", signed([...texts, `{"max":9,"max":1,"type":"calls"}`]), "malformed"),
    t("caveat with a number spelled 1.0, signed", signed([...texts, `{"max":1.0,"type":"calls"}`]), "malformed"),
    t("segment with a non-canonical last character (same bytes)", withParts((p) => (p[oddSegment] = flipUnusedBit(p[oddSegment] as string))), "malformed"),
    t("header only, no tag", `igt1.${parts[1] as string}`, "malformed"),
    t("empty token", "", "malformed"),
  ];
}
