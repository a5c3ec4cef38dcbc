// Signing a memory item when it is written, and verifying one that an agent presents with a call, with
// node:crypto (synchronous, for the gateway). Every check and code is the SDK's
// (sdk/typescript/src/memory/check.ts, docs/spec/memory-provenance.md §5); only hashing and Ed25519 are here.
import { createHash, sign, verify } from "node:crypto";
import { decodeBase64url, encodeBase64url } from "../base64url.ts";
import {
  checkMemoryItemTimes,
  CONTENT_ALTERED,
  precheckMemoryItem,
  SIGNATURE_ALTERED,
  signingText,
  UNKNOWN_KEY,
  type MemoryCheckOptions,
  type MemoryItemResult,
} from "../../sdk/typescript/src/memory/check.ts";
import type { SignOptions } from "../../sdk/typescript/src/memory/writer.ts";
import { contentSha256, memoryItemProblem, memorySigningBytes, type MemoryItem, type UnsignedMemoryItem } from "./item.ts";
import type { MemoryKeyLookup, WriterKey } from "./keys.ts";

export type { MemoryErrorCode, MemoryItemResult } from "../../sdk/typescript/src/memory/check.ts";
export type { SignOptions } from "../../sdk/typescript/src/memory/writer.ts";

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

export interface VerifyMemoryOptions extends MemoryCheckOptions {
  keys: MemoryKeyLookup;
  /**
   * Remembers signatures that verified, keyed by everything they cover (positive results only: a
   * failed verification is never cached, so a cache can only save work, never change an answer).
   */
  verified?: { has(key: string): boolean; add(key: string): void };
}

/** Verifies one presented item (signed record plus `content`). Never throws for bad input. */
export function verifyMemoryItem(value: unknown, options: VerifyMemoryOptions): MemoryItemResult {
  const checked = precheckMemoryItem(value, options);
  if (!("item" in checked)) return checked;
  const { item, fail, signedText } = checked;
  const publicKey = options.keys.publicKey(item.kid, item.tenant, item.writer);
  if (publicKey === undefined) return fail("memory_unknown_key", UNKNOWN_KEY(item.kid));
  if (contentSha256(item.content) !== item.content_sha256) return fail("memory_altered", CONTENT_ALTERED);
  // The cache key covers everything the signature does (and the key id), hashed to keep keys short.
  const cacheKey = options.verified && createHash("sha256").update(`${item.kid}\n${item.signature}\n${signedText}`, "utf8").digest("base64url");
  if (cacheKey === undefined || !options.verified?.has(cacheKey)) {
    if (!verify(null, Buffer.from(signingText(signedText), "utf8"), publicKey, decodeBase64url(item.signature) as Buffer)) {
      return fail("memory_altered", SIGNATURE_ALTERED(item.writer));
    }
    if (cacheKey !== undefined) options.verified?.add(cacheKey);
  }
  return checkMemoryItemTimes(checked, options);
}
