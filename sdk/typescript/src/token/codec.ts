// The token string: `igt1.` + base64url(JCS(header)) + `.` + base64url(JCS(caveat)) ... + `.` + base64url(tag).
// Every segment must be the one canonical spelling of its JSON, so a token has exactly one encoding.
import { decodeBase64url, encodeBase64url } from "../base64url.ts";
import { fromUtf8, sameBytes, utf8 } from "../bytes.ts";
import { canonicalBytes, canonicalize } from "../jcs.ts";
import { KEY_ID_PATTERN } from "../keys.ts";
import type { Caveat } from "./caveats.ts";

export const TOKEN_PREFIX = "igt1";
export const TOKEN_VERSION = 1;
export const MAX_TOKEN_LENGTH = 16_384;
export const MAX_CAVEATS = 64;
export const TAG_BYTES = 32;

export interface TokenHeader {
  version: 1;
  kid: string;
  id: string;
  issuer: string;
  tenant: string;
  subject: string;
  issued_at: number;
}

export interface DecodedToken<Bytes extends Uint8Array = Uint8Array> {
  header: TokenHeader;
  /** Caveats as found; verification checks their types and fields. */
  caveats: unknown[];
  /** Canonical bytes of the header then each caveat: the inputs of the HMAC chain. */
  segments: Bytes[];
  tag: Bytes;
}

export type DecodeErrorCode = "malformed" | "unsupported_version";
export type DecodeResult = { ok: true; token: DecodedToken } | { ok: false; code: DecodeErrorCode; message: string };

const malformed = (message: string): DecodeResult => ({ ok: false, code: "malformed", message });

export function encodeToken(segments: readonly Uint8Array[], tag: Uint8Array): string {
  return [TOKEN_PREFIX, ...segments.map(encodeBase64url), encodeBase64url(tag)].join(".");
}

export function encodeSegment(value: TokenHeader | Caveat): Uint8Array {
  return canonicalBytes(value);
}

/** Parses a token string without any key: structure, canonical form and header fields only. */
export function decodeToken(text: string): DecodeResult {
  if (typeof text !== "string" || text.length === 0) return malformed("token is empty");
  if (text.length > MAX_TOKEN_LENGTH) return malformed(`token is longer than ${MAX_TOKEN_LENGTH} characters`);
  const parts = text.split(".");
  const prefix = parts[0] ?? "";
  if (prefix !== TOKEN_PREFIX) {
    if (/^igt\d+$/.test(prefix)) return { ok: false, code: "unsupported_version", message: `token version "${prefix}" is not supported` };
    return malformed(`token does not start with "${TOKEN_PREFIX}."`);
  }
  if (parts.length < 3) return malformed("token has no header or no tag");
  if (parts.length - 3 > MAX_CAVEATS) return malformed(`token has more than ${MAX_CAVEATS} caveats`);
  const tag = decodeBase64url(parts[parts.length - 1] ?? "");
  if (tag?.length !== TAG_BYTES) return malformed("token tag is not 32 bytes of base64url");
  const segments: Uint8Array[] = [];
  const values: unknown[] = [];
  for (let i = 1; i < parts.length - 1; i++) {
    const bytes = decodeBase64url(parts[i] ?? "");
    if (bytes === undefined) return malformed(`segment ${i} is not base64url`);
    const value = parseCanonical(bytes);
    if (value === undefined) return malformed(`segment ${i} is not canonical JSON (RFC 8785)`);
    segments.push(bytes);
    values.push(value);
  }
  const header = values[0];
  const problem = headerProblem(header);
  if (problem !== undefined) {
    // Only a header that names another version is from a future format; an array or a header with no
    // version at all is simply malformed.
    const version = typeof header === "object" && header !== null && !Array.isArray(header) ? (header as { version?: unknown }).version : undefined;
    if (typeof version === "number" && version !== TOKEN_VERSION) {
      return { ok: false, code: "unsupported_version", message: `token header version ${version} is not supported` };
    }
    return malformed(problem);
  }
  return { ok: true, token: { header: header as TokenHeader, caveats: values.slice(1), segments, tag } };
}

function parseCanonical(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
    // Re-serialising catches duplicate keys, whitespace, escapes, number spellings and bad UTF-8 at once.
    if (!sameBytes(utf8(canonicalize(value)), bytes)) return undefined;
  } catch {
    return undefined;
  }
  return value ?? undefined;
}

const HEADER_FIELDS = ["version", "kid", "id", "issuer", "tenant", "subject", "issued_at"];

/** Why a value is not a valid token header, or undefined when it is one. */
export function headerProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "token header is not an object";
  const h = value as Record<string, unknown>;
  for (const key of Object.keys(h)) if (!HEADER_FIELDS.includes(key)) return `token header has an unknown field "${key}"`;
  if (h["version"] !== TOKEN_VERSION) return "token header version is not 1";
  if (typeof h["kid"] !== "string" || !KEY_ID_PATTERN.test(h["kid"])) return "token header kid is invalid";
  if (typeof h["id"] !== "string" || !/^[A-Za-z0-9_-]{8,64}$/.test(h["id"])) return "token header id is invalid";
  for (const field of ["issuer", "tenant", "subject"]) {
    const v = h[field];
    if (typeof v !== "string" || v.length === 0 || v.length > 256) return `token header ${field} is invalid`;
  }
  if (!Number.isSafeInteger(h["issued_at"]) || (h["issued_at"] as number) < 0) return "token header issued_at is invalid";
  return undefined;
}
