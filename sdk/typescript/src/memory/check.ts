// The memory check's steps that need no cryptography, shared by the SDK (Web Crypto) and the gateway
// (node:crypto). Between `precheckMemoryItem` and `checkMemoryItemTimes` the caller finds the writer's
// public key, compares the content's SHA-256 and verifies the signature, in that order.
import { isWellFormed } from "../bytes.ts";
import { canonicalize } from "../jcs.ts";
import { MEMORY_ID_MAX, MEMORY_SIGNING_CONTEXT, MEMORY_WRITER_PATTERN, memoryItemProblem, unsignedPart, type MemoryItem } from "./item.ts";

export type MemoryErrorCode =
  | "memory_malformed"
  | "memory_unsigned"
  | "memory_foreign_tenant"
  | "memory_untrusted_writer"
  | "memory_unknown_key"
  | "memory_altered"
  | "memory_not_yet_valid"
  | "memory_expired";

/** `message` says what is wrong with the item, without naming it (callers prefix "memory item <id>"). */
export type MemoryItemResult =
  | { ok: true; id: string; writer: string }
  | { ok: false; id: string; writer: string | null; code: MemoryErrorCode; message: string };

export interface MemoryCheckOptions {
  tenant: string;
  /** Unix seconds. */
  now: number;
  skewSeconds: number;
  /** When set, only these writers are trusted. */
  writers?: readonly string[];
  /** When set, an item written longer ago than this is expired, whatever its own expires_at says. */
  maxAgeSeconds?: number;
  /** Largest content accepted, in UTF-8 bytes. */
  maxContentBytes?: number;
}

export interface CheckedItem {
  item: MemoryItem & { content: string };
  /** The canonical text of the signed record (without the context line). */
  signedText: string;
  fail(code: MemoryErrorCode, message: string): MemoryItemResult & { ok: false };
}

export const UNKNOWN_KEY = (kid: string): string => `is signed under key "${kid}", which this verifier does not have for this tenant and writer`;
export const CONTENT_ALTERED = "was presented with other content than the content that was signed";
export const SIGNATURE_ALTERED = (writer: string): string => `has a signature that does not verify (the record was changed, or ${writer} never signed it)`;

/** The signed message: the context line, then the canonical record. */
export function signingText(signedText: string): string {
  return `${MEMORY_SIGNING_CONTEXT}\n${signedText}`;
}

/** Shape, signature presence, tenant, writer and size: everything decided before any key or hash. */
export function precheckMemoryItem(value: unknown, options: MemoryCheckOptions): CheckedItem | (MemoryItemResult & { ok: false }) {
  const record = typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const rawId = record?.["id"];
  // Both are echoed in reasons and audit records, so only well-formed values are: an item cannot bloat either.
  const id = typeof rawId === "string" && rawId !== "" && rawId.length <= MEMORY_ID_MAX && isWellFormed(rawId) ? rawId : "?";
  const rawWriter = record?.["writer"];
  const writer = typeof rawWriter === "string" && MEMORY_WRITER_PATTERN.test(rawWriter) ? rawWriter : null;
  const fail = (code: MemoryErrorCode, message: string): MemoryItemResult & { ok: false } => ({ ok: false, id, writer, code, message });

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
  if (options.maxContentBytes !== undefined && utf8Length(item.content) > options.maxContentBytes) {
    return fail("memory_malformed", `has content larger than ${options.maxContentBytes} bytes`);
  }
  return { item, signedText: canonicalize(unsignedPart(item)), fail };
}

/** After the signature verified: the item's validity window and the tenant's maximum age. */
export function checkMemoryItemTimes(checked: CheckedItem, options: MemoryCheckOptions): MemoryItemResult {
  const { item, fail } = checked;
  if (item.written_at > options.now + options.skewSeconds) return fail("memory_not_yet_valid", "is dated in the future");
  if (item.expires_at !== undefined && item.expires_at + options.skewSeconds <= options.now) return fail("memory_expired", "has expired");
  if (options.maxAgeSeconds !== undefined && item.written_at + options.maxAgeSeconds + options.skewSeconds <= options.now) {
    return fail("memory_expired", `is older than the ${options.maxAgeSeconds} s this tenant accepts`);
  }
  return { ok: true, id: item.id, writer: item.writer };
}

/** UTF-8 length of a well-formed string, without encoding it. */
function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code <= 0xdbff) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}
