// Signing a memory item when it is written, and verifying one that an agent presents with a call.
// Verification answers one stable code per failure (docs/spec/memory-provenance.md §5).
import { createHash, sign, verify } from "node:crypto";
import { decodeBase64url, encodeBase64url } from "../base64url.ts";
import { canonicalize } from "../jcs.ts";
import { MEMORY_ID_MAX, MEMORY_SIGNING_CONTEXT, MEMORY_WRITER_PATTERN, contentSha256, memoryItemProblem, memorySigningBytes, unsignedPart, type MemoryItem, type UnsignedMemoryItem } from "./item.ts";
import type { MemoryKeyLookup, WriterKey } from "./keys.ts";

export type MemoryErrorCode =
  | "memory_malformed"
  | "memory_unsigned"
  | "memory_foreign_tenant"
  | "memory_untrusted_writer"
  | "memory_unknown_key"
  | "memory_altered"
  | "memory_not_yet_valid"
  | "memory_expired";

export interface SignOptions {
  id: string;
  content: string;
  /** Unix seconds. */
  writtenAt: number;
  /** Unix seconds. */
  expiresAt?: number;
}

/** Builds and signs the record for one memory entry. The content itself is hashed, never kept. */
export function signMemoryItem(key: WriterKey, options: SignOptions): MemoryItem {
  const unsigned: UnsignedMemoryItem = {
    id: options.id,
    tenant: key.tenant,
    writer: key.writer,
    content_sha256: contentSha256(options.content),
    written_at: options.writtenAt,
    kid: key.kid,
  };
  if (options.expiresAt !== undefined) unsigned.expires_at = options.expiresAt;
  const problem = memoryItemProblem({ ...unsigned, signature: "A".repeat(86) }, false);
  if (problem !== undefined) throw new TypeError(`cannot sign memory item: ${problem}`);
  const signature = encodeBase64url(sign(null, memorySigningBytes(unsigned), key.signingKey()));
  return { ...unsigned, signature };
}

export interface VerifyMemoryOptions {
  tenant: string;
  /** Unix seconds. */
  now: number;
  skewSeconds: number;
  keys: MemoryKeyLookup;
  /** When set, only these writers are trusted. */
  writers?: readonly string[];
  /** When set, an item written longer ago than this is expired, whatever its own expires_at says. */
  maxAgeSeconds?: number;
  /** Largest content accepted, in UTF-8 bytes. */
  maxContentBytes?: number;
  /**
   * Remembers signatures that verified, keyed by everything they cover (positive results only: a
   * failed verification is never cached, so a cache can only save work, never change an answer).
   */
  verified?: { has(key: string): boolean; add(key: string): void };
}

/** `message` says what is wrong with the item, without naming it (callers prefix "memory item <id>"). */
export type MemoryItemResult =
  | { ok: true; id: string; writer: string }
  | { ok: false; id: string; writer: string | null; code: MemoryErrorCode; message: string };

/** Verifies one presented item (signed record plus `content`). Never throws for bad input. */
export function verifyMemoryItem(value: unknown, options: VerifyMemoryOptions): MemoryItemResult {
  const record = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const rawId = record?.["id"];
  // Both are echoed in reasons and audit records, so only well-formed values are: an item cannot bloat either.
  const id = typeof rawId === "string" && rawId !== "" && rawId.length <= MEMORY_ID_MAX && rawId.isWellFormed() ? rawId : "?";
  const rawWriter = record?.["writer"];
  const writer = typeof rawWriter === "string" && MEMORY_WRITER_PATTERN.test(rawWriter) ? rawWriter : null;
  const fail = (code: MemoryErrorCode, message: string): MemoryItemResult => ({ ok: false, id, writer, code, message });

  if (record === undefined) return fail("memory_malformed", "is not an object");
  // Unsigned comes first: an entry planted without any signature is reported as what it is, whatever else it lacks.
  const signature = record["signature"];
  if (signature === undefined || signature === null || signature === "") return fail("memory_unsigned", "carries no signature");
  const problem = memoryItemProblem(record, true);
  if (problem !== undefined) return fail("memory_malformed", problem);
  const item = record as unknown as MemoryItem & { content: string };

  if (item.tenant !== options.tenant) return fail("memory_foreign_tenant", `belongs to tenant "${item.tenant}", not "${options.tenant}"`);
  if (options.writers !== undefined && !options.writers.includes(item.writer)) {
    return fail("memory_untrusted_writer", `was written by "${item.writer}", which is not a trusted writer`);
  }
  if (options.maxContentBytes !== undefined && Buffer.byteLength(item.content, "utf8") > options.maxContentBytes) {
    return fail("memory_malformed", `has content larger than ${options.maxContentBytes} bytes`);
  }
  const publicKey = options.keys.publicKey(item.kid, item.tenant, item.writer);
  if (publicKey === undefined) return fail("memory_unknown_key", `is signed under key "${item.kid}", which this verifier does not have for this tenant and writer`);
  if (contentSha256(item.content) !== item.content_sha256) {
    return fail("memory_altered", "was presented with other content than the content that was signed");
  }
  const text = canonicalize(unsignedPart(item));
  // The cache key covers everything the signature does (and the key id), hashed to keep keys short.
  const cacheKey = options.verified && createHash("sha256").update(`${item.kid}\n${item.signature}\n${text}`, "utf8").digest("base64url");
  if (cacheKey === undefined || !options.verified?.has(cacheKey)) {
    if (!verify(null, Buffer.from(`${MEMORY_SIGNING_CONTEXT}\n${text}`, "utf8"), publicKey, decodeBase64url(item.signature) as Buffer)) {
      return fail("memory_altered", `has a signature that does not verify (the record was changed, or ${item.writer} never signed it)`);
    }
    if (cacheKey !== undefined) options.verified?.add(cacheKey);
  }
  if (item.written_at > options.now + options.skewSeconds) return fail("memory_not_yet_valid", "is dated in the future");
  if (item.expires_at !== undefined && item.expires_at + options.skewSeconds <= options.now) return fail("memory_expired", "has expired");
  if (options.maxAgeSeconds !== undefined && item.written_at + options.maxAgeSeconds + options.skewSeconds <= options.now) {
    return fail("memory_expired", `is older than the ${options.maxAgeSeconds} s this tenant accepts`);
  }
  return { ok: true, id, writer: item.writer };
}
