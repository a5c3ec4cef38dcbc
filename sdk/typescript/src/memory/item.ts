// Memory items: the record a trusted writer signs when it writes an entry to an agent's memory store
// (RAG chunk, scratchpad entry), and that the agent presents, with the entry's content, on each call
// the entry shaped. Normative text: docs/spec/memory-provenance.md.
import { decodeBase64url } from "../base64url.ts";
import { concatBytes, isWellFormed, utf8 } from "../bytes.ts";
import { KEY_ID_PATTERN } from "../keys.ts";
import { canonicalBytes } from "../jcs.ts";

/** Prefixed to the canonical item before signing, so a memory signature can never be read as another object's. */
export const MEMORY_SIGNING_CONTEXT = "intentgate.memory-item.v1";

export const MEMORY_ID_MAX = 256;
export const MEMORY_TENANT_MAX = 256;
export const MEMORY_WRITER_PATTERN = /^[A-Za-z0-9._:@/-]{1,128}$/;

/** The signed record. Content is not in it: only its SHA-256, so neither the record nor the gateway holds the text. */
export interface MemoryItem {
  id: string;
  tenant: string;
  writer: string;
  /** Lowercase hex SHA-256 of the content's UTF-8 bytes. */
  content_sha256: string;
  /** Unix seconds. */
  written_at: number;
  /** Unix seconds; absent: the item does not expire (a tenant may still bound its age). */
  expires_at?: number;
  /** The key id (of the tenant's key ring) the writer key was derived under. */
  kid: string;
  /** base64url (unpadded) Ed25519 signature, 64 bytes. */
  signature: string;
}

export type UnsignedMemoryItem = Omit<MemoryItem, "signature">;

/** What an agent presents on a call: the signed record plus the content it read. */
export interface PresentedMemoryItem extends MemoryItem {
  content: string;
}

/** The bytes a writer signs: the context string, a line feed, then the JCS of every field but `signature`. */
export function memorySigningBytes(item: UnsignedMemoryItem): Uint8Array {
  return concatBytes(utf8(`${MEMORY_SIGNING_CONTEXT}\n`), canonicalBytes(item));
}

const isTime = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isText = (v: unknown, max: number): v is string => typeof v === "string" && v.length > 0 && v.length <= max && isWellFormed(v);

const SIGNED_FIELDS: Record<keyof MemoryItem, (v: unknown) => boolean> = {
  id: (v) => isText(v, MEMORY_ID_MAX),
  tenant: (v) => isText(v, MEMORY_TENANT_MAX),
  writer: (v) => typeof v === "string" && MEMORY_WRITER_PATTERN.test(v),
  content_sha256: (v) => typeof v === "string" && /^[0-9a-f]{64}$/.test(v),
  written_at: isTime,
  expires_at: isTime,
  kid: (v) => typeof v === "string" && KEY_ID_PATTERN.test(v),
  signature: (v) => typeof v === "string" && decodeBase64url(v)?.length === 64,
};
const OPTIONAL: ReadonlySet<string> = new Set(["expires_at"]);

/**
 * Why a value is not a well-formed item (a signed record, or with `presented` a record plus its
 * `content`), or undefined when it is one. Unknown members are refused: a signature covers exactly
 * the members listed in the spec, so nothing can ride along unsigned.
 */
export function memoryItemProblem(value: unknown, presented: boolean): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "is not an object";
  const record = value as Record<string, unknown>;
  for (const [field, valid] of Object.entries(SIGNED_FIELDS)) {
    if (!Object.hasOwn(record, field)) {
      if (OPTIONAL.has(field)) continue;
      return `has no "${field}"`;
    }
    if (!valid(record[field])) return `has an invalid "${field}"`;
  }
  for (const field of Object.keys(record)) {
    if (Object.hasOwn(SIGNED_FIELDS, field)) continue;
    if (presented && field === "content") continue;
    return `has an unknown member "${field}"`;
  }
  if (presented && (typeof record["content"] !== "string" || !isWellFormed(record["content"]))) return 'has no string "content"';
  const expires = record["expires_at"];
  if (expires !== undefined && (expires as number) <= (record["written_at"] as number)) return "expires before it was written";
  return undefined;
}

/** The signed record of a presented item (drops `content`), keeping only the spec's members. */
export function unsignedPart(item: MemoryItem): UnsignedMemoryItem {
  const unsigned: UnsignedMemoryItem = {
    id: item.id,
    tenant: item.tenant,
    writer: item.writer,
    content_sha256: item.content_sha256,
    written_at: item.written_at,
    kid: item.kid,
  };
  if (item.expires_at !== undefined) unsigned.expires_at = item.expires_at;
  return unsigned;
}
