// Memory items (docs/spec/memory-provenance.md). The record, its validation and its signing bytes are
// the SDK's code (sdk/typescript/src/memory/item.ts); the gateway adds synchronous hashing and Buffers.
import { createHash } from "node:crypto";
import { memorySigningBytes as signingBytes, type UnsignedMemoryItem } from "../../sdk/typescript/src/memory/item.ts";

export {
  MEMORY_ID_MAX,
  MEMORY_SIGNING_CONTEXT,
  MEMORY_TENANT_MAX,
  MEMORY_WRITER_PATTERN,
  memoryItemProblem,
  unsignedPart,
  type MemoryItem,
  type PresentedMemoryItem,
  type UnsignedMemoryItem,
} from "../../sdk/typescript/src/memory/item.ts";

export function contentSha256(content: string): string {
  return createHash("sha256").update(content, "utf8").digest("hex");
}

/** The bytes a writer signs: the context string, a line feed, then the JCS of every field but `signature`. */
export function memorySigningBytes(item: UnsignedMemoryItem): Buffer {
  const bytes = signingBytes(item);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
